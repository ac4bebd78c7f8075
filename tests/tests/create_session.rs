//! POST /checkout-sessions end to end: a cart checked against the catalog, its stock held, and an
//! Elements session created in the configured dialect, tagged with its reservation.

use e2e_tests::{Result, Secrets, Stack, Stock, GA_VERSION, PREVIEW_VERSION, TEE_SKU};

fn create_and_check(api_version: &'static str, ui_mode: &str) -> Result {
    let stack = Stack::start(api_version, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    let c = &stack.catalog;

    let reply = stack.create_cart(&[(&c.monthly, 1), (&c.tee, 2)], Some("cart-1"))?;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let session = &reply.body["session"];
    let id = session["id"].as_str().ok_or("id")?;
    assert!(session["client_secret"]
        .as_str()
        .is_some_and(|s| s.starts_with(id)));
    assert_eq!(session["amount_total"], 1500 + 2 * 2500);
    let stored = stack.stripe.session(id)?;
    assert_eq!(stored["mode"], "subscription");
    assert_eq!(stored["ui_mode"], "elements", "read back in the GA dialect");
    assert!(stored["metadata"]["cart_reservation"]
        .as_str()
        .is_some_and(|r| r.starts_with("rsv_")));
    let create = stack
        .stripe
        .requests()?
        .into_iter()
        .find(|r| r["method"] == "POST" && r["path"] == "/v1/checkout/sessions")
        .ok_or("no create request")?;
    assert_eq!(create["stripe_version"], api_version);
    let form = create["body"]
        .as_str()
        .unwrap_or_default()
        .replace("%5B", "[")
        .replace("%5D", "]");
    assert!(form.contains(&format!("ui_mode={ui_mode}")), "{form}");
    assert_eq!(
        form.contains("permissions[update_line_items]=server_only"),
        api_version == PREVIEW_VERSION,
        "{form}"
    );
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 3,
            held: 2,
            sold: 0,
            received: 5
        },
        "two T-shirts held"
    );

    // The created session is ours: the other endpoints accept it.
    let tee_line = stored["line_items"]["data"][1]["id"].as_str().ok_or("li")?;
    assert_eq!(stack.update_quantity(id, tee_line, 3)?.status, 200);
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 2,
            held: 3,
            sold: 0,
            received: 5
        }
    );

    // A retry with the same key is the same session, not a second one with more holds.
    let again = stack.create_cart(&[(&c.monthly, 1), (&c.tee, 2)], Some("cart-1"))?;
    assert!(again.replayed);
    assert_eq!(again.body, reply.body);
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 2,
            held: 3,
            sold: 0,
            received: 5
        }
    );
    Ok(())
}

#[test]
fn a_cart_becomes_an_elements_session_with_its_stock_held_under_the_preview_api() -> Result {
    create_and_check(PREVIEW_VERSION, "custom")
}

#[test]
fn a_cart_becomes_an_elements_session_with_its_stock_held_under_the_ga_api() -> Result {
    create_and_check(GA_VERSION, "elements")
}

#[test]
fn carts_beyond_stock_or_outside_the_catalog_create_nothing() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 1)?;
    let c = &stack.catalog;
    let cases = [
        (
            stack.create_cart(&[(&c.tee, 2)], None)?,
            409,
            "out_of_stock",
        ),
        (
            stack.create_cart(&[(&c.tee, 9)], None)?,
            422,
            "quantity_out_of_range",
        ),
        (
            stack.create_cart(&[("price_notforsale", 1)], None)?,
            422,
            "offer_not_available",
        ),
        (
            stack.create_cart(&[(&c.monthly, 1), (&c.yearly, 1)], None)?,
            422,
            "offer_not_available",
        ),
        (stack.create_cart(&[], None)?, 400, "invalid_request"),
    ];
    for (reply, status, code) in cases {
        reply.assert_error(status, code);
    }
    let out_of_stock = stack.create_cart(&[(&c.tee, 2)], None)?;
    assert_eq!(out_of_stock.body["available"], 1);
    let creates = stack
        .stripe
        .requests()?
        .into_iter()
        .filter(|r| r["path"] == "/v1/checkout/sessions")
        .count();
    assert_eq!(creates, 0, "Stripe never asked");
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 1,
            held: 0,
            sold: 0,
            received: 1
        }
    );
    Ok(())
}

#[test]
fn deployed_configuration_reads_the_key_and_catalog_from_ssm_parameters() -> Result {
    // As template.yaml deploys it: no secret or catalog in the environment, only parameter names.
    let stack = Stack::builder(GA_VERSION)
        .secrets(Secrets::InParameterStore)
        .start()?;
    stack.dynamo.receive(TEE_SKU, 2)?;
    let reply = stack.create_cart(&[(&stack.catalog.tee, 1)], None)?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 1,
            held: 1,
            sold: 0,
            received: 2
        }
    );
    Ok(())
}
