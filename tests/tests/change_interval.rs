//! POST /change-subscription-interval end to end: the built function behind cargo-lambda's runtime
//! emulation, talking to the Stripe emulator; assertions are on the state the emulator holds.

use e2e_tests::{assert_error, line_item_ids, Result, Stack, GA_VERSION, PREVIEW_VERSION};
use serde_json::{json, Value};

fn body(session_id: &str, interval: &str) -> String {
    json!({ "checkout_session_id": session_id, "interval": interval }).to_string()
}

fn price_of(item: &Value) -> &str {
    item["price"]["id"].as_str().unwrap_or_default()
}

/// GIVEN a monthly cart with one-time items around the plan, WHEN the shopper picks yearly,
/// THEN only the plan item changes and Stripe saw the whole array once, in this API dialect.
fn monthly_to_yearly(api_version: &'static str) -> Result {
    let stack = Stack::start(api_version, &[])?;
    let c = &stack.catalog;
    let created = stack.create_session(&[(&c.sticker, 2), (&c.monthly, 1), (&c.onboarding, 1)])?;
    let id = created["id"].as_str().ok_or("session id")?;
    let before = stack.stripe.session(id)?;
    let before_ids = line_item_ids(&before);

    let (status, response) = stack.change_interval(&body(id, "yearly"))?;

    assert_eq!(status, 200, "{response}");
    assert_eq!(response["type"], "success");
    let after = stack.stripe.session(id)?;
    let items = after["line_items"]["data"].as_array().ok_or("line items")?;
    assert_eq!(items.len(), 3);
    assert_eq!(price_of(&items[0]), c.sticker);
    assert_eq!(price_of(&items[1]), c.yearly, "plan swapped in place");
    assert_eq!(price_of(&items[2]), c.onboarding);
    let after_ids = line_item_ids(&after);
    assert_eq!(
        after_ids[0], before_ids[0],
        "untouched items keep their ids"
    );
    assert_eq!(
        after_ids[2], before_ids[2],
        "untouched items keep their ids"
    );
    assert_eq!(items[1]["quantity"], 1);
    assert_eq!(
        after["amount_total"],
        2 * 500 + 15_000 + 9_900,
        "amounts recalculated"
    );

    // The response is the updated session, not the client's copy.
    assert_eq!(response["session"]["id"], id);
    assert_eq!(response["session"]["amount_total"], after["amount_total"]);
    assert_eq!(
        response["session"]["line_items"][1]["price"],
        c.yearly.as_str()
    );

    let updates = stack.stripe.session_updates(id)?;
    assert_eq!(updates.len(), 1, "one update call: {updates:?}");
    assert_eq!(
        updates[0]["stripe_version"], api_version,
        "exact Stripe-Version sent"
    );
    assert!(updates[0]["idempotency_key"]
        .as_str()
        .is_some_and(|k| k.starts_with("change-interval-")));
    assert_eq!(updates[0]["status"], 200);
    Ok(())
}

#[test]
fn monthly_to_yearly_under_the_preview_api_sends_the_seed_beta_header() -> Result {
    monthly_to_yearly(PREVIEW_VERSION)
}

#[test]
fn monthly_to_yearly_under_the_generally_available_api() -> Result {
    monthly_to_yearly(GA_VERSION)
}

#[test]
fn choosing_the_current_interval_is_a_noop_success_and_back_again_works() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let c = &stack.catalog;
    let created = stack.create_session(&[(&c.monthly, 2)])?;
    let id = created["id"].as_str().ok_or("session id")?;

    let (status, response) = stack.change_interval(&body(id, "monthly"))?;
    assert_eq!(status, 200, "{response}");
    assert!(
        stack.stripe.session_updates(id)?.is_empty(),
        "no-op sends nothing"
    );

    assert_eq!(stack.change_interval(&body(id, "yearly"))?.0, 200);
    let (status, response) = stack.change_interval(&body(id, "monthly"))?;
    assert_eq!(status, 200, "{response}");
    let after = stack.stripe.session(id)?;
    assert_eq!(price_of(&after["line_items"]["data"][0]), c.monthly);
    assert_eq!(after["line_items"]["data"][0]["quantity"], 2);
    assert_eq!(after["amount_total"], 3_000);
    Ok(())
}

#[test]
fn bad_input_is_a_400_json_error_and_stripe_is_never_called() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let cases = [
        ("{\"checkout_session_id\": ", "invalid_json", None),
        (
            r#"{"interval":"yearly"}"#,
            "invalid_request",
            Some("checkout_session_id"),
        ),
        (
            r#"{"checkout_session_id":"cs_test_abc","interval":"weekly"}"#,
            "invalid_request",
            Some("interval"),
        ),
        (
            r#"{"checkout_session_id":"cs_test_abc","interval":12}"#,
            "invalid_request",
            Some("interval"),
        ),
        (
            r#"{"checkout_session_id":"sess_../../v1","interval":"yearly"}"#,
            "invalid_request",
            Some("checkout_session_id"),
        ),
    ];
    let before = stack.stripe.requests()?.len();
    for (input, code, param) in cases {
        let (status, response) = stack.change_interval(input)?;
        assert_eq!(status, 400, "{input} -> {response}");
        assert_error(status, &response, 400, code);
        assert_eq!(response["param"].as_str(), param, "{input}");
    }
    assert_eq!(
        stack.stripe.requests()?.len(),
        before,
        "Stripe was never called"
    );
    Ok(())
}

#[test]
fn an_unknown_session_is_a_404() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let (status, response) = stack.change_interval(&body("cs_test_doesnotexist123", "yearly"))?;
    assert_error(status, &response, 404, "session_not_found");
    Ok(())
}

#[test]
fn an_expired_session_is_a_409_and_stays_as_it_was() -> Result {
    let stack = Stack::start(PREVIEW_VERSION, &[])?;
    let c = &stack.catalog;
    let created = stack.create_session(&[(&c.monthly, 1)])?;
    let id = created["id"].as_str().ok_or("session id")?;
    let (status, _) = stack.stripe.post(
        &format!("/v1/checkout/sessions/{id}/expire"),
        &[],
        PREVIEW_VERSION,
    )?;
    assert_eq!(status, 200);

    let (status, response) = stack.change_interval(&body(id, "yearly"))?;
    assert_error(status, &response, 409, "session_not_updatable");
    assert!(
        stack.stripe.session_updates(id)?.is_empty(),
        "no update was attempted"
    );
    assert_eq!(
        price_of(&stack.stripe.session(id)?["line_items"]["data"][0]),
        c.monthly
    );
    Ok(())
}

#[test]
fn stripe_failing_every_attempt_is_a_502_after_bounded_retries() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let c = &stack.catalog;
    let created = stack.create_session(&[(&c.monthly, 1)])?;
    let id = created["id"].as_str().ok_or("session id")?;
    stack
        .stripe
        .inject_fault(&json!({ "path_prefix": "/v1/checkout/sessions", "status": 500 }))?;

    let (status, response) = stack.change_interval(&body(id, "yearly"))?;

    assert_error(status, &response, 502, "payment_provider_unavailable");
    assert!(
        !response.to_string().contains("unknown error"),
        "Stripe's text stays in the logs"
    );
    let attempts = stack
        .stripe
        .requests()?
        .into_iter()
        .filter(|r| r["path"] == format!("/v1/checkout/sessions/{id}").as_str())
        .count();
    assert_eq!(
        attempts, 3,
        "retried, but boundedly (STRIPE_MAX_ATTEMPTS=3)"
    );
    Ok(())
}

#[test]
fn a_stripe_failure_is_retried_with_the_same_key_unless_stripe_saved_it_under_that_key() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let c = &stack.catalog;
    let created = stack.create_session(&[(&c.monthly, 1), (&c.sticker, 1)])?;
    let id = created["id"].as_str().ok_or("session id")?;
    // Refused before Stripe's endpoint ran (`Stripe-Should-Retry: true`): the key is still free.
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "status": 503,
        "saved": false, "count": 1
    }))?;

    let (status, response) = stack.change_interval(&body(id, "yearly"))?;

    assert_eq!(status, 200, "{response}");
    let updates = stack.stripe.session_updates(id)?;
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0]["status"], 503);
    assert_eq!(updates[1]["status"], 200);
    assert_eq!(updates[0]["idempotency_key"], updates[1]["idempotency_key"]);
    let after = stack.stripe.session(id)?;
    assert_eq!(price_of(&after["line_items"]["data"][0]), c.yearly);
    assert_eq!(
        after["line_items"]["data"].as_array().map(Vec::len),
        Some(2)
    );

    // Saved under the key (Stripe's way with a 500, API reference "Idempotent requests"): the
    // same key would only get the failure back, so the cart is read again and a new key sent.
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "status": 503,
        "count": 1
    }))?;
    let (status, response) = stack.change_interval(&body(id, "monthly"))?;
    assert_eq!(status, 200, "{response}");
    let updates = stack.stripe.session_updates(id)?;
    assert_eq!(updates.len(), 4, "{updates:?}");
    assert_eq!(updates[2]["status"], 503);
    assert_eq!(updates[3]["status"], 200);
    assert_ne!(updates[2]["idempotency_key"], updates[3]["idempotency_key"]);
    let after = stack.stripe.session(id)?;
    assert_eq!(price_of(&after["line_items"]["data"][0]), c.monthly);
    Ok(())
}

#[test]
fn carts_longer_than_stripes_first_page_are_read_and_retransmitted_in_full() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let c = &stack.catalog;
    // Expanded line_items hold only Stripe's first page (10); the plan sits at position 12.
    let mut items: Vec<(&str, u32)> = (0..11)
        .map(|n| {
            if n % 2 == 0 {
                (c.sticker.as_str(), 1)
            } else {
                (c.onboarding.as_str(), 1)
            }
        })
        .collect();
    items.push((&c.monthly, 1));
    let created = stack.create_session(&items)?;
    let id = created["id"].as_str().ok_or("session id")?;
    let (_, all_before) = stack.stripe.get(
        &format!("/v1/checkout/sessions/{id}/line_items?limit=100"),
        GA_VERSION,
    )?;
    let before_ids = line_item_ids(&json!({ "line_items": all_before }));
    assert_eq!(before_ids.len(), 12);

    let (status, response) = stack.change_interval(&body(id, "yearly"))?;

    assert_eq!(status, 200, "{response}");
    let (_, all_after) = stack.stripe.get(
        &format!("/v1/checkout/sessions/{id}/line_items?limit=100"),
        GA_VERSION,
    )?;
    let after = json!({ "line_items": all_after });
    let after_ids = line_item_ids(&after);
    assert_eq!(
        after_ids.len(),
        12,
        "no item beyond the first page was dropped"
    );
    assert_eq!(after_ids[..11], before_ids[..11]);
    assert_eq!(price_of(&after["line_items"]["data"][11]), c.yearly);
    assert_eq!(
        response["session"]["line_items"].as_array().map(Vec::len),
        Some(12)
    );
    Ok(())
}
