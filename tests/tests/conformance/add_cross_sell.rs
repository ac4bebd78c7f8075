//! add-cross-sell's answers: every one the spec lists, bar stock_busy, with a cart at Stripe's
//! limit for cart_too_large.

use super::seen::Seen;
use super::{concurrent_stack, while_one_is_slow};
use e2e_tests::openapi::Spec;
use e2e_tests::{Endpoint, Result, Stack, GA_VERSION, MUG_SKU};
use serde_json::json;

#[test]
fn openapi_every_add_cross_sell_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(MUG_SKU, 1)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(Endpoint::AddCrossSell);
    let offer = |session: &str, price: &str| {
        json!({ "checkout_session_id": session, "price_id": price }).to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let id = stack.new_cart(&[(&c.monthly, 1)])?;
    post("add the mug", &offer(&id, &c.mug), &[])?;
    post("add it again", &offer(&id, &c.mug), &[])?;
    post("not an offer", &offer(&id, &c.sticker), &[])?;
    post("bad price id", &offer(&id, "prod_1"), &[])?;
    post("not JSON", "{", &[])?;
    post(
        "unknown session",
        &offer("cs_test_doesNotExist0000", &c.mug),
        &[],
    )?;
    let other = stack.new_cart(&[(&c.monthly, 1)])?;
    post("no mug left", &offer(&other, &c.mug), &[])?;

    let key = [("Idempotency-Key", "offer-1")];
    let first = post("keyed add", &offer(&other, &c.support_monthly), &key)?;
    let replay = post("keyed replay", &offer(&other, &c.support_monthly), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &offer(&other, &c.support_yearly),
        &key,
    )?;

    let expired = stack.new_cart(&[(&c.monthly, 1)])?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &offer(&expired, &c.support_monthly), &[])?;

    let refused = stack.new_cart(&[(&c.monthly, 1)])?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post(
        "Stripe refuses the update",
        &offer(&refused, &c.support_monthly),
        &[],
    )?;
    let down = stack.new_cart(&[(&c.monthly, 1)])?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &offer(&down, &c.support_monthly), &[])?;

    let full = cart_at_stripes_limit(&stack)?;
    let mugs_held = stack.dynamo.stock(MUG_SKU)?.held;
    let at_limit = post("a cart at Stripe's limit", &offer(&full, &c.mug), &[])?;
    at_limit.assert_error(422, "cart_too_large");
    assert_eq!(stack.dynamo.stock(MUG_SKU)?.held, mugs_held, "nothing held");

    let slow = stack.new_cart(&[(&c.monthly, 1)])?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "offer-slow")];
    let add = offer(&slow, &c.support_monthly);
    let [first, twin, other_change] = while_one_is_slow(
        &stack,
        Endpoint::AddCrossSell,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&add, slow_key),
        (&add, slow_key),
        (&offer(&slow, &c.mug), &[]),
    )?;
    seen.record(&spec, "slow add", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    seen.record(
        &spec,
        "other change of a leased session",
        "POST",
        &other_change,
    );

    // stock_busy: needs DynamoDB transaction conflicts, which the local DynamoDB never has.
    seen.finish(&spec, &stack, &[(409, "stock_busy")])
}

/// A subscription session made straight on Stripe, as this app would have made it, holding the
/// plan and 20 one-time items: Stripe's most (API reference, create a Checkout Session,
/// `line_items`: 20 recurring and 20 one-time in subscription mode).
fn cart_at_stripes_limit(stack: &Stack) -> Result<String> {
    let v = GA_VERSION;
    let product = stack
        .stripe
        .create("/v1/products", &[("name", "Filler")], v)?;
    let product = product["id"].as_str().ok_or("product id")?.to_owned();
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "subscription".into()),
        ("ui_mode".into(), "elements".into()),
        ("return_url".into(), "https://shop.example/return".into()),
        ("metadata[cart_reservation]".into(), "rsv_at_limit".into()),
        ("line_items[0][price]".into(), stack.catalog.monthly.clone()),
        ("line_items[0][quantity]".into(), "1".into()),
    ];
    for n in 1..=20 {
        let amount = (100 + n).to_string();
        let price = stack.stripe.create(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", &amount),
                ("product", &product),
            ],
            v,
        )?;
        let price = price["id"].as_str().ok_or("price id")?.to_owned();
        form.push((format!("line_items[{n}][price]"), price));
        form.push((format!("line_items[{n}][quantity]"), "1".into()));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let session = stack.stripe.create("/v1/checkout/sessions", &form, v)?;
    Ok(session["id"].as_str().ok_or("session id")?.to_owned())
}
