//! POST /update-quantity end to end: quantities within the catalog's bounds, stock held and
//! released by the difference in DynamoDB (moto), the cart in the Stripe emulator.

use e2e_tests::{line_item_ids, Result, Stack, Stock, GA_VERSION, TEE_SKU};
use serde_json::{json, Value};

fn items(session: &Value) -> Vec<Value> {
    session["line_items"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// An open session holding the plan and one T-shirt, and its T-shirt line item id.
fn tee_session(stack: &Stack) -> Result<(String, String)> {
    let c = &stack.catalog;
    let created = stack.create_session(&[(&c.monthly, 1), (&c.tee, 1)])?;
    let id = created["id"].as_str().ok_or("session id")?.to_owned();
    let tee_line = line_item_ids(&stack.stripe.session(&id)?)[1].clone();
    Ok((id, tee_line))
}

/// available + held + sold == received, and nothing negative (u64).
fn assert_invariant(stack: &Stack) -> Result<Stock> {
    let stock = stack.dynamo.stock(TEE_SKU)?;
    stock.assert_balanced(TEE_SKU);
    Ok(stock)
}

#[test]
fn quantities_go_up_down_and_to_zero_with_stock_following() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 6)?;
    let (id, tee) = tee_session(&stack)?;

    let up = stack.update_quantity(&id, &tee, 3)?;
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 3,
            held: 3,
            sold: 0,
            received: 6
        }
    );
    let session = stack.stripe.session(&id)?;
    assert_eq!(items(&session)[1]["quantity"], 3);
    assert_eq!(
        items(&session)[1]["id"],
        tee.as_str(),
        "the item keeps its id"
    );
    assert_eq!(session["amount_total"], 1500 + 3 * 2500);

    assert_eq!(stack.update_quantity(&id, &tee, 1)?.status, 200);
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 5,
            held: 1,
            sold: 0,
            received: 6
        }
    );

    let removed = stack.update_quantity(&id, &tee, 0)?;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 6,
            held: 0,
            sold: 0,
            received: 6
        }
    );
    assert_eq!(items(&stack.stripe.session(&id)?).len(), 1);
    Ok(())
}

#[test]
fn stock_another_cart_holds_is_not_promised_twice() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 4)?;
    let (first, first_tee) = tee_session(&stack)?;
    let (second, second_tee) = tee_session(&stack)?;
    assert_eq!(stack.update_quantity(&first, &first_tee, 3)?.status, 200);

    let refused = stack.update_quantity(&second, &second_tee, 2)?;

    refused.assert_error(409, "out_of_stock");
    assert_eq!(refused.body["available"], 1);
    assert_eq!(items(&stack.stripe.session(&second)?)[1]["quantity"], 1);
    assert!(stack.stripe.session_updates(&second)?.is_empty());
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 1,
            held: 3,
            sold: 0,
            received: 4
        }
    );
    Ok(())
}

#[test]
fn quantity_rules_answer_4xx_and_change_nothing() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let (id, tee) = tee_session(&stack)?;
    let plan = line_item_ids(&stack.stripe.session(&id)?)[0].clone();

    let cases = [
        (
            stack.update_quantity(&id, &tee, 6)?,
            422,
            "quantity_out_of_range",
        ),
        (
            stack.update_quantity(&id, &plan, 0)?,
            422,
            "cannot_remove_last_item",
        ),
        (
            stack.update_quantity(&id, "li_notinthiscart", 2)?,
            404,
            "line_item_not_found",
        ),
        (
            stack.update_quantity(&id, &tee, -1)?,
            400,
            "invalid_request",
        ),
    ];
    for (reply, status, code) in cases {
        reply.assert_error(status, code);
    }
    assert!(stack.stripe.session_updates(&id)?.is_empty());
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 10,
            held: 0,
            sold: 0,
            received: 10
        }
    );

    // A session this app did not create (no reservation) is not ours to change.
    let (status, foreign) = stack.stripe.post(
        "/v1/checkout/sessions",
        &[
            ("mode", "payment"),
            ("ui_mode", "elements"),
            ("return_url", "https://shop.example/return"),
            ("line_items[0][price]", &stack.catalog.tee),
            ("line_items[0][quantity]", "1"),
        ],
        GA_VERSION,
    )?;
    assert_eq!(status, 200);
    let foreign_id = foreign["id"].as_str().ok_or("id")?;
    let foreign_tee = line_item_ids(&stack.stripe.session(foreign_id)?)[0].clone();
    let reply = stack.update_quantity(foreign_id, &foreign_tee, 2)?;
    reply.assert_error(409, "session_not_updatable");
    Ok(())
}

#[test]
fn when_stripe_fails_the_holds_cover_both_carts_until_the_next_change() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let (id, tee) = tee_session(&stack)?;
    assert_eq!(stack.update_quantity(&id, &tee, 2)?.status, 200);
    // Every attempt the function makes fails; Stripe might still apply one later (a 500 does
    // not say it did not), so the 5 stay held.
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "status": 500,
        "count": 3,
    }))?;

    let failed = stack.update_quantity(&id, &tee, 5)?;

    assert_eq!(failed.status, 502, "{}", failed.body);
    assert_eq!(items(&stack.stripe.session(&id)?)[1]["quantity"], 2);
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 5,
            held: 5,
            sold: 0,
            received: 10
        },
        "held for the cart Stripe may still apply"
    );
    // The next change settles the holds on the cart it makes.
    assert_eq!(stack.update_quantity(&id, &tee, 3)?.status, 200);
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 7,
            held: 3,
            sold: 0,
            received: 10
        }
    );
    Ok(())
}

#[test]
fn a_cart_that_returns_to_an_earlier_state_is_still_updated() -> Result {
    // 1 → 2 → 1 → 2: the last request has the same cart and plan as the first. Without a client
    // key it must be a new Stripe update, not a replay of the first one's answer.
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let (id, tee) = tee_session(&stack)?;
    for quantity in [2, 1, 2] {
        assert_eq!(stack.update_quantity(&id, &tee, quantity)?.status, 200);
    }
    assert_eq!(items(&stack.stripe.session(&id)?)[1]["quantity"], 2);
    assert_eq!(
        assert_invariant(&stack)?,
        Stock {
            available: 8,
            held: 2,
            sold: 0,
            received: 10
        },
        "the hold is the cart's"
    );
    Ok(())
}
