// Drives web/index.html in headless Debian Chromium through the seed's flow against a running
// local stack, and exits 0 only when every step showed what the server answered.
//
//   node web/test/browser.mjs '<spec JSON>'
//
// spec: { url, screenshotDir, stripe: the Stripe emulator's base URL (its fault injection),
//         exposeHeaders: the response headers the deployed API exposes to pages (template.yaml),
//         catalog: { monthly, yearly, tee, offer, addon: price ids },
//         amounts: { monthly, yearly, tee, offer, addon: unit amounts in cents } }
// The page must have been opened on a cart of the monthly plan ×1 and the T-shirt ×2 whose
// SKU has exactly 3 units in stock, `offer` a one-time cross-sell in stock and `addon` a monthly
// plan add-on offered to it, against functions that wait 8 s for a Stripe answer and run two
// instances each (a retry runs beside the attempt it repeats); tests/tests/browser.rs sets that
// up. Last line printed on success: `RESULT {session, total, items:[{lineItem, price, quantity,
// amount}]}`.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ACTION_TIMEOUT_MS = 10_000;
// Above the page's own 20 s server-update timeout, so the page's answer to it can be seen.
const RESPONSE_TIMEOUT_MS = 25_000;
const OVERALL_TIMEOUT_MS = 170_000;

const spec = JSON.parse(process.argv[2] ?? 'null');
if (!spec?.url || !spec?.stripe || !spec?.catalog || !spec?.amounts) {
  console.error("usage: node web/test/browser.mjs '{\"url\":…,\"stripe\":…,\"screenshotDir\":…,\"catalog\":…,\"amounts\":…}'");
  process.exit(2);
}
const screenshotDir = spec.screenshotDir ?? '.';
const { catalog: price, amounts } = spec;

// Never hang: whatever is stuck, the process ends (Playwright kills the browser on exit).
const watchdog = setTimeout(() => {
  console.error(`FAIL: the whole run took more than ${OVERALL_TIMEOUT_MS / 1000} s`);
  process.exit(3);
}, OVERALL_TIMEOUT_MS);

const log = (...parts) => console.log(new Date().toISOString().slice(11, 23), ...parts);

class StepFailure extends Error {}
function check(condition, message) {
  if (!condition) throw new StepFailure(message);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'cart-browser-'));
mkdirSync(screenshotDir, { recursive: true });
let context = null;
let page = null;
let exitCode = 0;

try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout: 30_000,
    viewport: { width: 900, height: 760 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Anything not on loopback goes to a port where nothing listens, and fails at once:
      // this run talks to 127.0.0.1 only (loopback bypasses the proxy).
      '--proxy-server=http://127.0.0.1:9',
    ],
  });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  // `cargo lambda watch` answers CORS without Access-Control-Expose-Headers, so a cross-origin
  // page could not read Retry-After; the deployed HTTP API exposes spec.exposeHeaders. Every
  // answer of a function gets that header here, as API Gateway sends it.
  if (spec.exposeHeaders?.length) {
    await context.route((url) => url.pathname.startsWith('/lambda-url/'), async (route) => {
      if (route.request().method() === 'OPTIONS') return route.continue();
      const response = await route.fetch();
      return route.fulfill({
        response,
        headers: { ...response.headers(), 'access-control-expose-headers': spec.exposeHeaders.join(', ') },
      });
    });
  }
  page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => log(`[page ${message.type()}]`, message.text()));
  // Records every fetch the page makes with the state of its controls at that moment, so the
  // test can tell that buttons were disabled while a call was in flight.
  await page.addInitScript(() => {
    const original = window.fetch;
    window.__calls = [];
    window.fetch = function (input, init) {
      window.__calls.push({
        url: String(input),
        controlsDisabled: document.getElementById('controls')?.disabled ?? null,
        key: new Headers(init?.headers).get('Idempotency-Key'),
      });
      return original.apply(this, arguments);
    };
  });

  await step('the page creates the cart and shows it', async () => {
    await page.goto(spec.url, { waitUntil: 'load' });
    await page.waitForFunction(() => document.body.dataset.state !== undefined, null,
      { timeout: RESPONSE_TIMEOUT_MS });
    const state = await page.evaluate(() => document.body.dataset.state);
    check(state === 'ready', `the page did not start: ${await alertText()}`);
    const cart = await readCart();
    check(cart.mode.includes('stand-in'), `expected the Stripe.js stand-in, page says ${cart.mode}`);
    expectCart(cart, [[price.monthly, 1], [price.tee, 2]]);
    check(cart.alert === '', `unexpected alert: ${cart.alert}`);
    await checkAccessibility();
  });

  await step('yearly: the plan becomes the yearly price', async () => {
    const answer = await act(page.getByRole('button', { name: 'Yearly', exact: true }), 'change-interval');
    check(answer.status === 200, `change-interval answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const cart = await readCart();
    expectCart(cart, [[price.yearly, 1], [price.tee, 2]]);
    check(cart.total === amounts.yearly + 2 * amounts.tee, `total ${cart.total}`);
    check(cart.totalText === money(amounts.yearly + 2 * amounts.tee), `total shown as ${cart.totalText}`);
    check(await pressed('Yearly') === 'true' && await pressed('Monthly') === 'false',
      'the Yearly button is not shown as chosen');
    // The browser really sent the preflighted headers cross-origin, and the answer allowed it.
    check(answer.headers['access-control-allow-origin'] !== undefined, 'no CORS header on the answer');
  });

  await step('monthly again', async () => {
    const answer = await act(page.getByRole('button', { name: 'Monthly', exact: true }), 'change-interval');
    check(answer.status === 200, `change-interval answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const cart = await readCart();
    expectCart(cart, [[price.monthly, 1], [price.tee, 2]]);
    check(cart.total === amounts.monthly + 2 * amounts.tee, `total ${cart.total}`);
  });

  await step('+ on the T-shirt (double-clicked: one request)', async () => {
    const before = await callCount('/update-quantity/');
    const answer = await act(page.getByRole('button', { name: 'Increase quantity of T-shirt' }),
      'update-quantity', { clickCount: 2 });
    check(answer.status === 200, `update-quantity answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const cart = await readCart();
    expectCart(cart, [[price.monthly, 1], [price.tee, 3]]);
    check(cart.total === amounts.monthly + 3 * amounts.tee, `total ${cart.total}`);
    check(cart.quantityShown[price.tee] === '3', `quantity shown as ${cart.quantityShown[price.tee]}`);
    check(await callCount('/update-quantity/') === before + 1, 'a double click sent two updates');
  });

  await step('− back on the T-shirt', async () => {
    const answer = await act(page.getByRole('button', { name: 'Decrease quantity of T-shirt' }), 'update-quantity');
    check(answer.status === 200, `update-quantity answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const cart = await readCart();
    expectCart(cart, [[price.monthly, 1], [price.tee, 2]]);
    check(cart.total === amounts.monthly + 2 * amounts.tee, `total ${cart.total}`);
  });

  await step('beyond the stock: the error is shown and the cart stays', async () => {
    const increase = page.getByRole('button', { name: 'Increase quantity of T-shirt' });
    const third = await act(increase, 'update-quantity');
    check(third.status === 200, `the third T-shirt (in stock) was refused: ${JSON.stringify(third.body)}`);
    const before = await readCart();
    expectCart(before, [[price.monthly, 1], [price.tee, 3]]);
    const fourth = await act(increase, 'update-quantity');
    check(fourth.status === 409 && fourth.body?.code === 'out_of_stock',
      `a fourth T-shirt (3 in stock) answered ${fourth.status}: ${JSON.stringify(fourth.body)}`);
    const after = await readCart();
    check(after.alert === fourth.body.message,
      `alert shows ${JSON.stringify(after.alert)}, the server said ${JSON.stringify(fourth.body.message)}`);
    check(JSON.stringify(after.items) === JSON.stringify(before.items) && after.total === before.total,
      'the cart changed after a refused update');
  });

  await step('beyond the bounds: the plan cannot go to 0', async () => {
    const before = await readCart();
    const answer = await act(page.getByRole('button', { name: 'Decrease quantity of Pro plan (monthly)' }),
      'update-quantity');
    check(answer.status === 422, `removing the plan answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const after = await readCart();
    check(after.alert === answer.body.message, `alert shows ${JSON.stringify(after.alert)}`);
    check(JSON.stringify(after.items) === JSON.stringify(before.items), 'the cart changed');
  });

  await step('cross-sell: the offer lands in the cart', async () => {
    await addOffer('Mug', price.offer, amounts.offer);
  });

  await step('cross-sell of a plan add-on (recurring, follows the plan)', async () => {
    await addOffer('Priority support', price.addon, amounts.addon);
  });

  await step('every call had its own Idempotency-Key and ran with the controls disabled', async () => {
    const calls = await page.evaluate(() => window.__calls);
    const updates = calls.filter((call) => !call.url.includes('/checkout-sessions'));
    check(updates.length === 9, `expected 9 server updates, saw ${updates.length}`);
    const keys = calls.map((call) => call.key);
    check(keys.every((key) => /^[0-9a-f-]{32,36}$/.test(key ?? '')), `bad keys: ${keys}`);
    check(new Set(keys).size === keys.length, 'an Idempotency-Key was reused');
    check(updates.every((call) => call.controlsDisabled === true), 'a call ran with the controls enabled');
    check(calls.every((call) => call.url.startsWith('http://127.0.0.1:')), 'a call left 127.0.0.1');
    check(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
  });

  await step('an answer lost on the way: the click is retried with its key, waits out 409 '
    + 'request_in_progress for its Retry-After, and is answered once (replayed)', async () => {
    const session = (await readCart()).session;
    const applied = await stripeUpdates(session);
    // The first attempt's Stripe update takes 4.5 s, so the retry finds it still running.
    await stripeFault({ method: 'POST', path_prefix: `/v1/checkout/sessions/${session}`,
      latency_ms: 4_500, count: 1 });
    let original = null;
    const lose = async (route) => {
      const request = route.request();
      if (request.method() !== 'POST' || original) return route.fallback();
      // The request reaches the function; its answer never reaches the page (a dropped
      // connection, a phone going through a tunnel).
      const headers = request.headers();
      original = fetch(request.url(), {
        method: 'POST',
        headers: { 'content-type': headers['content-type'], 'idempotency-key': headers['idempotency-key'] },
        body: request.postData(),
      }).then((response) => ({ status: response.status, key: headers['idempotency-key'] }));
      return route.abort('connectionreset');
    };
    const matcher = (url) => url.pathname.includes('/update-quantity/');
    await page.route(matcher, lose);
    let attempts;
    try {
      attempts = await clickTracked(page.getByRole('button', { name: 'Decrease quantity of T-shirt' }),
        'update-quantity');
    } finally {
      await page.unroute(matcher, lose);
    }
    const first = await original;
    check(first?.status === 200, `the lost attempt answered ${first?.status} at the function`);
    checkRetries(attempts);
    check(attempts[0].key === first.key, 'the retries did not send the lost attempt\'s key');
    check(attempts.length === 3, `expected 3 attempts (lost, 409, replay), saw ${describe(attempts)}`);
    check(attempts[0].failed, `the first attempt was not lost: ${describe(attempts)}`);
    check(attempts[1].status === 409 && attempts[1].code === 'request_in_progress'
      && attempts[1].retryAfter === '1', `the second attempt: ${describe(attempts)}`);
    check(attempts[2].status === 200 && attempts[2].replayed === 'true',
      `the last attempt was not the stored answer: ${describe(attempts)}`);
    check(await stripeUpdates(session) === applied + 1, 'Stripe did not apply the change exactly once');
    const cart = await readCart();
    check(cart.items.find((item) => item.price === price.tee)?.quantity === 2,
      `T-shirts: ${JSON.stringify(cart.items)}`);
    check(cart.alert === '', `unexpected alert: ${cart.alert}`);
  });

  await step('Stripe down for a moment: the 5xx answer is retried with the same key after a '
    + 'backoff, and applied once', async () => {
    const session = (await readCart()).session;
    const applied = await stripeUpdates(session);
    await stripeFault({ method: 'POST', path_prefix: `/v1/checkout/sessions/${session}`,
      status: 500, count: 1_000 });
    // Stripe is back as soon as the page has seen the failure: its retry goes through.
    const recovered = page.waitForResponse(
      (response) => response.url().includes('/update-quantity/') && response.status() >= 500,
      { timeout: RESPONSE_TIMEOUT_MS },
    ).then(() => clearStripeFaults()).then(() => null, (error) => error);
    let attempts;
    try {
      attempts = await clickTracked(page.getByRole('button', { name: 'Increase quantity of T-shirt' }),
        'update-quantity');
    } finally {
      await clearStripeFaults();
    }
    const missed = await recovered;
    check(missed === null, `no 5xx reached the page: ${missed?.message}`);
    checkRetries(attempts);
    check(attempts[0].status >= 500, `the first attempt: ${describe(attempts)}`);
    check(attempts.at(-1).status === 200 && attempts.at(-1).replayed !== 'true',
      `the last attempt: ${describe(attempts)}`);
    check(attempts[1].sentAt - attempts[0].answeredAt >= 300,
      `retried ${attempts[1].sentAt - attempts[0].answeredAt} ms after the 5xx: no backoff`);
    check(await stripeUpdates(session) === applied + 1, 'Stripe did not apply the change exactly once');
    const cart = await readCart();
    check(cart.items.find((item) => item.price === price.tee)?.quantity === 3,
      `T-shirts: ${JSON.stringify(cart.items)}`);
    check(cart.alert === '', `unexpected alert: ${cart.alert}`);
  });

  await step('Stripe down for good: a bounded number of attempts, then the shopper is told in words',
    async () => {
      const session = (await readCart()).session;
      const before = await readCart();
      const applied = await stripeUpdates(session);
      await stripeFault({ method: 'POST', path_prefix: `/v1/checkout/sessions/${session}`,
        status: 500, count: 1_000 });
      let attempts;
      try {
        attempts = await clickTracked(page.getByRole('button', { name: 'Yearly', exact: true }),
          'change-interval');
      } finally {
        await clearStripeFaults();
      }
      checkRetries(attempts);
      check(attempts.length >= 2 && attempts.length <= 4, `attempts: ${describe(attempts)}`);
      check(attempts.every((attempt) => attempt.status >= 500 || attempt.status === 409),
        `attempts: ${describe(attempts)}`);
      // The page's words for the last answer: the outage, or the session still held for a
      // late Stripe write after it.
      const words = {
        payment_provider_unavailable:
          'Our payment provider is not answering right now. Please try again in a moment.',
        session_busy: 'Your cart is being changed in another tab or window. Please try again in a moment.',
      }[attempts.at(-1).code];
      const after = await readCart();
      check(words !== undefined && after.alert === words,
        `the shopper read ${JSON.stringify(after.alert)} after ${describe(attempts)}`);
      check(JSON.stringify(after.items) === JSON.stringify(before.items), 'the cart changed');
      check(await pressed('Monthly') === 'true', 'the interval shown changed');
      check(await stripeUpdates(session) === applied, 'Stripe applied a change');
    });

  await screenshot('browser');
  const cart = await readCart();

  await step('with ?pk= but Stripe.js unreachable, the page falls back to the stand-in', async () => {
    const other = await context.newPage();
    const blocked = [];
    other.on('requestfailed', (request) => blocked.push(request.url()));
    const url = new URL(spec.url);
    url.searchParams.set('prices', `${price.monthly}:1`); // a cart of its own, no stock needed
    url.searchParams.set('pk', 'pk_test_offline');
    await other.goto(url.href, { waitUntil: 'load' });
    await other.waitForFunction(() => document.body.dataset.state !== undefined, null,
      { timeout: RESPONSE_TIMEOUT_MS });
    const mode = await other.evaluate(() => document.getElementById('mode').textContent);
    check(mode.includes('stand-in'), `the page says ${mode}`);
    check(blocked.some((u) => u.startsWith('https://js.stripe.com/')),
      `Stripe.js was not tried (or not blocked): ${JSON.stringify(blocked)}`);
    await other.close();
  });
  console.log(`RESULT ${JSON.stringify({ session: cart.session, total: cart.total, items: cart.items })}`);
} catch (error) {
  exitCode = 1;
  console.error(`FAIL: ${error instanceof StepFailure ? error.message : error.stack ?? error}`);
  if (page) {
    console.error(`page alert: ${JSON.stringify(await alertText().catch(() => '?'))}`);
    await screenshot('browser-failure').catch((e) => console.error(`no screenshot: ${e.message}`));
  }
} finally {
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
  clearTimeout(watchdog);
}
process.exit(exitCode);

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    throw new StepFailure(`${name}: ${error.message}`);
  }
  log(`ok   ${name} (${Date.now() - started} ms)`);
}

// Clicks and waits for the function's answer and for the page to have rendered it.
async function act(locator, fn, clickOptions = {}) {
  const answered = page.waitForResponse(
    (response) => response.url().includes(`/${fn}/`) && response.request().method() === 'POST',
    { timeout: RESPONSE_TIMEOUT_MS },
  );
  await locator.click(clickOptions);
  const response = await answered;
  const text = await response.text().catch(() => '');
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  await page.waitForFunction(() => document.body.dataset.busy === 'false', null,
    { timeout: RESPONSE_TIMEOUT_MS });
  return { status: response.status(), body, headers: response.headers() };
}

// Clicks an offer's button; the offer must then be a line of the cart, and its button say so.
async function addOffer(name, offerPrice, unitAmount) {
  const before = await readCart();
  let answer;
  try {
    answer = await act(page.getByRole('button', { name: `Add ${name}`, exact: true }), 'add-cross-sell');
  } catch (error) {
    throw new StepFailure('add-cross-sell did not answer within '
      + `${RESPONSE_TIMEOUT_MS / 1000} s: does the stack start the add-cross-sell function `
      + `(Stack::start's function list in tests/src/lib.rs)? (${error.message})`);
  }
  // cargo-lambda answers a function it does not know with its own 404 (not our error shape).
  const missing = answer.status === 404 && answer.body?.type !== 'error';
  check(!missing, 'add-cross-sell does not exist: its function URL answered 404 '
    + `${JSON.stringify(answer.body)} (cargo-lambda's "function not found"). Add `
    + 'functions/add-cross-sell and start it in Stack::start.');
  check(answer.status === 200, `add-cross-sell answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const after = await readCart();
  const line = after.items.find((item) => item.price === offerPrice);
  check(line !== undefined, `${name} is not in the cart: ${JSON.stringify(after.items)}`);
  check(line.quantity === 1 && line.amount === unitAmount, `${name}: ${JSON.stringify(line)}`);
  expectCart(after, [...before.items.map((item) => [item.price, item.quantity]), [offerPrice, 1]]);
  check(after.alert === '', `the alert still shows ${JSON.stringify(after.alert)}`);
  const button = page.getByRole('button', { name: `${name} — in your cart`, exact: true });
  check(await button.isDisabled(), `the ${name} offer is not shown as added`);
}

async function readCart() {
  return page.evaluate(() => {
    const rows = [...document.querySelectorAll('#lines tr')];
    return {
      session: document.getElementById('session-id').textContent,
      mode: document.getElementById('mode').textContent,
      items: rows.map((row) => ({
        lineItem: row.dataset.lineItem,
        price: row.dataset.price ?? null,
        quantity: Number(row.dataset.quantity),
        amount: Number(row.dataset.amount),
      })),
      quantityShown: Object.fromEntries(rows.map((row) => [row.dataset.price, row.querySelector('output').textContent])),
      total: Number(document.getElementById('total').dataset.amount),
      totalText: document.getElementById('total').textContent,
      alert: document.querySelector('[role="alert"]').textContent,
    };
  });
}

function expectCart(cart, lines) {
  const got = cart.items.map((item) => [item.price, item.quantity]);
  check(JSON.stringify(got) === JSON.stringify(lines),
    `cart shows ${JSON.stringify(got)}, expected ${JSON.stringify(lines)}`);
  const sum = cart.items.reduce((total, item) => total + item.amount, 0);
  check(cart.total === sum, `total ${cart.total} is not the sum of the lines (${sum})`);
}

async function checkAccessibility() {
  const problems = await page.evaluate(() => {
    const found = [];
    for (const button of document.querySelectorAll('button')) {
      const name = (button.getAttribute('aria-label') ?? button.textContent).trim();
      if (!name) found.push(`a button without a name: ${button.outerHTML}`);
      if (button.type !== 'button') found.push(`a submit button: ${button.outerHTML}`);
    }
    if (document.querySelectorAll('[role="alert"]').length !== 1) found.push('not one alert region');
    for (const element of document.querySelectorAll('[onclick], div[tabindex], span[tabindex]')) {
      found.push(`a clickable non-button: ${element.outerHTML}`);
    }
    return found;
  });
  check(problems.length === 0, problems.join('; '));
}

async function pressed(name) {
  return page.getByRole('button', { name, exact: true }).getAttribute('aria-pressed');
}

async function callCount(fragment) {
  return page.evaluate((part) => window.__calls.filter((call) => call.url.includes(part)).length, fragment);
}

async function alertText() {
  return page.evaluate(() => document.querySelector('[role="alert"]')?.textContent ?? '');
}

function money(cents) {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(cents / 100);
}

async function screenshot(name) {
  const path = join(screenshotDir, `${name}-${process.pid}.png`);
  await page.screenshot({ path, fullPage: true, timeout: ACTION_TIMEOUT_MS });
  log(`screenshot ${path}`);
}

// Clicks and waits until the page is idle again; every POST the click made to `fn`, in order:
// {key, sentAt, failed, status, code, retryAfter, replayed, answeredAt} (times in ms, this process).
async function clickTracked(locator, fn) {
  const attempts = [];
  const ours = (request) => request.url().includes(`/${fn}/`) && request.method() === 'POST';
  const onRequest = (request) => {
    if (ours(request)) {
      attempts.push({ request, key: request.headers()['idempotency-key'], sentAt: Date.now(), failed: false });
    }
  };
  const settled = [];
  const onResponse = (response) => {
    const attempt = attempts.find((a) => a.request === response.request());
    if (!attempt) return;
    attempt.answeredAt = Date.now();
    attempt.status = response.status();
    attempt.retryAfter = response.headers()['retry-after'];
    attempt.replayed = response.headers()['idempotent-replayed'];
    settled.push(response.json().then((body) => { attempt.code = body?.code; }).catch(() => {}));
  };
  const onFailed = (request) => {
    // Only an attempt that got no answer: a body cut off after its status line does not count.
    const attempt = attempts.find((a) => a.request === request);
    if (attempt && attempt.status === undefined) {
      Object.assign(attempt, { failed: true, answeredAt: Date.now() });
    }
  };
  page.on('request', onRequest);
  page.on('response', onResponse);
  page.on('requestfailed', onFailed);
  try {
    await locator.click();
    await page.waitForFunction(() => document.body.dataset.busy === 'false', null,
      { timeout: RESPONSE_TIMEOUT_MS });
    await Promise.all(settled);
  } finally {
    page.off('request', onRequest);
    page.off('response', onResponse);
    page.off('requestfailed', onFailed);
  }
  for (const attempt of attempts) delete attempt.request;
  log(`     attempts: ${describe(attempts)}`);
  return attempts;
}

// One click's attempts: one Idempotency-Key, every attempt but the last one the page may retry,
// and a retry after a Retry-After answer sent no sooner than it said.
function checkRetries(attempts) {
  check(attempts.length >= 2, `the click was not retried: ${describe(attempts)}`);
  check(attempts.every((a) => /^[0-9a-f-]{32,36}$/.test(a.key ?? '') && a.key === attempts[0].key),
    `the attempts of one click carried different Idempotency-Keys: ${describe(attempts)}`);
  for (const [i, attempt] of attempts.slice(0, -1).entries()) {
    const retryable = attempt.failed || attempt.status === 429 || attempt.status >= 500
      || (attempt.status === 409
        && ['session_busy', 'request_in_progress', 'stock_busy'].includes(attempt.code));
    check(retryable, `attempt ${i + 1} was final but retried: ${describe(attempts)}`);
    if (attempt.retryAfter !== undefined) {
      const waited = attempts[i + 1].sentAt - attempt.answeredAt;
      // A few ms of slack: the page's timer starts once it has read the answer it was shown.
      check(waited >= Number(attempt.retryAfter) * 1000 - 50,
        `attempt ${i + 2} came ${waited} ms after Retry-After: ${attempt.retryAfter}`);
    }
  }
}

function describe(attempts) {
  const start = attempts[0]?.sentAt ?? 0;
  return JSON.stringify(attempts.map((a) => ({
    at: a.sentAt - start,
    answer: a.failed ? 'none' : `${a.status}${a.code ? ` ${a.code}` : ''}`,
    ...(a.retryAfter === undefined ? {} : { retryAfter: a.retryAfter }),
    ...(a.replayed === undefined ? {} : { replayed: a.replayed }),
    in: (a.answeredAt ?? start) - a.sentAt,
  })));
}

// The emulator's fault injection (infra/stripe-emulator/README.md), from this process: the page
// never talks to Stripe.
async function stripeFault(rule) {
  const response = await fetch(`${spec.stripe}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(rule),
  });
  check(response.ok, `fault rule refused: ${response.status} ${await response.text()}`);
}

async function clearStripeFaults() {
  await fetch(`${spec.stripe}/_emulator/faults`, { method: 'DELETE' });
}

// Updates of the session that Stripe applied (its request log).
async function stripeUpdates(session) {
  const response = await fetch(`${spec.stripe}/_emulator/requests`);
  const { data } = await response.json();
  const path = `/v1/checkout/sessions/${session}`;
  return data.filter((r) => r.method === 'POST' && r.path === path && r.status === 200).length;
}
