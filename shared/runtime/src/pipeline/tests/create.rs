//! create-session: holds, the client secret, out of stock, what a failed create leaves held.

use super::*;

#[tokio::test]
async fn a_new_cart_holds_its_stock_and_answers_the_client_secret() {
    let app = app_with_return_url(FakeStripe::default());
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();

    let response = app.handle(post_with_key(NEW_CART, "cart-1"), create).await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["session"]["client_secret"], "cs_test_abc_secret_x");
    assert_eq!(body["session"]["line_items"][1]["quantity"], 2);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2));
}

#[tokio::test]
async fn a_new_cart_beyond_stock_is_409_and_creates_nothing() {
    let app = app_with_return_url(FakeStripe::default());
    app.inventory
        .receive(&Sku::parse("TEE").unwrap(), 1)
        .await
        .unwrap();
    let response = app.handle(post(NEW_CART), create).await;
    assert_eq!(response.status(), 409);
    assert!(
        app.stripe.session.lock().unwrap().is_none(),
        "no Stripe session"
    );
}

#[tokio::test]
async fn when_stripe_did_not_create_the_session_the_holds_are_released_and_when_it_may_have_they_stay(
) {
    let tee = Sku::parse("TEE").unwrap();
    for (error, held) in [
        // Stripe answered 500 to every key the request tried: no session.
        (None, 0),
        // No answer: Stripe may still create it, and that session needs its stock.
        (Some(no_answer()), 2),
    ] {
        let stripe = FakeStripe::default();
        *stripe.saved_500s.lock().unwrap() = FRESH_KEYS_PER_REQUEST;
        *stripe.update_error.lock().unwrap() = error;
        let app = app_with_return_url(stripe);
        app.inventory.receive(&tee, 5).await.unwrap();
        let response = app.handle(post(NEW_CART), create).await;
        assert_eq!(response.status(), 502);
        let level = app.inventory.stock(&tee).await.unwrap();
        assert_eq!((level.available, level.held), (5 - held, held));
    }
}

#[tokio::test]
async fn the_sweeper_releases_holds_of_sessions_that_never_came_to_be() {
    let app = app(FakeStripe::default());
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();
    app.inventory
        .move_holds(
            "rsv_lost",
            &[StockChange {
                sku: tee.clone(),
                from: 0,
                to: 3,
            }],
            &BTreeMap::new(),
            0,
            None,
        )
        .await
        .unwrap();

    let report = app.sweep(0).await;

    assert_eq!(report.units_released, 3);
    assert_eq!(report.errors, 0);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (5, 0));
    assert_eq!(
        app.sweep(0).await.holds_checked,
        0,
        "nothing left the second time"
    );
}
