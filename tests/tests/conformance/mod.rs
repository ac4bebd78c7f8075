//! The conformance tests by topic, and the helpers the endpoints' tests share: the stack they run
//! on, a price off the catalog, and requests sent while Stripe holds one of them.

mod add_cross_sell;
mod change_interval;
mod create_session;
mod seen;
mod spec;
mod stripe_webhook;
mod update_quantity;
mod update_shipping;

use e2e_tests::{Endpoint, Reply, Result, Stack, GA_VERSION};
use serde_json::{json, Value};
use std::time::Duration;

fn session_id(created: &Value) -> Result<String> {
    Ok(created["id"].as_str().ok_or("session id")?.to_owned())
}

/// A stack with two instances of each function, so answers that need a request in flight (in
/// progress, busy) can happen; short waits keep those quick, and a long Stripe budget lets a slowed
/// call finish on its first attempt.
fn concurrent_stack() -> Result<Stack> {
    let env = [
        ("IDEMPOTENCY_WAIT_MS", "300"),
        ("LEASE_WAIT_MS", "300"),
        ("STRIPE_TIMEOUT_MS", "10000"),
    ];
    Stack::builder(GA_VERSION).env(&env).instances(2).start()
}

/// A recurring price of a product the catalog does not know.
fn off_catalog_price(stack: &Stack) -> Result<String> {
    let product = stack
        .stripe
        .create("/v1/products", &[("name", "Legacy plan")], GA_VERSION)?;
    let price = stack.stripe.create(
        "/v1/prices",
        &[
            ("currency", "usd"),
            ("unit_amount", "900"),
            ("recurring[interval]", "month"),
            ("product", product["id"].as_str().ok_or("product id")?),
        ],
        GA_VERSION,
    )?;
    Ok(price["id"].as_str().ok_or("price id")?.to_owned())
}

/// Sends `first` and, while Stripe holds its `stripe_method` call to `stripe_path` for 4 s, `twin`
/// then `other`; returns the three answers.
fn while_one_is_slow(
    stack: &Stack,
    endpoint: Endpoint,
    (stripe_method, stripe_path): (&str, &str),
    first: (&str, &[(&str, &str)]),
    twin: (&str, &[(&str, &str)]),
    other: (&str, &[(&str, &str)]),
) -> Result<[Reply; 3]> {
    stack.stripe.inject_fault(&json!({
        "method": stripe_method, "path_prefix": stripe_path, "latency_ms": 4000, "count": 1
    }))?;
    let (slow, twin, other) = std::thread::scope(|scope| {
        let slow = scope.spawn(|| stack.functions.call(endpoint, first.0, first.1));
        // Long enough for the first to have reached Stripe, well short of its 4 s there.
        std::thread::sleep(Duration::from_millis(700));
        let twin = stack.functions.call(endpoint, twin.0, twin.1);
        let other = stack.functions.call(endpoint, other.0, other.1);
        (slow.join(), twin, other)
    });
    Ok([
        slow.map_err(|_| "the slow request panicked")??,
        twin?,
        other?,
    ])
}
