//! Stock holds around a Stripe update: more held before, fewer after, both carts covered while an answer is unknown, contention, shards.

use super::*;

#[tokio::test]
async fn more_units_than_available_is_409_out_of_stock_with_what_is_left() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 3, 2).await;

    let (status, body) = call_quantity(&app, &set_tee(4)).await;

    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("out_of_stock")),
        "{body}"
    );
    assert_eq!(body["available"], 1);
    assert!(app.stripe.updates.lock().unwrap().is_empty());
    let (status, _) = call_quantity(&app, &set_tee(3)).await;
    assert_eq!(status, 200);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (0, 3));
}

#[tokio::test]
async fn stock_moves_back_when_stripe_refuses_the_cart() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    *app.stripe.update_error.lock().unwrap() = Some(StripeError::Refused {
        status: 400,
        error_type: "invalid_request_error".into(),
        code: None,
        param: Some("line_items".into()),
        message: "refused".into(),
    });
    let (status, _) = call_quantity(&app, &set_tee(5)).await;

    assert_eq!(status, 500);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (8, 2),
        "hold back where the cart is"
    );
}

#[tokio::test]
async fn when_stripe_may_still_apply_the_cart_the_holds_cover_both_carts() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    *app.stripe.update_error.lock().unwrap() = Some(StripeError::Unavailable {
        attempts: 3,
        cause: "HTTP 503".into(),
        state: crate::stripe::WriteState::InFlight,
    });

    let (status, _) = call_quantity(&app, &set_tee(5)).await;

    assert_eq!(status, 502);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (5, 5),
        "a late update cannot oversell"
    );
    // The client's retry, once the update can no longer land, finds the cart where it was and
    // applies it.
    after_late_writes().await;
    let (status, _) = call_quantity(&app, &set_tee(5)).await;
    assert_eq!(status, 200);
    assert_eq!(tees_in_cart(&app), 5);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (5, 5));
}

#[tokio::test]
async fn an_update_stripe_applies_after_the_function_gave_up_never_lands_above_its_holds() {
    // The next request either leaves the T-shirts alone (2: a no-op on the cart it reads) or
    // changes them (3); both once released the surplus the late update still needed.
    for next in [2, 3] {
        let app = app(FakeStripe::with(tee_session()));
        let tee = tees_held(&app, 10, 2).await;
        *app.stripe.delay_update.lock().unwrap() = true;
        let response = app
            .handle(post_with_key(&set_tee(5), "first"), update_quantity)
            .await;
        assert_eq!(response.status(), 502);

        let during = app
            .handle(post_with_key(&set_tee(next), "next"), update_quantity)
            .await;
        app.stripe.land_late_update();
        let (held, in_cart) = tees_held_and_in_cart(&app, &tee).await;
        assert!(
            held >= in_cart,
            "next {next}: held {held} < {in_cart} in the cart"
        );
        assert_eq!(in_cart, 5);
        assert_eq!(
            (
                during.status().as_u16(),
                during.headers().contains_key("retry-after")
            ),
            (409, true),
            "next {next}: the session stays busy while the late update may land"
        );

        after_late_writes().await;
        let after = app
            .handle(post_with_key(&set_tee(next), "next"), update_quantity)
            .await;
        assert_eq!(after.status(), 200, "next {next}");
        assert_eq!(tees_held_and_in_cart(&app, &tee).await, (next, next));
    }
}

#[tokio::test]
async fn a_stock_item_busy_beyond_the_retries_is_409_stock_busy_with_retry_after() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    // Conflicts within the budget are retried inside the inventory: the shopper never sees them.
    app.inventory
        .conflicts
        .store(5, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = call_quantity(&app, &set_tee(3)).await;
    assert_eq!(status, 200, "{body}");

    app.inventory
        .conflicts
        .store(6, std::sync::atomic::Ordering::SeqCst);
    let response = app.handle(post(&set_tee(4)), update_quantity).await;

    assert_eq!(response.status(), 409);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["code"], "stock_busy", "not session_busy: {body}");
    assert_eq!(
        app.stripe.updates.lock().unwrap().len(),
        1,
        "only the first update"
    );
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (7, 3));
}

#[tokio::test]
async fn a_busy_answer_is_not_replayed_so_the_keyed_retry_runs() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    app.inventory
        .conflicts
        .store(6, std::sync::atomic::Ordering::SeqCst);
    let busy = app
        .handle(post_with_key(&set_tee(4), "k-busy"), update_quantity)
        .await;
    assert_eq!(busy.status(), 409);

    let retry = app
        .handle(post_with_key(&set_tee(4), "k-busy"), update_quantity)
        .await;

    assert_eq!(retry.status(), 200);
    assert!(retry.headers().get("idempotent-replayed").is_none());
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (6, 4));
}

#[tokio::test]
async fn on_four_shards_a_cart_outgrowing_its_shard_moves_there_and_sells_from_there() {
    let mut config = config();
    config.catalog = Catalog::from_json(
        r#"{"plans":[{"id":"pro","monthly":"price_pro_m","yearly":"price_pro_y"}],
            "products":[{"price":"price_tee","sku":"TEE","quantity":{"min":1,"max":5}},
                        {"price":"price_sticker"}],
            "inventory_shards":{"TEE":4}}"#,
    )
    .unwrap();
    let inventory = MemoryInventory::with_shards(shard_counts(&config.catalog));
    let app = App::new(
        FakeStripe::with(tee_session()),
        MemoryClaimStore::default(),
        inventory,
        &config,
        "update-quantity",
    );
    let tee = Sku::parse("TEE").unwrap();
    let home = crate::inventory::primary_shard("rsv_1", &tee, 4);
    let next = (home + 1) % 4;
    // 4 per shard, then 2 of the cart's shard moved to the next one: 2 and 6 there.
    app.inventory.receive(&tee, 16).await.unwrap();
    app.inventory.rebalance(&tee, home, next, 2).await.unwrap();
    let hold = [StockChange {
        sku: tee.clone(),
        from: 0,
        to: 2,
    }];
    move_holds_reconciled(&app.inventory, "rsv_1", &hold, 0, None, Reconcile::Both)
        .await
        .unwrap();

    // 5 do not fit on the cart's shard (nothing left there): the whole hold moves.
    let (status, body) = call_quantity(&app, &set_tee(5)).await;
    assert_eq!(status, 200, "{body}");
    let held = app
        .inventory
        .holds("rsv_1", std::slice::from_ref(&tee))
        .await
        .unwrap();
    let hold = held.get(&tee).unwrap();
    assert_eq!(
        (hold.quantity, hold.shard, hold.session.as_deref()),
        (5, next, Some("cs_test_abc"))
    );

    complete(&app, PaymentStatus::Paid);
    let response = app
        .handle_webhook(signed_event("checkout.session.completed"))
        .await;
    assert_eq!(response.status(), 200);
    let shards = app.inventory.shard_stock(&tee).await.unwrap();
    for (shard, l) in shards.iter().enumerate() {
        assert_eq!(l.available + l.held + l.sold, l.received, "shard {shard}");
        assert_eq!(l.held, 0, "shard {shard}: nothing left held");
    }
    let sold: Vec<u64> = shards.iter().map(|l| l.sold).collect();
    let mut expected = [0; 4];
    expected[usize::from(next)] = 5;
    assert_eq!(sold, expected, "sold from the shard the hold recorded");
    let total = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((total.available, total.sold, total.received), (11, 5, 16));
}

#[tokio::test]
async fn removing_a_tracked_item_releases_its_hold() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 5, 2).await;
    let (status, body) = call_quantity(&app, &set_tee(0)).await;
    assert_eq!(status, 200, "{body}");
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (5, 0));
}
