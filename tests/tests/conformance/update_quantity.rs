//! update-quantity's answers: every one the spec lists, bar the two a local stack cannot cause.

use super::seen::Seen;
use super::{concurrent_stack, off_catalog_price, session_id, while_one_is_slow};
use e2e_tests::openapi::Spec;
use e2e_tests::{Endpoint, Result, GA_VERSION, TEE_SKU};
use serde_json::json;

#[test]
fn openapi_every_update_quantity_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 3)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(Endpoint::UpdateQuantity);
    // A session of this app (stock held) with `items`; returns its id and its items' ids, in order.
    let new_cart = |items: &[(&str, i64)]| -> Result<(String, Vec<String>)> {
        let created = stack.create_cart(items, None)?;
        assert_eq!(created.status, 200, "{}", created.body);
        let session = &created.body["session"];
        let ids = session["line_items"]
            .as_array()
            .ok_or("line items")?
            .iter()
            .filter_map(|li| li["id"].as_str().map(str::to_owned))
            .collect();
        Ok((session_id(session)?, ids))
    };
    let set = |session: &str, item: &str, quantity: i64| {
        json!({ "checkout_session_id": session, "line_item_id": item, "quantity": quantity })
            .to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    // 3 T-shirts in stock: this cart holds 1, then 2; 5 would need 3 more than are left.
    let (id, items) = new_cart(&[(&c.sticker, 1), (&c.tee, 1)])?;
    let (sticker, tee) = (&items[0], &items[1]);
    post("more T-shirts", &set(&id, tee, 2), &[])?;
    post("beyond the stock", &set(&id, tee, 5), &[])?;
    post("above the bounds", &set(&id, tee, 6), &[])?;
    post("remove the stickers", &set(&id, sticker, 0), &[])?;
    post("remove the last item", &set(&id, tee, 0), &[])?;
    post("unknown item", &set(&id, "li_doesNotExist0", 1), &[])?;
    post(
        "unknown session",
        &set("cs_test_doesNotExist0000", tee, 1),
        &[],
    )?;
    post("not JSON", "{", &[])?;
    post("negative quantity", &set(&id, tee, -1), &[])?;

    let key = [("Idempotency-Key", "quantity-1")];
    let first = post("keyed change", &set(&id, tee, 1), &key)?;
    let replay = post("keyed replay", &set(&id, tee, 1), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post("key reused with another body", &set(&id, tee, 2), &key)?;

    // The other carts hold no T-shirt: the stock is spoken for.
    let untracked: &[(&str, i64)] = &[(&c.sticker, 1), (&c.onboarding, 1)];
    let (expired, expired_items) = new_cart(untracked)?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &set(&expired, &expired_items[0], 2), &[])?;

    // An item whose price the catalog does not (or no longer) know.
    let legacy = off_catalog_price(&stack)?;
    let foreign = session_id(&stack.create_session(&[(&legacy, 1), (&c.sticker, 1)])?)?;
    let foreign_item = stack.stripe.session(&foreign)?["line_items"]["data"][0]["id"]
        .as_str()
        .ok_or("item id")?
        .to_owned();
    post(
        "item not in the catalog",
        &set(&foreign, &foreign_item, 2),
        &[],
    )?;

    let (refused, refused_items) = new_cart(untracked)?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post(
        "Stripe refuses the update",
        &set(&refused, &refused_items[0], 3),
        &[],
    )?;
    let (down, down_items) = new_cart(untracked)?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &set(&down, &down_items[0], 3), &[])?;

    let (slow, slow_items) = new_cart(untracked)?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "quantity-slow")];
    let change = set(&slow, &slow_items[0], 2);
    let [first, twin, other] = while_one_is_slow(
        &stack,
        Endpoint::UpdateQuantity,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&change, slow_key),
        (&change, slow_key),
        (&set(&slow, &slow_items[0], 3), &[]),
    )?;
    seen.record(&spec, "slow change", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    twin.assert_error(409, "request_in_progress");
    seen.record(&spec, "other change of a leased session", "POST", &other);
    other.assert_error(409, "session_busy");

    // stock_busy: needs DynamoDB transaction conflicts, which the local DynamoDB never has.
    // cart_too_large: the complimentary item would have to be the 101st of a payment cart, which
    // no cart this catalog can build reaches (add-cross-sell shows the code).
    seen.finish(
        &spec,
        &stack,
        &[(409, "stock_busy"), (422, "cart_too_large")],
    )
}
