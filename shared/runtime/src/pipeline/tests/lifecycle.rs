//! The end of a checkout: delayed payments (Stripe's fulfilment guide: fulfil on `paid`,
//! `no_payment_required` or `checkout.session.async_payment_succeeded`), lost events repaired by
//! the sweeper, a session that never recorded itself on its holds, and holds that only go up
//! before Stripe answers.

use super::*;
use crate::stripe::CheckoutEvent;

/// Two T-shirts held for the fake's session (recorded on the hold, as create-session does),
/// which completes with `payment_status`.
async fn completed_with(app: &TestApp, payment_status: PaymentStatus) -> Sku {
    let tee = tees_held(app, 10, 2).await;
    app.inventory
        .attach_session("rsv_1", std::slice::from_ref(&tee), "cs_test_abc")
        .await
        .unwrap();
    complete(app, payment_status);
    tee
}

async fn level(app: &TestApp, tee: &Sku) -> (u64, u64, u64) {
    let level = app.inventory.stock(tee).await.unwrap();
    (level.available, level.held, level.sold)
}

async fn webhook_action(app: &TestApp, event: &str) -> String {
    let response = app.handle_webhook(signed_event(event)).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    body["action"].as_str().unwrap_or_default().to_owned()
}

/// Stripe records the event whether or not its delivery arrives.
fn record_event(app: &TestApp, kind: &str) {
    app.stripe.events.lock().unwrap().push(CheckoutEvent {
        id: format!("evt_{kind}"),
        kind: kind.into(),
        session: "cs_test_abc".into(),
        reservation: Some("rsv_1".into()),
        created: i64::try_from(now_ms() / 1000).unwrap(),
    });
}

#[tokio::test]
async fn a_completed_unpaid_session_keeps_its_units_out_of_stock_until_the_payment_fails() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = completed_with(&app, PaymentStatus::Unpaid).await;

    let action = webhook_action(&app, "checkout.session.completed").await;

    assert_eq!(action, "awaiting_payment");
    assert_eq!(
        level(&app, &tee).await,
        (8, 2, 0),
        "neither sellable nor sold"
    );
    let action = webhook_action(&app, "checkout.session.async_payment_failed").await;
    assert_eq!(action, "released");
    assert_eq!(level(&app, &tee).await, (10, 0, 0));
}

#[tokio::test]
async fn a_delayed_payment_that_succeeds_sells_the_units() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = completed_with(&app, PaymentStatus::Unpaid).await;
    assert_eq!(
        webhook_action(&app, "checkout.session.completed").await,
        "awaiting_payment"
    );

    complete(&app, PaymentStatus::Paid);
    let action = webhook_action(&app, "checkout.session.async_payment_succeeded").await;

    assert_eq!(action, "sold");
    assert_eq!(level(&app, &tee).await, (8, 0, 2));
}

#[tokio::test]
async fn the_sweeper_repairs_a_lost_async_payment_event_either_way() {
    for (paid, expected) in [(false, (10, 0, 0)), (true, (8, 0, 2))] {
        let app = app(FakeStripe::with(tee_session()));
        let tee = completed_with(&app, PaymentStatus::Unpaid).await;
        // The completion arrived; the async outcome's delivery is lost.
        webhook_action(&app, "checkout.session.completed").await;
        let pending = app.sweep(0).await;
        assert_eq!(pending.holds_awaiting_payment, 1, "{pending:?}");
        assert_eq!(level(&app, &tee).await, (8, 2, 0));
        if paid {
            complete(&app, PaymentStatus::Paid);
            record_event(&app, "checkout.session.async_payment_succeeded");
        } else {
            record_event(&app, "checkout.session.async_payment_failed");
        }

        let report = app.sweep(0).await;

        assert_eq!(report.holds_settled, 1, "{report:?}");
        assert_eq!(level(&app, &tee).await, expected, "paid: {paid}");
    }
}

#[tokio::test]
async fn a_paid_session_whose_webhook_was_lost_is_sold_by_the_sweeper_even_unrecorded_on_its_holds()
{
    let app = app_with_return_url(FakeStripe::default());
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();
    // Stripe creates the session; recording it on the holds fails (a throttled DynamoDB).
    *app.inventory.attach_failures.lock().unwrap() = 1;
    let failed = app
        .handle(post_with_key(NEW_CART, "cart-attach"), create)
        .await;
    assert_eq!(failed.status(), 500);
    let reservation = {
        let session = app.stripe.session.lock().unwrap();
        session.as_ref().unwrap().reservation().unwrap().to_owned()
    };
    // The shopper pays (the page had the session from elsewhere); the webhook is lost.
    complete(&app, PaymentStatus::Paid);
    app.stripe.events.lock().unwrap().push(CheckoutEvent {
        id: "evt_completed".into(),
        kind: "checkout.session.completed".into(),
        session: "cs_test_abc".into(),
        reservation: Some(reservation),
        created: i64::try_from(now_ms() / 1000).unwrap(),
    });

    let report = app.sweep(0).await;

    assert_eq!(
        (report.units_sold, report.units_released),
        (2, 0),
        "{report:?}"
    );
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held, level.sold),
        (3, 0, 2),
        "sold once"
    );
}

#[tokio::test]
async fn the_keyed_retry_of_a_create_whose_holds_missed_their_session_records_it() {
    let app = app_with_return_url(FakeStripe::default());
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();
    *app.inventory.attach_failures.lock().unwrap() = 1;
    let failed = app
        .handle(post_with_key(NEW_CART, "cart-retry"), create)
        .await;
    assert_eq!(
        failed.status(),
        500,
        "not a success with holds nobody can find"
    );

    let retried = app
        .handle(post_with_key(NEW_CART, "cart-retry"), create)
        .await;

    assert_eq!(retried.status(), 200);
    let session = app.stripe.session.lock().unwrap().clone().unwrap();
    let held = app
        .inventory
        .holds(session.reservation().unwrap(), std::slice::from_ref(&tee))
        .await
        .unwrap();
    assert_eq!(held[&tee].session.as_deref(), Some(session.id.as_str()));
    assert_eq!(held[&tee].quantity, 2, "one set of holds");
}

#[tokio::test]
async fn a_hold_above_the_cart_is_not_lowered_before_stripe_answers() {
    let app = app(FakeStripe::with(tee_session()));
    // The cart has 2; the hold drifted to 4 (an update that raised it was cut off).
    let tee = tees_held(&app, 10, 4).await;
    *app.stripe.update_error.lock().unwrap() = Some(no_answer());

    let (status, _) = call_quantity(&app, &set_tee(3)).await;

    assert_eq!(status, 502);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        level.held, 4,
        "Stripe may hold a cart of 3 or of the earlier 4"
    );
}

#[tokio::test]
async fn a_retried_create_sends_stripe_the_session_expiry_its_first_attempt_sent() {
    let stripe = FakeStripe::default();
    *stripe.update_error.lock().unwrap() = Some(no_answer());
    let app = app_with_return_url(stripe);
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();
    let lost = app
        .handle(post_with_key(NEW_CART, "cart-late"), create)
        .await;
    assert_eq!(lost.status(), 502);
    // A second later "now + lifetime" is another second.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    after_late_writes().await;

    let retried = app
        .handle(post_with_key(NEW_CART, "cart-late"), create)
        .await;

    assert_eq!(
        retried.status(),
        200,
        "the same key with the same parameters"
    );
    let sent = app.stripe.create_params.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one key: {sent:?}");
    assert!(
        sent.values().all(Option::is_some),
        "a stock-holding cart has a lifetime"
    );
}

#[tokio::test]
async fn a_hold_above_the_cart_comes_down_to_it_once_stripe_accepted_the_cart() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 4).await;

    let (status, _) = call_quantity(&app, &set_tee(3)).await;

    assert_eq!(status, 200);
    assert_eq!(tees_held_and_in_cart(&app, &tee).await, (3, 3));
}
