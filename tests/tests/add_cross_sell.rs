//! POST /add-cross-sell end to end, and the cart rules firing across actions: the complimentary
//! gift follows the paid subtotal, recurring cross-sells follow change-interval.

use e2e_tests::{Result, Stack, Stock, GA_VERSION, MUG_SKU, TEE_SKU};
use serde_json::{json, Value};

fn prices(session: &Value) -> Vec<String> {
    session["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|li| li["price"]["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn an_offer_is_added_once_with_its_stock_held() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    stack.dynamo.receive(MUG_SKU, 1)?;
    let c = &stack.catalog;
    let id = stack.new_cart(&[(&c.monthly, 1), (&c.tee, 1)])?;

    let added = stack.add_cross_sell(&id, &c.mug)?;
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(
        prices(&stack.stripe.session(&id)?),
        vec![c.monthly.clone(), c.tee.clone(), c.mug.clone()]
    );
    assert_eq!(
        stack.dynamo.stock(MUG_SKU)?,
        Stock {
            available: 0,
            held: 1,
            sold: 0,
            received: 1
        }
    );

    // Again: a success without a change.
    let again = stack.add_cross_sell(&id, &c.mug)?;
    assert_eq!(again.status, 200);
    assert_eq!(stack.stripe.session_updates(&id)?.len(), 1);

    // Another cart wants the last mug: out of stock, nothing changes there.
    let other = stack.new_cart(&[(&c.monthly, 1)])?;
    let refused = stack.add_cross_sell(&other, &c.mug)?;
    refused.assert_error(409, "out_of_stock");
    assert_eq!(refused.body["available"], 0);
    Ok(())
}

#[test]
fn offers_that_do_not_fit_the_cart_are_422_and_bad_input_400() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    let c = &stack.catalog;
    let subscription = stack.new_cart(&[(&c.monthly, 1)])?;
    let one_off = stack.new_cart(&[(&c.tee, 1)])?;
    let cases = [
        (
            stack.add_cross_sell(&subscription, &c.sticker)?,
            422,
            "offer_not_available",
        ), // not an offer
        (
            stack.add_cross_sell(&subscription, &c.support_yearly)?,
            422,
            "offer_not_available",
        ), // wrong interval
        (
            stack.add_cross_sell(&one_off, &c.support_monthly)?,
            422,
            "offer_not_available",
        ), // needs Pro
        (
            stack.add_cross_sell(&subscription, "prod_123")?,
            400,
            "invalid_request",
        ),
        (
            stack.add_cross_sell("cs_test_nosuchsession1", &c.mug)?,
            404,
            "session_not_found",
        ),
    ];
    for (reply, status, code) in cases {
        reply.assert_error(status, code);
    }
    Ok(())
}

#[test]
fn recurring_cross_sells_follow_the_interval_and_the_gift_follows_the_subtotal() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;

    // change-interval swaps the support add-on along with the plan.
    let id = stack.new_cart(&[(&c.monthly, 1)])?;
    assert_eq!(stack.add_cross_sell(&id, &c.support_monthly)?.status, 200);
    let body = json!({ "checkout_session_id": id, "interval": "yearly" }).to_string();
    assert_eq!(stack.change_interval(&body)?.0, 200);
    assert_eq!(
        prices(&stack.stripe.session(&id)?),
        vec![c.yearly.clone(), c.support_yearly.clone()]
    );

    // A one-off cart of one T-shirt ($25): no gift; two ($50): the gift; back to one: gone.
    let one_off = stack.new_cart(&[(&c.tee, 1)])?;
    let tee_line = stack.stripe.session(&one_off)?["line_items"]["data"][0]["id"]
        .as_str()
        .ok_or("li")?
        .to_owned();
    assert_eq!(
        prices(&stack.stripe.session(&one_off)?),
        vec![c.tee.clone()]
    );
    assert_eq!(stack.update_quantity(&one_off, &tee_line, 2)?.status, 200);
    assert_eq!(
        prices(&stack.stripe.session(&one_off)?),
        vec![c.tee.clone(), c.gift.clone()]
    );
    assert_eq!(stack.update_quantity(&one_off, &tee_line, 1)?.status, 200);
    assert_eq!(
        prices(&stack.stripe.session(&one_off)?),
        vec![c.tee.clone()]
    );
    Ok(())
}

#[test]
fn concurrent_cross_sells_and_quantity_changes_never_lose_an_update() -> Result {
    // Both requests retransmit the whole cart; without the session lease the later one would
    // silently drop the other's change.
    const SESSIONS: usize = 10;
    let stack = Stack::builder(GA_VERSION).instances(4).start()?;
    stack.dynamo.receive(TEE_SKU, 50)?;
    stack.dynamo.receive(MUG_SKU, 50)?;
    let c = &stack.catalog;
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let id = stack.new_cart(&[(&c.monthly, 1), (&c.tee, 1)])?;
        let tee_line = stack.stripe.session(&id)?["line_items"]["data"][1]["id"]
            .as_str()
            .ok_or("li")?
            .to_owned();
        sessions.push((id, tee_line));
    }

    let outcomes: Vec<(u16, u16)> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .iter()
            .map(|(id, tee_line)| {
                let stack = &stack;
                let add = scope.spawn(move || stack.add_cross_sell(id, &stack.catalog.mug));
                let set = scope.spawn(move || stack.update_quantity(id, tee_line, 3));
                (add, set)
            })
            .collect();
        handles
            .into_iter()
            .map(|(add, set)| {
                let status = |h: std::thread::ScopedJoinHandle<'_, Result<e2e_tests::Reply>>| {
                    h.join().ok().and_then(|r| r.ok()).map_or(0, |r| r.status)
                };
                (status(add), status(set))
            })
            .collect()
    });

    let mut both = 0;
    for ((id, _), (added, set)) in sessions.iter().zip(&outcomes) {
        assert!(
            matches!(added, 200 | 409),
            "add-cross-sell answered {added}"
        );
        assert!(matches!(set, 200 | 409), "update-quantity answered {set}");
        let session = stack.stripe.session(id)?;
        let cart = prices(&session);
        if *added == 200 {
            assert!(cart.contains(&c.mug), "the mug was kept: {cart:?}");
        }
        if *set == 200 {
            assert_eq!(session["line_items"]["data"][1]["quantity"], 3, "{cart:?}");
        }
        both += usize::from(*added == 200 && *set == 200);
    }
    assert!(
        both > 0,
        "no session had both changes succeed: {outcomes:?}"
    );
    let stock = stack.dynamo.stock(MUG_SKU)?;
    stock.assert_balanced(MUG_SKU);
    Ok(())
}
