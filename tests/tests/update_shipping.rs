//! POST /update-shipping-details end to end: the destination picks the shipping options (by the
//! cart's paid subtotal) and the tax rate of every line item, and both follow every later change
//! of the cart (update-quantity across the free-shipping tier, add-cross-sell on a taxed cart).

use e2e_tests::{Endpoint, Result, Stack, GA_VERSION, MUG_SKU, PREVIEW_VERSION, TEE_SKU};
use serde_json::{json, Value};

/// The session as Stripe (the emulator) holds it, with its shipping rates expanded.
fn session(stack: &Stack, id: &str) -> Result<Value> {
    match stack.stripe.get(
        &format!(
            "/v1/checkout/sessions/{id}?expand[]=line_items.data.taxes&expand[]=shipping_options.shipping_rate"
        ),
        GA_VERSION,
    )? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("GET session -> {status}: {body}").into()),
    }
}

/// `(display_name, amount)` of each shipping option, in order.
fn options(session: &Value) -> Vec<(String, i64)> {
    session["shipping_options"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["shipping_rate"]["display_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o["shipping_amount"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// The tax rate ids of every line item, in order.
fn taxes(session: &Value) -> Vec<Vec<String>> {
    session["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|li| {
            li["taxes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["rate"]["id"].as_str().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn pair(name: &str, amount: i64) -> (String, i64) {
    (name.to_owned(), amount)
}

#[test]
fn a_destination_sets_the_options_for_the_subtotal_and_taxes_every_line() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    let c = &stack.catalog;
    // One T-shirt ($25) and a sticker pack ($5): $30 paid, below the free-shipping tier.
    let id = stack.new_cart(&[(&c.tee, 1), (&c.sticker, 1)])?;

    let reply = stack.update_shipping(&id, "US", Some("CA"))?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let s = session(&stack, &id)?;
    assert_eq!(
        options(&s),
        vec![pair("Standard", 500), pair("Express", 1_500)]
    );
    let standard = &s["shipping_options"][0]["shipping_rate"];
    assert_eq!(
        standard["delivery_estimate"]["minimum"]["unit"],
        "business_day"
    );
    assert_eq!(standard["delivery_estimate"]["minimum"]["value"], 3);
    assert_eq!(standard["delivery_estimate"]["maximum"]["value"], 5);
    assert_eq!(standard["fixed_amount"]["currency"], "usd");
    let address = &s["collected_information"]["shipping_details"]["address"];
    assert_eq!(
        (address["country"].as_str(), address["state"].as_str()),
        (Some("US"), Some("CA"))
    );
    assert_eq!(
        s["collected_information"]["shipping_details"]["name"],
        "Ada Lovelace"
    );
    // California's rate (more specific than the US one) on every line.
    assert_eq!(
        taxes(&s),
        vec![vec![c.tax_us_ca.clone()], vec![c.tax_us_ca.clone()]]
    );
    // $30 + 8.25 % tax per line (206.25 → 206, 41.25 → 41) + the first (selected) option, $5.
    assert_eq!(s["amount_subtotal"], 3_000);
    assert_eq!(s["total_details"]["amount_tax"], 206 + 41);
    assert_eq!(s["amount_total"], 3_000 + 247 + 500);
    // The function answers with what Stripe now holds.
    assert_eq!(reply.body["session"]["amount_total"], 3_747);

    // The same details again: success without another update.
    let updates = stack.stripe.session_updates(&id)?.len();
    assert_eq!(stack.update_shipping(&id, "US", Some("CA"))?.status, 200);
    assert_eq!(stack.stripe.session_updates(&id)?.len(), updates);

    // Another state: the US rate. Canada: no rate, so the items' rates are cleared.
    assert_eq!(stack.update_shipping(&id, "US", Some("NY"))?.status, 200);
    assert_eq!(
        taxes(&session(&stack, &id)?),
        vec![vec![c.tax_us.clone()], vec![c.tax_us.clone()]]
    );
    assert_eq!(stack.update_shipping(&id, "CA", Some("ON"))?.status, 200);
    let s = session(&stack, &id)?;
    assert_eq!(taxes(&s), vec![Vec::<String>::new(), Vec::new()]);
    assert_eq!(s["amount_total"], 3_000 + 500);
    Ok(())
}

#[test]
fn the_options_follow_the_subtotal_and_added_items_carry_the_tax() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    stack.dynamo.receive(MUG_SKU, 2)?;
    let c = &stack.catalog;
    let id = stack.new_cart(&[(&c.tee, 1)])?;
    let tee_line = e2e_tests::line_item_ids(&session(&stack, &id)?)
        .first()
        .cloned()
        .ok_or("tee line")?;
    assert_eq!(stack.update_shipping(&id, "US", None)?.status, 200);
    assert_eq!(
        options(&session(&stack, &id)?),
        vec![pair("Standard", 500), pair("Express", 1_500)]
    );

    // Two T-shirts = $50: the free tier (the gift that comes with it does not count), and the
    // gift line is taxed like the rest.
    assert_eq!(stack.update_quantity(&id, &tee_line, 2)?.status, 200);
    let s = session(&stack, &id)?;
    assert_eq!(
        options(&s),
        vec![pair("Free shipping", 0), pair("Express", 1_000)]
    );
    assert_eq!(
        taxes(&s),
        vec![vec![c.tax_us.clone()], vec![c.tax_us.clone()]]
    );
    assert_eq!(s["amount_total"], 5_000 + 250);

    // The mug added to the taxed cart carries the rate too.
    let added = stack.add_cross_sell(&id, &c.mug)?;
    assert_eq!(added.status, 200, "{}", added.body);
    let s = session(&stack, &id)?;
    assert_eq!(taxes(&s).len(), 3);
    assert!(
        taxes(&s).iter().all(|t| *t == [c.tax_us.clone()]),
        "{:?}",
        taxes(&s)
    );

    // Back to one T-shirt: $37 with the mug, below the tier again (and the gift leaves).
    assert_eq!(stack.update_quantity(&id, &tee_line, 1)?.status, 200);
    let s = session(&stack, &id)?;
    assert_eq!(
        options(&s),
        vec![pair("Standard", 500), pair("Express", 1_500)]
    );
    assert_eq!(s["amount_subtotal"], 3_700);
    assert_eq!(s["amount_total"], 3_700 + 125 + 60 + 500);
    Ok(())
}

#[test]
fn every_refusal_is_a_4xx_that_changes_nothing() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    let c = &stack.catalog;
    let id = stack.new_cart(&[(&c.tee, 1)])?;
    let send = |body: &Value| {
        stack
            .functions
            .call(Endpoint::UpdateShipping, &body.to_string(), &[])
    };
    let address = json!({ "line1": "1 Main St", "city": "X", "postal_code": "1", "country": "US" });
    let with = |field: &str, value: Value| {
        let mut a = address.clone();
        a[field] = value;
        json!({ "checkout_session_id": id, "shipping_details": { "name": "Ada", "address": a } })
    };
    let long = "x".repeat(201);
    let cases = [
        (
            stack.update_shipping(&id, "FR", None)?,
            422,
            "destination_not_supported",
            Some("shipping_details.address.country"),
        ),
        (
            send(&with("country", json!("us")))?,
            400,
            "invalid_request",
            Some("shipping_details.address.country"),
        ),
        (
            send(&with("line1", Value::Null))?,
            400,
            "invalid_request",
            Some("shipping_details.address.line1"),
        ),
        (
            send(&with("city", json!(long)))?,
            400,
            "invalid_request",
            Some("shipping_details.address.city"),
        ),
        (
            send(
                &json!({ "checkout_session_id": id, "shipping_details": { "address": address } }),
            )?,
            400,
            "invalid_request",
            Some("shipping_details.name"),
        ),
        (
            send(&json!({ "checkout_session_id": id }))?,
            400,
            "invalid_request",
            Some("shipping_details"),
        ),
        (
            stack.functions.call(Endpoint::UpdateShipping, "{", &[])?,
            400,
            "invalid_json",
            None,
        ),
        (
            stack.update_shipping("cs_test_nosuchsession1", "US", None)?,
            404,
            "session_not_found",
            None,
        ),
    ];
    for (reply, status, code, param) in cases {
        reply.assert_error(status, code);
        assert_eq!(reply.body["param"].as_str(), param, "{}", reply.body);
    }
    assert!(stack.stripe.session_updates(&id)?.is_empty());

    // A finished session cannot be changed.
    stack.stripe.expire_session(&id, GA_VERSION)?;
    let expired = stack.update_shipping(&id, "US", None)?;
    expired.assert_error(409, "session_not_updatable");
    Ok(())
}

#[test]
fn a_subscription_gets_its_tax_but_no_shipping_options_in_the_preview_dialect_too() -> Result {
    let stack = Stack::start(PREVIEW_VERSION, &[])?;
    let c = &stack.catalog;
    let id = stack.new_cart(&[(&c.monthly, 1)])?;
    let reply = stack.update_shipping(&id, "US", Some("CA"))?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let s = session(&stack, &id)?;
    // Stripe has no shipping rates in subscription mode.
    assert!(options(&s).is_empty());
    assert_eq!(taxes(&s), vec![vec![c.tax_us_ca.clone()]]);
    assert_eq!(s["amount_total"], 1_500 + 124);
    assert_eq!(
        s["collected_information"]["shipping_details"]["address"]["state"],
        "CA"
    );
    Ok(())
}
