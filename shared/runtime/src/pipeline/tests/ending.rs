//! What ends a session's holds and what a killed request leaves: the webhook, the sweeper, lost answers, kills at every step.

use super::*;

#[tokio::test]
async fn fewer_units_are_released_only_after_stripe_accepted_the_cart() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 5, 2).await;
    *app.stripe.update_error.lock().unwrap() = Some(StripeError::Unavailable {
        attempts: 3,
        cause: "HTTP 503".into(),
        state: crate::stripe::WriteState::InFlight,
    });

    let (status, _) = call_quantity(&app, &set_tee(1)).await;

    assert_eq!(status, 502);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (3, 2),
        "the cart still holds 2"
    );
}

#[tokio::test]
async fn when_stripe_applied_the_update_but_the_answer_was_lost_the_retry_releases_the_surplus() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 5, 2).await;
    *app.stripe.lose_update_answer.lock().unwrap() = true;

    let (status, _) = call_quantity(&app, &set_tee(1)).await;

    assert_eq!(status, 502);
    assert_eq!(tees_in_cart(&app), 1, "Stripe applied it");
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2), "still covers both");

    after_late_writes().await;
    let (status, _) = call_quantity(&app, &set_tee(1)).await;
    assert_eq!(status, 200);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (4, 1),
        "the retry found the cart done and gave the surplus back"
    );
}

#[tokio::test]
async fn a_completed_session_gives_back_the_hold_of_an_item_no_longer_in_its_cart() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tee_removed_with_the_answer_lost(&app).await;
    complete(&app, PaymentStatus::Paid);

    let response = app
        .handle_webhook(signed_event("checkout.session.completed"))
        .await;

    assert_eq!(response.status(), 200);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held, level.sold),
        (5, 0, 0),
        "nothing sold, nothing left held"
    );
}

#[tokio::test]
async fn a_quantity_change_killed_at_any_step_converges_on_retry_with_holds_matching_the_cart() {
    let mut runs = tokio::task::JoinSet::new();
    for hang in KILL_POINTS {
        // Up (stock held before the Stripe update) and down (released after it).
        for quantity in [4, 1] {
            runs.spawn(async move {
                let app = app(FakeStripe::with(tee_session()));
                let tee = tees_held(&app, 10, 2).await;
                let (retried, _) =
                    kill_then_retry(&app, hang, &set_tee(quantity), update_quantity).await;
                assert_eq!(retried.status(), 200, "{hang:?} → {quantity}");
                assert_eq!(tees_in_cart(&app), quantity, "{hang:?} → {quantity}");
                let level = app.inventory.stock(&tee).await.unwrap();
                assert_eq!(
                    (level.available, level.held),
                    (10 - quantity, quantity),
                    "{hang:?} → {quantity}: holds follow the cart"
                );
            });
        }
    }
    while let Some(run) = runs.join_next().await {
        run.unwrap();
    }
}

#[tokio::test]
async fn a_create_killed_at_any_step_converges_on_retry_with_one_set_of_holds() {
    let mut runs = tokio::task::JoinSet::new();
    for hang in [Hang::BeforeWrite, Hang::AfterWrite] {
        runs.spawn(async move {
            let app = app_with_return_url(FakeStripe::default());
            let tee = Sku::parse("TEE").unwrap();
            app.inventory.receive(&tee, 5).await.unwrap();
            let (retried, _) = kill_then_retry(&app, hang, NEW_CART, create).await;
            assert_eq!(retried.status(), 200, "{hang:?}");
            assert_eq!(tees_in_cart(&app), 2);
            let level = app.inventory.stock(&tee).await.unwrap();
            assert_eq!((level.available, level.held), (3, 2), "{hang:?}");
        });
    }
    while let Some(run) = runs.join_next().await {
        run.unwrap();
    }
}
