//! The fault run: many client operations against the local stack while Stripe fails about a third
//! of its checkout calls (500s, 429s, answers slower than the functions wait for) and some
//! webhooks are lost, with clients that retry on the same `Idempotency-Key` and function instances
//! that race each other on DynamoDB (conditional writes and transactions under contention).
//!
//! Sessions end in every way Stripe ends them: paid, abandoned (expired), or completed unpaid (a
//! delayed payment method) whose payment later succeeds or fails; some of every kind of event are
//! lost, the delayed payments' outcomes included.
//!
//! It ends by checking what the product promises: every key converges to one answer that its
//! replay repeats, no SKU is ever oversold, carts stay within their bounds, and once every session
//! has ended (webhooks, then the release-holds sweeper for the webhooks that never came) nothing
//! is held and what was sold is exactly what was paid for: paid completions and delayed payments
//! that succeeded, never one that failed.

use crate::lifecycle::{check_report, hold_pk, n, text};
use crate::{
    in_parallel, line_item_ids, Endpoint, Job, Reply, Result, Rng, Stack, Stock, GA_VERSION,
    MUG_SKU, TEE_SKU,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

mod report;
pub use report::{FaultPlan, FaultReport};

/// The function's Stripe timeout during the run; the slow fault answers after it.
const STRIPE_TIMEOUT_MS: u64 = 500;
/// Attempts a client makes before giving up on a key (it then counts as not converged).
const MAX_ATTEMPTS: usize = 25;

/// A session of the run: its id, reservation and T-shirt line.
#[derive(Debug, Clone)]
struct Cart {
    id: String,
    reservation: String,
    tee_line: String,
}

/// One client operation: sent until a final answer, then once more to see it replayed.
fn until_final(stack: &Stack, endpoint: Endpoint, body: &str, key: &str) -> Attempted {
    let headers = [("Idempotency-Key", key)];
    let mut attempts = 0;
    let mut last = None;
    while attempts < MAX_ATTEMPTS {
        attempts += 1;
        let reply = match stack.functions.call(endpoint, body, &headers) {
            Ok(reply) => reply,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let busy = matches!(
            reply.body["code"].as_str(),
            Some("session_busy" | "request_in_progress" | "stock_busy")
        );
        if reply.status < 500 && !busy {
            let replay = stack.functions.call(endpoint, body, &headers);
            attempts += 1;
            let converged = replay
                .as_ref()
                .is_ok_and(|r| r.replayed && r.status == reply.status && r.body == reply.body);
            return Attempted {
                attempts,
                last: Some(reply),
                converged,
            };
        }
        last = Some(reply);
        // Jittered exponential backoff, as a client SDK would.
        let backoff = 25u64 << attempts.min(4);
        std::thread::sleep(Duration::from_millis(backoff + (attempts as u64 * 7) % 20));
    }
    Attempted {
        attempts,
        last,
        converged: false,
    }
}

#[derive(Debug)]
struct Attempted {
    attempts: usize,
    last: Option<Reply>,
    converged: bool,
}

fn code_of(reply: &Reply) -> String {
    match reply.body["code"].as_str() {
        Some(code) => format!("{} {code}", reply.status),
        None => reply.status.to_string(),
    }
}

/// Units of `sku`'s price in a session's cart, according to Stripe.
fn units_in_cart(session: &Value, price: &str) -> u64 {
    session["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|li| li["price"]["id"] == price)
        .filter_map(|li| li["quantity"].as_u64())
        .sum()
}

/// Runs the whole fault scenario on a stack of its own.
pub fn run_faults(plan: FaultPlan) -> Result<FaultReport> {
    let started = Instant::now();
    let timeout = STRIPE_TIMEOUT_MS.to_string();
    let stack = Stack::builder(GA_VERSION)
        .env(&[("STRIPE_TIMEOUT_MS", timeout.as_str())])
        .instances(2)
        .start()?;
    let c = &stack.catalog;
    let mut report = FaultReport {
        plan: Some(plan),
        ..FaultReport::default()
    };
    let mut rng = Rng(plan.seed);
    let creates = (plan.operations / 6).max(4);
    // Tight stock, so holds compete and some carts are refused.
    let received_tees = 2 * creates as u64;
    let received_mugs = creates as u64 / 2;
    stack.dynamo.receive(TEE_SKU, received_tees)?;
    stack.dynamo.receive(MUG_SKU, received_mugs)?;
    let webhook_endpoint = stack.connect_webhooks()?;

    // About a third of the checkout calls fail: 500s Stripe saves under the key (replayed to a
    // retry with it), 503s refused before Stripe's endpoint ran, rate limits, answers too slow
    // to wait for (which Stripe still applies: the ambiguous case).
    let slow = (STRIPE_TIMEOUT_MS + 300).to_string();
    for rule in [
        json!({ "path_prefix": "/v1/checkout", "status": 500, "probability": 0.12 }),
        json!({ "path_prefix": "/v1/checkout", "status": 503, "saved": false, "probability": 0.05 }),
        json!({ "path_prefix": "/v1/checkout", "status": 429, "probability": 0.12 }),
        json!({ "path_prefix": "/v1/checkout", "latency_ms": slow.parse::<u64>()?, "probability": 0.1 }),
    ] {
        stack.stripe.inject_fault(&rule)?;
    }

    // 1. Carts, created concurrently.
    let jobs: Vec<Job<'_, (String, Attempted)>> = (0..creates)
        .map(|n| {
            let tees = 1 + rng.below(2);
            let key = format!("fault-{}-create-{n}", plan.seed);
            let body = json!({ "items": [
                { "price": c.monthly, "quantity": 1 }, { "price": c.tee, "quantity": tees },
            ]})
            .to_string();
            let stack = &stack;
            Box::new(move || {
                let attempted = until_final(stack, Endpoint::CreateSession, &body, &key);
                (key, attempted)
            }) as Job<'_, _>
        })
        .collect();
    let mut carts = Vec::new();
    for (key, attempted) in in_parallel(plan.threads, jobs) {
        let Some(reply) = tally(&mut report, &key, &attempted) else {
            continue;
        };
        if reply.status != 200 {
            continue;
        }
        let id = reply.body["session"]["id"].as_str().ok_or("session id")?;
        let session = session_despite_faults(&stack, id)?;
        carts.push(Cart {
            id: id.to_owned(),
            reservation: session["metadata"]["cart_reservation"]
                .as_str()
                .ok_or("reservation")?
                .to_owned(),
            tee_line: line_item_ids(&session).get(1).cloned().ok_or("tee line")?,
        });
    }
    report.sessions = carts.len();
    if carts.is_empty() {
        return Err("no cart could be created".into());
    }

    // 2. Every kind of change, on random sessions, from several clients at once.
    let jobs: Vec<Job<'_, (String, Attempted)>> = (creates..plan.operations)
        .map(|n| {
            let cart = carts[rng.below(carts.len())].clone();
            let key = format!("fault-{}-change-{n}", plan.seed);
            let (endpoint, body) = match rng.below(10) {
                0..=3 => (
                    Endpoint::UpdateQuantity,
                    json!({ "checkout_session_id": cart.id, "line_item_id": cart.tee_line,
                            "quantity": rng.below(6) }),
                ),
                4 | 5 => (
                    Endpoint::AddCrossSell,
                    json!({ "checkout_session_id": cart.id,
                            "price_id": if rng.chance(60) { &c.mug } else { &c.support_monthly } }),
                ),
                6 | 7 => (
                    Endpoint::ChangeInterval,
                    json!({ "checkout_session_id": cart.id,
                            "interval": (["monthly", "yearly"][rng.below(2)]) }),
                ),
                _ => (
                    Endpoint::UpdateShipping,
                    json!({ "checkout_session_id": cart.id, "shipping_details": {
                        "name": "Ada Lovelace", "address": { "line1": "1 Main St",
                        "city": "Springfield", "postal_code": "94105",
                        "country": (["US", "CA", "DE"][rng.below(3)]) } } }),
                ),
            };
            let body = body.to_string();
            let stack = &stack;
            Box::new(move || {
                let attempted = until_final(stack, endpoint, &body, &key);
                (key, attempted)
            }) as Job<'_, _>
        })
        .collect();
    for (key, attempted) in in_parallel(plan.threads, jobs) {
        tally(&mut report, &key, &attempted);
    }

    // What Stripe went through.
    for request in step("reading Stripe's request log", stack.stripe.requests())? {
        if !request["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/v1/checkout"))
        {
            continue;
        }
        report.stripe_calls += 1;
        let status = request["status"].as_u64().unwrap_or(0);
        let slow = request["elapsed_us"]
            .as_u64()
            .is_some_and(|us| us >= STRIPE_TIMEOUT_MS * 1000);
        let failure = match status {
            500.. => Some(status.to_string()),
            429 => Some("429".to_owned()),
            _ if slow => Some("too slow".to_owned()),
            _ => None,
        };
        if let Some(failure) = failure {
            *report.stripe_failed.entry(failure).or_default() += 1;
        }
    }
    step("clearing the faults", stack.stripe.clear_faults())?;

    // 3. Nothing oversold, holds cover every cart, carts within their bounds.
    let stock = [
        (TEE_SKU, c.tee.as_str(), received_tees, 5),
        (MUG_SKU, c.mug.as_str(), received_mugs, 2),
    ];
    let sessions: Result<Vec<Value>> = carts
        .iter()
        .map(|cart| stack.stripe.session(&cart.id))
        .collect();
    let sessions = step("reading the sessions", sessions)?;
    for (sku, price, received, max) in stock {
        let stock = step("reading the stock", stack.dynamo.stock(sku))?;
        let Stock {
            available,
            held,
            sold,
            received: total,
        } = stock;
        let in_carts: u64 = sessions.iter().map(|s| units_in_cart(s, price)).sum();
        if !stock.is_balanced() || total != received {
            report.violations.push(format!(
                "{sku}: available {available} + held {held} + sold {sold} != received {received}"
            ));
        }
        if in_carts > received {
            report.violations.push(format!(
                "{sku}: oversold, {in_carts} in carts of {received}"
            ));
        }
        if held < in_carts {
            report
                .violations
                .push(format!("{sku}: held {held} < {in_carts} in carts"));
        }
        for session in &sessions {
            if units_in_cart(session, price) > max {
                report.violations.push(format!(
                    "{sku}: a cart above its bound {max}: {}",
                    session["id"]
                ));
            }
        }
    }

    // 4. Every session ends: a third paid, a third completed unpaid (a delayed payment method),
    //    a third abandoned; some of their webhooks are lost.
    report.webhooks_dropped = (carts.len() / 4).max(1);
    step(
        "dropping webhooks",
        stack
            .stripe
            .drop_events(&webhook_endpoint, report.webhooks_dropped),
    )?;
    let mut unpaid = Vec::new();
    for (i, (cart, session)) in carts.iter().zip(&sessions).enumerate() {
        let units = units_in_cart(session, &c.tee) + units_in_cart(session, &c.mug);
        match i % 3 {
            0 => {
                report.bought += units;
                step(
                    "completing a session",
                    stack.stripe.complete_with(&cart.id, "paid"),
                )?;
            }
            1 => {
                step(
                    "completing a session unpaid",
                    stack.stripe.complete_with(&cart.id, "unpaid"),
                )?;
                unpaid.push((cart, units));
            }
            _ => step(
                "expiring a session",
                stack.stripe.expire_session(&cart.id, GA_VERSION),
            )?,
        }
    }
    report.unpaid_completions = unpaid.len();
    if unpaid.is_empty() {
        report
            .violations
            .push("no session completed unpaid: too few carts for the run".into());
    }
    let mut delivered = carts.len() - report.webhooks_dropped;
    step(
        "waiting for webhook deliveries",
        wait_for_deliveries(&stack, delivered),
    )?;

    // 5. The delayed payments end, some paid and some failed; some of those events are lost.
    if !unpaid.is_empty() {
        report.async_events_dropped = (unpaid.len() / 3).max(1);
        step(
            "dropping async payment events",
            stack
                .stripe
                .drop_events(&webhook_endpoint, report.async_events_dropped),
        )?;
    }
    for (k, (cart, units)) in unpaid.iter().enumerate() {
        // The first succeeds and the second fails; the rest as the seed says.
        let outcome = if k == 0 || (k > 1 && rng.chance(50)) {
            report.payments_succeeded += 1;
            report.bought += units;
            "succeeded"
        } else {
            report.payments_failed += 1;
            "failed"
        };
        step(
            "ending a delayed payment",
            stack.stripe.async_payment(&cart.id, outcome),
        )?;
    }
    delivered += unpaid.len() - report.async_events_dropped;
    step(
        "waiting for async payment deliveries",
        wait_for_deliveries(&stack, delivered),
    )?;

    // 6. The holds the lost events left behind reach their expiry (a pending payment's hold its
    //    recheck), and the sweeper settles them by what Stripe says.
    step("expiring the live holds", expire_live_holds(&stack, &carts))?;
    for _ in 0..(carts.len() / 100 + 2) {
        let swept = stack.functions.invoke("release-holds", &json!({}))?;
        report.swept_units += swept["units_released"].as_u64().unwrap_or(0)
            + swept["units_sold"].as_u64().unwrap_or(0);
        if let Err(broken) = check_report(&swept, 1_000) {
            report.violations.push(format!("sweeper: {broken}"));
        }
        if swept["errors"].as_u64() != Some(0) {
            report.violations.push(format!("sweeper errors: {swept}"));
        }
    }
    let mut sold_total = 0;
    for (sku, _, received, _) in stock {
        let Stock {
            available,
            held,
            sold,
            received: _,
        } = step("reading the stock", stack.dynamo.stock(sku))?;
        sold_total += sold;
        if held != 0 {
            report.violations.push(format!(
                "{sku}: {held} units still held after every session ended"
            ));
        }
        if available + sold != received {
            report.violations.push(format!(
                "{sku}: available {available} + sold {sold} != received {received}"
            ));
        }
    }
    report.sold = sold_total;
    if report.sold != report.bought {
        report.violations.push(format!(
            "sold {} units but {} were paid for",
            report.sold, report.bought
        ));
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Says which step of the run a harness call failed in.
fn step<T>(what: &str, result: Result<T>) -> Result<T> {
    result.map_err(|e| format!("{what}: {e}").into())
}

/// Counts one operation's attempts and answer; returns its final answer.
fn tally<'a>(report: &mut FaultReport, key: &str, attempted: &'a Attempted) -> Option<&'a Reply> {
    report.operations += 1;
    report.attempts += attempted.attempts;
    match (&attempted.last, attempted.converged) {
        (Some(reply), true) => {
            report.converged += 1;
            *report.finals.entry(code_of(reply)).or_default() += 1;
            if reply.status >= 500 {
                report
                    .violations
                    .push(format!("{key}: final answer {}", reply.status));
            }
            Some(reply)
        }
        (last, _) => {
            report.violations.push(format!(
                "{key}: did not converge after {} attempts (last: {:?})",
                attempted.attempts,
                last.as_ref().map(code_of)
            ));
            None
        }
    }
}

/// The test's own read of a session while faults are injected: retried like any client would.
fn session_despite_faults(stack: &Stack, id: &str) -> Result<Value> {
    let mut last = None;
    for _ in 0..30 {
        match stack.stripe.session(id) {
            Ok(session) => return Ok(session),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| "no attempt".into()))
}

/// Waits until `expected` webhook deliveries were answered 200 (at most a minute).
fn wait_for_deliveries(stack: &Stack, expected: usize) -> Result {
    stack
        .stripe
        .wait_for_deliveries(expected, Duration::from_secs(60))
        .map(drop)
}

/// Moves the expiry of every live hold of the run's reservations into the past, in one read and
/// one write (settled holds stay as they are).
fn expire_live_holds(stack: &Stack, carts: &[Cart]) -> Result {
    let pks: Vec<String> = carts
        .iter()
        .flat_map(|cart| [TEE_SKU, MUG_SKU].map(|sku| hold_pk(&cart.reservation, sku)))
        .collect();
    let live: Vec<Value> = stack
        .dynamo
        .get_many(&pks)?
        .into_iter()
        .filter(|hold| matches!(text(hold, "state"), Some("HELD" | "AWAITING_PAYMENT")))
        .map(|mut hold| {
            hold["expires_at"] = n(1);
            hold
        })
        .collect();
    if live.is_empty() {
        return Ok(());
    }
    stack.dynamo.put_many(&live)
}
