// The seed's browser flow: the server creates an Elements Checkout Session and hands its client
// secret to Stripe.js; every cart change is a call to one of our functions wrapped in
// `checkout.runServerUpdate(...)`, and the page shows the session that call resolves with.
// Query string (see README.md): api, prices | client_secret, offers, labels, pk, preview, routes.

import { createCheckoutStandIn, SERVER_UPDATE_TIMEOUT_MS } from './checkout-standin.js';

const STRIPE_JS_URL = 'https://js.stripe.com/clover/stripe.js';
const STRIPE_JS_LOAD_TIMEOUT_MS = 8_000;

// One click is one change: every attempt of it carries the same Idempotency-Key, so the server
// applies it at most once and a retry after a lost answer gets the stored answer back. Retried:
// no answer at all, 409 session_busy / request_in_progress / stock_busy (after Retry-After), 429
// and 5xx (after Retry-After, else after a backoff). Bounded in attempts and in time: all of it
// runs inside Stripe.js's runServerUpdate, which gives up after 20 s.
const RETRY = {
  attempts: 4,
  // Backoff when the answer says nothing: 0.5 s, 1 s, 2 s, each less up to a quarter (jitter).
  baseDelayMs: 500,
  // A longer Retry-After is not waited for: the shopper is told to try again instead.
  maxDelayMs: 5_000,
  budgetMs: SERVER_UPDATE_TIMEOUT_MS - 2_000,
};
const RETRY_LATER_CODES = new Set(['session_busy', 'request_in_progress', 'stock_busy']);

// What the shopper reads when an answer says "later" and retrying did not help. Other errors
// show the server's own `message`, which is written for shoppers (e.g. out_of_stock).
const SHOPPER_MESSAGES = {
  session_busy: 'Your cart is being changed in another tab or window. Please try again in a moment.',
  request_in_progress: 'Your last change is still being saved. Please try again in a moment.',
  stock_busy: 'This product is in high demand right now. Please try again in a moment.',
  payment_provider_unavailable:
    'Our payment provider is not answering right now. Please try again in a moment.',
  internal_error: 'Something went wrong on our side. Please try again in a moment.',
};
const BUSY_MESSAGE = 'The shop is very busy right now. Please try again in a moment.';
const UNAVAILABLE_MESSAGE = 'The shop is not answering right now. Please try again in a moment.';
const UNREACHABLE_MESSAGE =
  'We could not reach the shop. Please check your connection and try again.';

// [function, route]: locally each function has its own URL (`{api}/{function}/{route}`, as
// `cargo lambda watch` serves them); behind the deployed HTTP API only the route counts.
const ENDPOINTS = {
  create: ['create-session', 'checkout-sessions'],
  interval: ['change-interval', 'change-subscription-interval'],
  quantity: ['update-quantity', 'update-quantity'],
  crossSell: ['add-cross-sell', 'add-cross-sell'],
};

const $ = (id) => document.getElementById(id);
const ui = {
  alert: $('alert'),
  status: $('status'),
  controls: $('controls'),
  cart: $('cart'),
  lines: $('lines'),
  total: $('total'),
  sessionId: $('session-id'),
  mode: $('mode'),
  offersSection: $('offers-section'),
  offers: $('offers'),
  intervalButtons: [...document.querySelectorAll('button[data-interval]')],
};

const config = readConfig(new URLSearchParams(location.search));
let checkout = null; // Stripe.js actions or the stand-in
let sessionId = null;
let busy = false;
let confirmedInterval = null; // the interval of the last change the server accepted

start().catch((error) => {
  console.error(error);
  fail('This page could not start. Please reload it.');
});

function readConfig(params) {
  const list = (value) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const labels = new Map();
  for (const entry of list(params.get('labels'))) {
    const at = entry.indexOf(':');
    if (at > 0) labels.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return {
    api: (params.get('api') ?? '').replace(/\/+$/, ''),
    gateway: params.get('routes') === 'gateway',
    // `price_a:2,price_b` (quantity 1 when left out)
    items: list(params.get('prices')).map((entry) => {
      const [price, quantity] = entry.split(':');
      return { price, quantity: quantity === undefined ? 1 : Number(quantity) };
    }),
    clientSecret: params.get('client_secret'),
    offers: list(params.get('offers')),
    labels,
    pk: params.get('pk'),
    preview: params.get('preview') === '1',
  };
}

async function start() {
  if (!config.api) {
    return fail('Open this page with ?api=<base URL of the functions>&prices=<price:qty,…>.');
  }
  let created = null;
  let clientSecret = config.clientSecret;
  if (!clientSecret) {
    if (config.items.length === 0) {
      return fail('Say what the cart holds: ?prices=<price:qty,…> (or ?client_secret= with ?pk=).');
    }
    ui.status.textContent = 'Creating your cart…';
    // Before Stripe.js: the session it would be initialised with does not exist yet.
    const answer = await post(ENDPOINTS.create, { items: config.items }).catch(() => null);
    if (answer?.body?.type !== 'success') {
      return fail(answer ? shopperMessage(answer) : UNREACHABLE_MESSAGE);
    }
    created = answer.body.session;
    clientSecret = created.client_secret;
  }
  sessionId = created?.id ?? clientSecret.split('_secret_')[0];
  ui.sessionId.textContent = sessionId;

  const stripe = config.pk && clientSecret ? await loadStripeCheckout(clientSecret) : null;
  if (stripe) {
    checkout = stripe;
    ui.mode.textContent = 'Stripe.js';
  } else if (created) {
    checkout = createCheckoutStandIn(created);
    ui.mode.textContent = 'offline stand-in for Stripe.js';
  } else {
    return fail('Stripe.js did not load, and only Stripe.js can read an existing session: open this page with ?prices= instead.');
  }

  wireControls();
  render(checkout.getSession());
  ui.status.textContent = '';
  setBusy(false);
  document.body.dataset.state = 'ready';
}

// Real Stripe.js, when a publishable key is given and the script loads; null otherwise.
async function loadStripeCheckout(clientSecret) {
  try {
    await loadScript(STRIPE_JS_URL, STRIPE_JS_LOAD_TIMEOUT_MS);
    const options = config.preview ? { betas: ['custom_checkout_server_updates_1'] } : {};
    const stripe = window.Stripe(config.pk, options);
    if (typeof stripe.initCheckoutElementsSdk === 'function') {
      const sdk = stripe.initCheckoutElementsSdk({ clientSecret });
      const loaded = await sdk.loadActions();
      if (loaded.type !== 'success') throw new Error(loaded.error?.message ?? 'loadActions failed');
      sdk.on('change', (session) => render(session));
      return loaded.actions;
    }
    // Older Stripe.js releases (basil): the checkout object carries the actions itself.
    const legacy = await stripe.initCheckout({ fetchClientSecret: async () => clientSecret });
    legacy.on?.('change', (session) => render(session));
    return { runServerUpdate: (fn) => legacy.runServerUpdate(fn), getSession: () => legacy.session() };
  } catch (error) {
    console.warn('Stripe.js unavailable, using the offline stand-in:', error);
    return null;
  }
}

function loadScript(src, timeoutMs) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    const timer = setTimeout(() => reject(new Error(`${src} did not load in time`)), timeoutMs);
    script.src = src;
    script.onload = () => { clearTimeout(timer); resolve(); };
    script.onerror = () => { clearTimeout(timer); reject(new Error(`${src} failed to load`)); };
    document.head.append(script);
  });
}

function wireControls() {
  for (const button of ui.intervalButtons) {
    button.addEventListener('click', () => {
      const interval = button.dataset.interval;
      update(ENDPOINTS.interval, { checkout_session_id: sessionId, interval }, () => {
        confirmedInterval = interval;
      });
    });
  }
  // Row and offer buttons are re-created on every render: one delegated listener each.
  ui.lines.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-step]');
    if (!button) return;
    const quantity = Number(button.dataset.quantity) + Number(button.dataset.step);
    update(ENDPOINTS.quantity, {
      checkout_session_id: sessionId,
      line_item_id: button.dataset.lineItem,
      quantity,
    });
  });
  ui.offers.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-offer]');
    if (!button) return;
    update(ENDPOINTS.crossSell, { checkout_session_id: sessionId, price_id: button.dataset.offer });
  });
}

// One cart change: our function called inside runServerUpdate, exactly as Stripe's docs do, with
// the click's retries inside it.
async function update(endpoint, body, onAccepted = () => {}) {
  if (busy) return; // a second click while the first is in flight does nothing
  const focusKey = document.activeElement?.dataset?.focusKey;
  setBusy(true);
  clearAlert();
  ui.status.textContent = 'Updating your cart…';
  const key = newIdempotencyKey(); // this click's, kept by its retries
  let answer = null; // what our server said last, read apart from what Stripe.js resolves
  let unreachable = false;
  try {
    const result = await checkout.runServerUpdate(async () => {
      try {
        const response = await sendWithRetries(endpoint, body, key);
        answer = { status: response.status, body: await readJson(response) };
        return response;
      } catch (error) {
        unreachable = true;
        throw error;
      }
    });
    // Real Stripe.js may resolve success with the unchanged session even when our server said
    // no, so the server's own error wins.
    const refused = answer && (answer.status >= 400 || answer.body?.type === 'error');
    if (result.type === 'success') render(result.session);
    if (result.type === 'success' && !refused) {
      onAccepted();
      renderInterval();
      ui.status.textContent = 'Cart updated.';
    } else {
      showAlert(refused ? shopperMessage(answer)
        : result.error?.message ?? 'Your cart could not be updated. Please try again.');
      ui.status.textContent = '';
    }
  } catch (error) {
    console.error(error);
    showAlert(unreachable ? UNREACHABLE_MESSAGE : 'Your cart could not be updated. Please try again.');
    ui.status.textContent = '';
  } finally {
    setBusy(false);
    // Disabling the controls took the focus away: give it back to the same control.
    if (focusKey) document.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }
}

// Sends one change until it has a final answer, every attempt with the click's `key`. Resolves the
// last Response; rejects when the last attempt got no answer at all (network, timeout).
async function sendWithRetries(endpoint, body, key) {
  const deadline = Date.now() + RETRY.budgetMs;
  for (let attempt = 1; ; attempt += 1) {
    let response = null;
    let failure = null;
    try {
      response = await send(endpoint, body, key, deadline - Date.now());
    } catch (error) {
      failure = error; // the server may still have run it: the retry's key finds out
    }
    const delay = response ? await retryDelay(response, attempt) : backoff(attempt);
    const last = delay === null || attempt >= RETRY.attempts || Date.now() + delay >= deadline;
    if (last) {
      if (failure) throw failure;
      return response;
    }
    ui.status.textContent = 'Still working on your cart…';
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

// How long to wait before retrying this answer, or null when it is final.
async function retryDelay(response, attempt) {
  const { status } = response;
  // Read in full every time: an answer left unread is cut off when its attempt's timeout fires.
  const body = await readJson(response);
  const retryable = status === 409 ? RETRY_LATER_CODES.has(body?.code) : status === 429 || status >= 500;
  if (!retryable) return null;
  const seconds = retryAfterSeconds(response.headers.get('Retry-After'));
  if (seconds === null) return backoff(attempt);
  const delay = seconds * 1000;
  return delay <= RETRY.maxDelayMs ? delay : null;
}

// Retry-After in seconds (delta-seconds or an HTTP date), null when absent or unreadable.
// Cross-origin, the browser shows it only if the answer exposes it (the deployed API does).
function retryAfterSeconds(value) {
  if (value === null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

function backoff(attempt) {
  const full = RETRY.baseDelayMs * 2 ** (attempt - 1);
  return Math.round(full * (0.75 + Math.random() / 4));
}

function send(endpoint, body, key, timeoutMs = SERVER_UPDATE_TIMEOUT_MS) {
  const headers = { 'Content-Type': 'application/json' };
  if (key) headers['Idempotency-Key'] = key;
  return fetch(endpointUrl(endpoint), {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
  });
}

// create-session is not a server update (no checkout exists yet): a plain call, one key.
async function post(endpoint, body) {
  const response = await sendWithRetries(endpoint, body, newIdempotencyKey());
  return { status: response.status, body: await readJson(response) };
}

function readJson(response) {
  return response.clone().json().catch(() => null);
}

// The words for a final error answer.
function shopperMessage({ status, body }) {
  const code = body?.type === 'error' ? body.code : null;
  if (code && SHOPPER_MESSAGES[code]) return SHOPPER_MESSAGES[code];
  if (code && typeof body.message === 'string' && body.message) return body.message;
  if (status === 429) return BUSY_MESSAGE;
  if (status >= 500) return UNAVAILABLE_MESSAGE;
  return 'Your cart could not be updated. Please try again.';
}

function endpointUrl([fn, route]) {
  return config.gateway ? `${config.api}/${route}` : `${config.api}/${fn}/${route}`;
}

function newIdempotencyKey() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID needs a secure context (https or localhost); getRandomValues does not.
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
}

// Our functions answer snake_case (session view of openapi.yaml); Stripe.js camelCase.
function normalize(session) {
  if (Array.isArray(session.lineItems)) {
    return {
      currency: session.currency,
      total: session.total?.total?.minorUnitsAmount ?? null,
      items: session.lineItems.map((li) => ({
        id: li.id,
        price: null,
        name: li.name,
        quantity: li.quantity,
        amount: li.total?.minorUnitsAmount ?? null,
      })),
    };
  }
  return {
    currency: session.currency,
    total: session.amount_total,
    items: (session.line_items ?? []).map((li) => ({
      id: li.id,
      price: li.price,
      name: config.labels.get(li.price) ?? li.price,
      quantity: li.quantity,
      amount: li.amount_total,
    })),
  };
}

// Always what the server (or Stripe) answered: the page keeps no cart of its own.
function render(session) {
  const cart = normalize(session);
  const money = formatter(cart.currency);
  ui.lines.replaceChildren(...cart.items.map((item) => lineRow(item, money)));
  ui.total.textContent = money(cart.total);
  ui.total.dataset.amount = String(cart.total ?? '');
  renderOffers(new Set(cart.items.map((item) => item.price)));
  ui.cart.setAttribute('aria-busy', 'false');
}

function lineRow(item, money) {
  const row = document.createElement('tr');
  row.dataset.lineItem = item.id;
  if (item.price) row.dataset.price = item.price;
  row.dataset.quantity = String(item.quantity);
  row.dataset.amount = String(item.amount ?? '');

  const name = document.createElement('th');
  name.scope = 'row';
  name.textContent = item.name;
  if (item.quantity > 0 && item.amount !== null) {
    const unit = document.createElement('div');
    unit.className = 'muted';
    unit.textContent = `${money(item.amount / item.quantity)} each`;
    name.append(unit);
  }

  const stepper = document.createElement('span');
  stepper.className = 'stepper';
  const quantity = document.createElement('output');
  quantity.textContent = String(item.quantity);
  quantity.setAttribute('aria-label', `Quantity of ${item.name}`);
  stepper.append(
    stepButton(item, -1, '−', `Decrease quantity of ${item.name}`),
    quantity,
    stepButton(item, +1, '+', `Increase quantity of ${item.name}`),
  );
  const quantityCell = document.createElement('td');
  quantityCell.append(stepper);

  const amount = document.createElement('td');
  amount.className = 'num';
  amount.textContent = money(item.amount);

  row.append(name, quantityCell, amount);
  return row;
}

function stepButton(item, step, text, label) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = text;
  button.setAttribute('aria-label', label);
  button.dataset.step = String(step);
  button.dataset.quantity = String(item.quantity);
  button.dataset.lineItem = item.id;
  button.dataset.focusKey = `${item.id}:${step}`;
  return button;
}

function renderOffers(inCart) {
  ui.offersSection.hidden = config.offers.length === 0;
  ui.offers.replaceChildren(...config.offers.map((price) => {
    const name = config.labels.get(price) ?? price;
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.offer = price;
    button.dataset.focusKey = `offer:${price}`;
    // Known only from our server's answers (Stripe.js line items carry no price id).
    const added = inCart.has(price);
    button.disabled = added;
    button.textContent = added ? `${name} — in your cart` : `Add ${name}`;
    const entry = document.createElement('li');
    entry.append(button);
    return entry;
  }));
}

function renderInterval() {
  for (const button of ui.intervalButtons) {
    button.setAttribute('aria-pressed', String(button.dataset.interval === confirmedInterval));
  }
}

function formatter(currency) {
  if (!currency) return (amount) => (amount === null || amount === undefined ? '—' : String(amount));
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() });
  // Amounts are in the currency's smallest unit (cents for usd, yen for jpy).
  const divisor = 10 ** format.resolvedOptions().maximumFractionDigits;
  return (amount) => (amount === null || amount === undefined ? '—' : format.format(amount / divisor));
}

function setBusy(value) {
  busy = value;
  ui.controls.disabled = value;
  ui.cart.setAttribute('aria-busy', String(value));
  document.body.dataset.busy = String(value);
}

function showAlert(message) {
  ui.alert.textContent = message;
}

function clearAlert() {
  ui.alert.textContent = '';
}

function fail(message) {
  showAlert(message);
  ui.status.textContent = '';
  ui.mode.textContent = 'not started';
  document.body.dataset.state = 'failed';
}
