//! create-session's answers: every one the spec lists, bar the two a local stack cannot cause.

use super::seen::Seen;
use super::{concurrent_stack, off_catalog_price, while_one_is_slow};
use e2e_tests::openapi::Spec;
use e2e_tests::{Endpoint, Result, TEE_SKU};
use serde_json::{json, Value};

#[test]
fn openapi_every_create_session_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 3)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(Endpoint::CreateSession);
    let cart = |items: &[(&str, i64)]| {
        let items: Vec<Value> = items
            .iter()
            .map(|(price, quantity)| json!({ "price": price, "quantity": quantity }))
            .collect();
        json!({ "items": items }).to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let created = post(
        "a plan and stickers",
        &cart(&[(&c.monthly, 1), (&c.sticker, 2)]),
        &[],
    )?;
    assert!(
        created.body["session"]["client_secret"].is_string(),
        "{}",
        created.body
    );
    post("stock-tracked item", &cart(&[(&c.tee, 2)]), &[])?;
    post("more than the stock left", &cart(&[(&c.tee, 2)]), &[])?;
    post("not JSON", "{\"items\": [", &[])?;
    post("no items", &json!({ "items": [] }).to_string(), &[])?;
    post("not a price id", &cart(&[("prod_1", 1)]), &[])?;
    post("quantity 0", &cart(&[(&c.sticker, 0)]), &[])?;
    let wrong_mode =
        json!({ "items": [{ "price": c.sticker, "quantity": 1 }], "mode": "subscription" });
    post("mode that does not fit", &wrong_mode.to_string(), &[])?;
    let legacy = off_catalog_price(&stack)?;
    post("price not in the catalog", &cart(&[(&legacy, 1)]), &[])?;
    post(
        "above the product's bounds",
        &cart(&[(&c.onboarding, 2)]),
        &[],
    )?;

    let key = [("Idempotency-Key", "create-1")];
    let first = post("keyed create", &cart(&[(&c.sticker, 1)]), &key)?;
    let replay = post("keyed replay", &cart(&[(&c.sticker, 1)]), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &cart(&[(&c.sticker, 3)]),
        &key,
    )?;

    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": "/v1/checkout/sessions", "status": 400, "count": 1
    }))?;
    post("Stripe refuses the session", &cart(&[(&c.sticker, 1)]), &[])?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": "/v1/checkout/sessions", "status": 500, "count": 3
    }))?;
    post("Stripe unavailable", &cart(&[(&c.sticker, 1)]), &[])?;

    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "create-slow")];
    let stickers = cart(&[(&c.sticker, 1)]);
    let [first, twin, other] = while_one_is_slow(
        &stack,
        Endpoint::CreateSession,
        ("POST", "/v1/checkout/sessions"),
        (&stickers, slow_key),
        (&stickers, slow_key),
        (&stickers, &[]),
    )?;
    seen.record(&spec, "slow create", "POST", &first);
    seen.record(&spec, "twin of a running create", "POST", &twin);
    twin.assert_error(409, "request_in_progress");
    seen.record(&spec, "another create meanwhile", "POST", &other);

    // session_busy: only when a reservation's holds move under it, which needs a writer that
    // ignores the lease. stock_busy: only when DynamoDB cancels transactions on a busy stock item
    // (TransactionConflict), which the local DynamoDB, one request at a time, never does.
    seen.finish(&spec, &stack, &[(409, "session_busy"), (409, "stock_busy")])
}
