//! change-interval's answers, under the GA API (every answer the spec lists) and under the preview
//! API (its dialect's success and refusal).

use super::seen::Seen;
use super::{concurrent_stack, off_catalog_price, session_id, while_one_is_slow};
use e2e_tests::openapi::Spec;
use e2e_tests::{Endpoint, Result, Stack, GA_VERSION, PREVIEW_VERSION};
use serde_json::json;

fn body(session_id: &str, interval: &str) -> String {
    json!({ "checkout_session_id": session_id, "interval": interval }).to_string()
}

#[test]
fn openapi_every_change_interval_answer_conforms_under_the_ga_api() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    let c = &stack.catalog;
    let mut seen = Seen::new(Endpoint::ChangeInterval);
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let id = session_id(&stack.create_session(&[(&c.sticker, 2), (&c.monthly, 1)])?)?;
    let changed = post("change to yearly", &body(&id, "yearly"), &[])?;
    assert_eq!(changed.body["type"], "success", "{}", changed.body);
    post("no-op change", &body(&id, "yearly"), &[])?;
    post("not JSON", "{\"checkout_session_id\": ", &[])?;
    post("JSON but not an object", "[1]", &[])?;
    let no_interval = json!({ "checkout_session_id": id }).to_string();
    post("interval missing", &no_interval, &[])?;
    post(
        "session id of another kind",
        &body("sub_123", "monthly"),
        &[],
    )?;
    let long_key = "k".repeat(256);
    let long_key = [("Idempotency-Key", long_key.as_str())];
    post("Idempotency-Key too long", &body(&id, "monthly"), &long_key)?;
    post(
        "unknown session",
        &body("cs_test_doesNotExist0000", "monthly"),
        &[],
    )?;

    let expired = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &body(&expired, "yearly"), &[])?;

    // A plan price the catalog does not know: there is no counterpart to switch to.
    let legacy = off_catalog_price(&stack)?;
    let off_catalog = session_id(&stack.create_session(&[(&legacy, 1)])?)?;
    post(
        "plan not in the catalog",
        &body(&off_catalog, "yearly"),
        &[],
    )?;

    // Idempotency: a replay carries Idempotent-Replayed; the key with another body is refused.
    let keyed = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    let key = [("Idempotency-Key", "conformance-1")];
    let first = post("keyed change", &body(&keyed, "yearly"), &key)?;
    let replay = post("keyed replay", &body(&keyed, "yearly"), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &body(&keyed, "monthly"),
        &key,
    )?;

    // Stripe refusing the update we built is our fault: 500 internal_error.
    let refused = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post("Stripe refuses the update", &body(&refused, "yearly"), &[])?;

    // Stripe failing every attempt: 502 after the bounded retries.
    let down = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &body(&down, "yearly"), &[])?;

    // While one change of a session waits on a slow Stripe: its twin is in progress, and any other
    // change of that session finds the session busy.
    let slow = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "conformance-slow")];
    let other_key: &[(&str, &str)] = &[("Idempotency-Key", "other")];
    let yearly = body(&slow, "yearly");
    let [first, twin, other] = while_one_is_slow(
        &stack,
        Endpoint::ChangeInterval,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&yearly, slow_key),
        (&yearly, slow_key),
        (&yearly, other_key),
    )?;
    seen.record(&spec, "slow change", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    twin.assert_error(409, "request_in_progress");
    seen.record(&spec, "other change of a leased session", "POST", &other);
    other.assert_error(409, "session_busy");

    seen.finish(&spec, &stack, &[])
}

#[test]
fn openapi_answers_conform_under_the_preview_api_too() -> Result {
    let spec = Spec::load();
    let stack = Stack::start(PREVIEW_VERSION, &[])?;
    let c = &stack.catalog;
    let mut seen = Seen::new(Endpoint::ChangeInterval);

    let id = session_id(&stack.create_session(&[(&c.monthly, 3), (&c.onboarding, 1)])?)?;
    let changed = stack
        .functions
        .call(Endpoint::ChangeInterval, &body(&id, "yearly"), &[])?;
    assert_eq!(changed.status, 200, "{}", changed.body);
    seen.record(&spec, "change to yearly", "POST", &changed);

    stack.stripe.expire_session(&id, PREVIEW_VERSION)?;
    let refused = stack
        .functions
        .call(Endpoint::ChangeInterval, &body(&id, "monthly"), &[])?;
    assert_eq!(refused.status, 409, "{}", refused.body);
    seen.record(&spec, "expired session", "POST", &refused);
    Ok(())
}
