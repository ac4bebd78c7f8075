//! Stock through the end of a checkout, end to end: delayed payments (a session
//! completed `unpaid`, then its payment succeeds or fails, with or without its event), the
//! configured session lifetime, a hold that lost its session record, and a drifted hold while
//! Stripe's answer is unknown. Each test says what it guards.

use e2e_tests::lifecycle::{
    count, hold_pk, n, number, reservation_of, text, timed_sweep, wait_until, INVENTORY_TABLE,
};
use e2e_tests::{line_item_ids, now_s, Result, Stack, Stock, GA_VERSION, TEE_SKU};
use serde_json::{json, Value};
use std::time::Duration;

/// A session from create-session holding the plan and `tees` T-shirts: (id, reservation).
fn created(stack: &Stack, tees: i64) -> Result<(String, String)> {
    let c = &stack.catalog;
    let id = stack.new_cart(&[(&c.monthly, 1), (&c.tee, tees)])?;
    let reservation = reservation_of(stack, &id)?;
    Ok((id, reservation))
}

/// Waits until the reservation's T-shirt hold is in `state`; returns the hold item.
fn hold_in_state(stack: &Stack, reservation: &str, state: &str) -> Result<Value> {
    wait_until(Duration::from_secs(15), &format!("hold {state}"), || {
        let hold = stack.dynamo.hold(reservation, TEE_SKU)?;
        Ok((text(&hold, "state") == Some(state)).then_some(hold))
    })
}

fn stock_becomes(stack: &Stack, want: Stock) -> Result<()> {
    wait_until(Duration::from_secs(15), &format!("stock {want:?}"), || {
        Ok((stack.dynamo.stock(TEE_SKU)? == want).then_some(()))
    })
    .map_err(|e| format!("{e}; stock is {:?}", stack.dynamo.stock(TEE_SKU)).into())
}

/// A session completed unpaid, its completion delivered: the units wait for the money, out of
/// `available` and not sold, and a sweep past the hold's time (the session's own expiry long
/// gone) keeps them waiting. Returns (id, reservation).
fn awaiting_payment(stack: &Stack, tees: i64) -> Result<(String, String)> {
    let (id, reservation) = created(stack, tees)?;
    let session = stack.stripe.complete_with(&id, "unpaid")?;
    assert_eq!(
        (
            session["status"].as_str(),
            session["payment_status"].as_str()
        ),
        (Some("complete"), Some("unpaid"))
    );
    let hold = hold_in_state(stack, &reservation, "AWAITING_PAYMENT")?;
    let recheck = i64::try_from(number(&hold, "expires_at"))?;
    assert!(
        (now_s() + 3_500..=now_s() + 3_700).contains(&recheck),
        "rechecked in an hour: {recheck} vs now {}",
        now_s()
    );
    let tees = u64::try_from(tees)?;
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 10 - tees,
            held: tees,
            sold: 0,
            received: 10
        }
    );

    // The recheck comes and the payment is still pending: nothing moves.
    stack.dynamo.expire_hold(&reservation, TEE_SKU)?;
    let (report, _) = timed_sweep(stack)?;
    assert_eq!(count(&report, "holds_awaiting_payment")?, 1, "{report}");
    assert_eq!(
        (
            count(&report, "units_sold")?,
            count(&report, "units_released")?
        ),
        (0, 0),
        "{report}"
    );
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 10 - tees,
            held: tees,
            sold: 0,
            received: 10
        }
    );
    let hold = stack.dynamo.hold(&reservation, TEE_SKU)?;
    assert_eq!(text(&hold, "state"), Some("AWAITING_PAYMENT"));
    Ok((id, reservation))
}

/// Guards: an unpaid completion sells nothing; when its delayed payment fails, every unit goes
/// back on sale.
#[test]
fn an_unpaid_completion_then_a_failed_payment_returns_every_unit() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    stack.connect_webhooks()?;
    let (id, reservation) = awaiting_payment(&stack, 3)?;

    stack.stripe.async_payment(&id, "failed")?;
    stock_becomes(
        &stack,
        Stock {
            available: 10,
            held: 0,
            sold: 0,
            received: 10,
        },
    )?;
    hold_in_state(&stack, &reservation, "RELEASED")?;
    Ok(())
}

/// Guards: the async success is what sells a delayed payment.
#[test]
fn an_unpaid_completion_then_a_successful_payment_sells_the_units() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    stack.connect_webhooks()?;
    let (id, reservation) = awaiting_payment(&stack, 3)?;

    stack.stripe.async_payment(&id, "succeeded")?;
    stock_becomes(
        &stack,
        Stock {
            available: 7,
            held: 0,
            sold: 3,
            received: 10,
        },
    )?;
    hold_in_state(&stack, &reservation, "SOLD")?;
    Ok(())
}

/// Guards: a hold awaiting a delayed payment that is still pending at its recheck gets the next
/// recheck an hour later, as the webhook gave it the first. Left due, it is read and asked about
/// on every run, first in the sweeper's oldest-first batch (tests/tests/sweeper_scale.rs shows
/// where that ends with many of them).
#[test]
fn a_pending_payment_is_rechecked_an_hour_later_not_on_every_run() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    stack.connect_webhooks()?;
    let (_, reservation) = awaiting_payment(&stack, 3)?;
    let hold = stack.dynamo.hold(&reservation, TEE_SKU)?;
    let recheck = i64::try_from(number(&hold, "expires_at"))?;
    assert!(
        (now_s() + 3_500..=now_s() + 3_700).contains(&recheck),
        "a pending payment's hold is rechecked an hour later: {hold}"
    );
    let (report, _) = timed_sweep(&stack)?;
    assert_eq!(
        count(&report, "holds_checked")?,
        0,
        "not due again: {report}"
    );
    Ok(())
}

/// Guards: a lost async event is repaired by the sweeper from what Stripe says of the payment;
/// a completed session whose payment failed sells nothing.
#[test]
fn lost_async_payment_events_are_repaired_by_the_sweeper() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let endpoint = stack.connect_webhooks()?;
    let (failing, failing_rsv) = created(&stack, 2)?;
    let (paying, paying_rsv) = created(&stack, 3)?;
    for id in [&failing, &paying] {
        stack.stripe.complete_with(id, "unpaid")?;
    }
    for rsv in [&failing_rsv, &paying_rsv] {
        hold_in_state(&stack, rsv, "AWAITING_PAYMENT")?;
    }

    // Both async events are lost; Stripe still has them.
    stack.stripe.drop_events(&endpoint, 2)?;
    stack.stripe.async_payment(&failing, "failed")?;
    stack.stripe.async_payment(&paying, "succeeded")?;
    let failed = stack
        .stripe
        .events("checkout.session.async_payment_failed")?;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["data"]["object"]["id"], failing.as_str());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 5,
            held: 5,
            sold: 0,
            received: 10
        },
        "nothing arrived"
    );

    // The recheck time of both holds comes.
    for rsv in [&failing_rsv, &paying_rsv] {
        stack.dynamo.expire_hold(rsv, TEE_SKU)?;
    }
    let (report, _) = timed_sweep(&stack)?;
    assert_eq!(count(&report, "units_sold")?, 3, "{report}");
    assert_eq!(count(&report, "units_released")?, 2, "{report}");
    assert_eq!(count(&report, "holds_settled")?, 2, "{report}");
    assert_eq!(count(&report, "errors")?, 0, "{report}");
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 7,
            held: 0,
            sold: 3,
            received: 10
        }
    );
    assert_eq!(
        text(&stack.dynamo.hold(&failing_rsv, TEE_SKU)?, "state"),
        Some("RELEASED")
    );
    assert_eq!(
        text(&stack.dynamo.hold(&paying_rsv, TEE_SKU)?, "state"),
        Some("SOLD")
    );
    Ok(())
}

/// A session made by create-session: its lifetime as Stripe has it, the hold's expiry 10 min
/// after it, and the stock back once both have passed (no webhook: the sweeper does it).
fn lifetime_case(env: &[(&str, &str)], minutes: i64) -> Result<()> {
    let stack = Stack::start(GA_VERSION, env)?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let (id, reservation) = created(&stack, 2)?;
    let session = stack.stripe.session(&id)?;
    let created_at = session["created"].as_i64().ok_or("created")?;
    let expires_at = session["expires_at"].as_i64().ok_or("expires_at")?;
    // `expires_at` comes from the function's clock, `created` from Stripe's a moment later.
    assert!(
        (minutes * 60 - 2..=minutes * 60).contains(&(expires_at - created_at)),
        "a session holding stock lives {minutes} min, not Stripe's 24 h: {}",
        expires_at - created_at
    );
    let hold = stack.dynamo.hold(&reservation, TEE_SKU)?;
    assert_eq!(
        i64::try_from(number(&hold, "expires_at"))?,
        expires_at + 600,
        "the hold expires 10 min after its session"
    );

    // Before its time nothing is due.
    let (report, _) = timed_sweep(&stack)?;
    assert_eq!(count(&report, "holds_checked")?, 0, "{report}");
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 8,
            held: 2,
            sold: 0,
            received: 10
        }
    );

    // Past it: Stripe expires the abandoned session (its event is lost: no endpoint) and the
    // hold's time comes.
    stack.stripe.expire_session(&id, GA_VERSION)?;
    stack.dynamo.expire_hold(&reservation, TEE_SKU)?;
    let (report, _) = timed_sweep(&stack)?;
    assert_eq!(count(&report, "units_released")?, 2, "{report}");
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 10,
            held: 0,
            sold: 0,
            received: 10
        }
    );

    // A cart without tracked stock keeps Stripe's default day.
    let c = &stack.catalog;
    let reply = stack.create_cart(&[(&c.monthly, 1)], None)?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let plain = stack
        .stripe
        .session(reply.body["session"]["id"].as_str().ok_or("id")?)?;
    let lifetime = plain["expires_at"].as_i64().ok_or("expires_at")?
        - plain["created"].as_i64().ok_or("created")?;
    assert_eq!(lifetime, 24 * 3_600);
    Ok(())
}

/// Guards: a session made for stock-tracked units lives CHECKOUT_SESSION_LIFETIME_MINUTES, so an
/// abandoned cart keeps its stock that long and no longer.
#[test]
fn a_session_lives_the_configured_lifetime_then_gives_its_stock_back() -> Result {
    lifetime_case(&[("CHECKOUT_SESSION_LIFETIME_MINUTES", "45")], 45)
}

/// Guards: the shortest lifetime the configuration accepts (30 min, Stripe's minimum) must
/// still be accepted by Stripe when Stripe creates the session a second after the function read
/// its clock (network latency, clock skew): Stripe measures the 30 minutes from its own creation
/// time and refuses `expires_at` below it ("must be at least 30 minutes from Checkout Session
/// creation"; the emulator does the same).
#[test]
fn the_shortest_lifetime_survives_a_second_of_latency() -> Result {
    let stack = Stack::start(GA_VERSION, &[("CHECKOUT_SESSION_LIFETIME_MINUTES", "30")])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": "/v1/checkout/sessions", "latency_ms": 1_100, "count": 1,
    }))?;
    let c = &stack.catalog;
    let reply = stack.create_cart(&[(&c.monthly, 1), (&c.tee, 1)], None)?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    Ok(())
}

/// Guards: the default lifetime of a session that holds stock is 60 min.
#[test]
fn a_session_holding_stock_lives_an_hour_by_default() -> Result {
    lifetime_case(&[], 60)
}

/// Guards: a hold that never recorded its session (the record after Stripe's create failed) and
/// whose session was paid with the webhook lost is sold, not released (the units were paid for);
/// a hold for which no session was ever made is released.
#[test]
fn a_paid_hold_that_lost_its_session_record_and_its_webhook_sells_each_unit_once() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let endpoint = stack.connect_webhooks()?;
    let (id, reservation) = created(&stack, 3)?;
    // The attach failure: the hold does not name its session.
    let pk = hold_pk(&reservation, TEE_SKU);
    stack.dynamo.edit_items(&[pk], |hold| {
        if let Some(item) = hold.as_object_mut() {
            item.remove("session_id");
        }
    })?;
    assert!(stack.dynamo.hold(&reservation, TEE_SKU)?["session_id"].is_null());
    // And a reservation whose create never reached Stripe: 2 units held, no session anywhere.
    let orphan = "rsv_e2e_never_created";
    let hold = json!({
        "pk": { "S": hold_pk(orphan, TEE_SKU) }, "quantity": n(2), "shard": n(0),
        "state": { "S": "HELD" }, "sku": { "S": TEE_SKU }, "reservation": { "S": orphan },
        "expires_at": n(1), "sweep": { "S": "HELD" },
    });
    stack.dynamo.put(INVENTORY_TABLE, &hold)?;
    stack
        .dynamo
        .edit_items(&[format!("sku#{TEE_SKU}")], |stock| {
            stock["available"] = n(5);
            stock["held"] = n(5);
        })?;

    // The shopper pays; the webhook is lost.
    stack.stripe.drop_events(&endpoint, 1)?;
    stack.stripe.complete_with(&id, "paid")?;
    let completed = stack.stripe.events("checkout.session.completed")?;
    assert_eq!(completed.len(), 1, "Stripe recorded the completion");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 5,
            held: 5,
            sold: 0,
            received: 10
        }
    );

    stack.dynamo.expire_hold(&reservation, TEE_SKU)?;
    let (report, _) = timed_sweep(&stack)?;
    assert_eq!(count(&report, "units_sold")?, 3, "{report}");
    assert_eq!(count(&report, "units_released")?, 2, "{report}");
    let stock = stack.dynamo.stock(TEE_SKU)?;
    assert_eq!(
        (stock.available, stock.held, stock.sold),
        (7, 0, 3),
        "sold == units paid"
    );
    stock.assert_balanced(TEE_SKU);

    // The lost event delivered late changes nothing: each unit is sold once.
    let event = completed[0]["id"].as_str().ok_or("event id")?;
    stack
        .stripe
        .control(&format!("/_emulator/events/{event}/redeliver"), &json!({}))?;
    stack
        .stripe
        .wait_for_deliveries(1, Duration::from_secs(15))?;
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 7,
            held: 0,
            sold: 3,
            received: 10
        }
    );
    Ok(())
}

/// Guards: before Stripe answers an update, holds only go up. Here a hold drifted above the
/// cart (4 held for a cart of 2: a request that raised it died before Stripe saw its cart), and
/// the next update asks for 3 and Stripe's answer times out: the cart Stripe ends up with may be
/// the other request's larger one, so the hold stays at 4 until Stripe accepted a smaller cart.
#[test]
fn a_drifted_hold_is_not_lowered_before_stripe_answers() -> Result {
    let stack = Stack::start(GA_VERSION, &[("STRIPE_TIMEOUT_MS", "500")])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let (id, reservation) = created(&stack, 2)?;
    let tee_line = line_item_ids(&stack.stripe.session(&id)?)[1].clone();
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 8,
            held: 2,
            sold: 0,
            received: 10
        }
    );

    // The drift, consistent on both items: 2 more units held for this reservation.
    stack
        .dynamo
        .edit_items(&[hold_pk(&reservation, TEE_SKU)], |hold| {
            hold["quantity"] = n(4)
        })?;
    stack
        .dynamo
        .edit_items(&[format!("sku#{TEE_SKU}")], |stock| {
            stock["available"] = n(6);
            stock["held"] = n(4);
        })?;

    // Stripe's answer to the update comes after the function stopped waiting (it still applies).
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "latency_ms": 1_500,
    }))?;
    let reply = stack.update_quantity(&id, &tee_line, 3)?;
    assert!(reply.status >= 500, "{}: {}", reply.status, reply.body);
    let hold = stack.dynamo.hold(&reservation, TEE_SKU)?;
    assert_eq!(number(&hold, "quantity"), 4, "not lowered: {hold}");
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 6,
            held: 4,
            sold: 0,
            received: 10
        }
    );

    // The late write lands: Stripe's cart has 3, which the hold still covers.
    stack.stripe.clear_faults()?;
    let in_cart = wait_until(Duration::from_secs(10), "the late update", || {
        let session = stack.stripe.session(&id)?;
        let quantity = session["line_items"]["data"][1]["quantity"].as_u64();
        Ok(quantity.filter(|&q| q == 3))
    })?;
    let held = number(&stack.dynamo.hold(&reservation, TEE_SKU)?, "quantity");
    assert!(held >= in_cart, "held {held} < {in_cart} in the cart");
    Ok(())
}
