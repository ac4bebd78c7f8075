// A stand-in for the Stripe.js checkout actions, used when Stripe.js cannot load (no publishable
// key, or no network, as on the machines that run the tests). It offers what this page uses:
// `runServerUpdate(fn)` and `getSession()`.
//
// The one real difference: after `fn` resolves, real Stripe.js ignores its value and re-fetches the
// Checkout Session from Stripe (the server must already have updated it there), so the session it
// resolves with is Stripe's. This stand-in cannot reach Stripe, so it takes the session from the
// body the server answered ({type:"success", session}), which is the same cart: the functions
// answer with the session as Stripe returned it after the update. Stripe.js does not document how
// it treats a non-2xx Response; the stand-in counts it, or a {type:"error"} body, as a failure.

/** Stripe.js gives the server update 20 seconds, then answers an error. */
export const SERVER_UPDATE_TIMEOUT_MS = 20_000;

const TIMED_OUT = Symbol('timed out');

/** @param {object | null} initialSession the cart as create-session answered it */
export function createCheckoutStandIn(initialSession, timeoutMs = SERVER_UPDATE_TIMEOUT_MS) {
  let session = initialSession;
  return {
    standIn: true,
    getSession: () => session,
    /**
     * Runs `userFunction`; rejects when it rejects (as Stripe.js: wrap calls in try/catch),
     * resolves `{type:"success", session}` or `{type:"error", error:{message, code:null}}`.
     */
    async runServerUpdate(userFunction) {
      let timer;
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
      });
      let value;
      try {
        value = await Promise.race([userFunction(), timeout]);
      } finally {
        clearTimeout(timer);
      }
      if (value === TIMED_OUT) {
        return failure('The update took too long. Your cart may not have changed; please try again.');
      }
      const { ok, status, body } = await readAnswer(value);
      if (!ok || body?.type === 'error') {
        return failure(messageOf(body) ?? `The server answered ${status}.`);
      }
      if (body?.type !== 'success' || typeof body.session !== 'object' || body.session === null) {
        return failure('The server answered something this page does not understand.');
      }
      session = body.session;
      return { type: 'success', session };
    },
  };
}

function failure(message) {
  return { type: 'error', error: { message, code: null } };
}

// The function may resolve a fetch Response (as in Stripe's docs) or an already parsed body.
async function readAnswer(value) {
  if (typeof Response !== 'undefined' && value instanceof Response) {
    // A clone, so the caller can still read the body it returned.
    const text = await value.clone().text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    return { ok: value.ok, status: value.status, body };
  }
  return { ok: true, status: 200, body: value };
}

// Our functions answer `message`; other layers (API Gateway, cargo-lambda) use `message`,
// `title` or `detail`.
function messageOf(body) {
  if (body === null || typeof body !== 'object') return null;
  for (const key of ['message', 'title', 'detail']) {
    if (typeof body[key] === 'string' && body[key].length > 0) return body[key];
  }
  return null;
}
