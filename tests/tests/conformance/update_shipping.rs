//! update-shipping's answers: every one the spec lists.

use super::seen::Seen;
use super::{concurrent_stack, while_one_is_slow};
use e2e_tests::openapi::Spec;
use e2e_tests::{Endpoint, Result, GA_VERSION, TEE_SKU};
use serde_json::json;

#[test]
fn openapi_every_update_shipping_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(Endpoint::UpdateShipping);
    let ship = |session: &str, country: &str, name: &str| {
        json!({ "checkout_session_id": session, "shipping_details": { "name": name, "address": {
            "line1": "1 Main St", "city": "San Francisco", "state": "CA", "postal_code": "94105",
            "country": country } } })
        .to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let id = stack.new_cart(&[(&c.tee, 1)])?;
    post("ship to California", &ship(&id, "US", "Ada"), &[])?;
    post("the same again", &ship(&id, "US", "Ada"), &[])?;
    post(
        "a country the store does not serve",
        &ship(&id, "FR", "Ada"),
        &[],
    )?;
    post("a lowercase country", &ship(&id, "us", "Ada"), &[])?;
    post(
        "no address",
        &json!({ "checkout_session_id": id, "shipping_details": { "name": "Ada" } }).to_string(),
        &[],
    )?;
    post("not JSON", "{", &[])?;
    post(
        "unknown session",
        &ship("cs_test_doesNotExist0000", "US", "Ada"),
        &[],
    )?;

    let other = stack.new_cart(&[(&c.tee, 1)])?;
    let key = [("Idempotency-Key", "ship-1")];
    let first = post("keyed", &ship(&other, "US", "Ada"), &key)?;
    let replay = post("keyed replay", &ship(&other, "US", "Ada"), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &ship(&other, "CA", "Ada"),
        &key,
    )?;

    let expired = stack.new_cart(&[(&c.tee, 1)])?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &ship(&expired, "US", "Ada"), &[])?;

    let refused = stack.new_cart(&[(&c.tee, 1)])?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post(
        "Stripe refuses the update",
        &ship(&refused, "US", "Ada"),
        &[],
    )?;
    let down = stack.new_cart(&[(&c.tee, 1)])?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &ship(&down, "US", "Ada"), &[])?;

    let slow = stack.new_cart(&[(&c.tee, 1)])?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "ship-slow")];
    let change = ship(&slow, "US", "Ada");
    let [first, twin, other_change] = while_one_is_slow(
        &stack,
        Endpoint::UpdateShipping,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&change, slow_key),
        (&change, slow_key),
        (&ship(&slow, "US", "Grace"), &[]),
    )?;
    seen.record(&spec, "slow update", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    seen.record(
        &spec,
        "other change of a leased session",
        "POST",
        &other_change,
    );

    seen.finish(&spec, &stack, &[])
}
