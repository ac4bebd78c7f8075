//! Stripe saves a failed write under its Idempotency-Key and replays it to every request that
//! reuses the key (API reference, "Idempotent requests": "including 500 errors"; stripe-python
//! `_should_retry`: a 500 comes with `Stripe-Should-Retry: false`). The fake Stripe does the
//! same: these tests fail when a retry reuses a key Stripe saved a failure under.

use super::*;
use crate::claims::RecordStatus;

fn post_quantity_with_key(body: &str, key: &str) -> Request {
    let mut request = post_with_key(body, key);
    *request.uri_mut() = "/update-quantity".parse().unwrap();
    request
}

async fn quantity_with_key(app: &TestApp, body: &str, key: &str) -> (u16, serde_json::Value) {
    let response = app
        .handle(post_quantity_with_key(body, key), update_quantity)
        .await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

fn update_keys(app: &TestApp) -> Vec<String> {
    let updates = app.stripe.updates.lock().unwrap();
    updates.iter().map(|(_, key)| key.clone()).collect()
}

#[tokio::test]
async fn one_saved_500_is_retried_in_the_request_under_a_new_key_after_reading_the_cart_again() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    *app.stripe.saved_500s.lock().unwrap() = 1;

    let (status, body) = quantity_with_key(&app, &set_tee(3), "click-1").await;

    assert_eq!(status, 200, "{body}");
    let keys = update_keys(&app);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_ne!(
        keys[0], keys[1],
        "the second write needs a key Stripe saved nothing under"
    );
    assert_eq!(tees_held_and_in_cart(&app, &tee).await, (3, 3));
}

#[tokio::test]
async fn after_saved_500s_the_clients_retry_with_the_same_key_moves_on_and_succeeds() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    *app.stripe.saved_500s.lock().unwrap() = FRESH_KEYS_PER_REQUEST;

    let (status, body) = quantity_with_key(&app, &set_tee(4), "click-2").await;
    assert_eq!(status, 502, "{body}");
    let record = app
        .claims
        .record("idem#change-interval#cs_test_abc#click-2")
        .expect("the failed attempt is remembered");
    assert_eq!(record.status, RecordStatus::Failed);
    assert_eq!(record.stripe_generation, FRESH_KEYS_PER_REQUEST);
    // A Stripe answer ends the write: nothing can land later, the session is free at once.
    let (status, body) = quantity_with_key(&app, &set_tee(4), "click-2").await;

    assert_eq!(status, 200, "{body}");
    let keys = update_keys(&app);
    let last = keys.last().unwrap();
    assert_eq!(
        keys.iter().filter(|k| *k == last).count(),
        1,
        "the retry's key is none Stripe saw: {keys:?}"
    );
    assert_eq!(tees_held_and_in_cart(&app, &tee).await, (4, 4));
    // And the answer is now stored: a further retry is a replay.
    let replay = app
        .handle(
            post_quantity_with_key(&set_tee(4), "click-2"),
            update_quantity,
        )
        .await;
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
}

#[tokio::test]
async fn a_failed_attempt_binds_its_key_to_its_body() {
    let app = app(FakeStripe::with(tee_session()));
    tees_held(&app, 10, 2).await;
    *app.stripe.saved_500s.lock().unwrap() = FRESH_KEYS_PER_REQUEST;
    let (status, _) = quantity_with_key(&app, &set_tee(4), "click-3").await;
    assert_eq!(status, 502);

    let (status, body) = quantity_with_key(&app, &set_tee(5), "click-3").await;

    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
}

#[tokio::test]
async fn a_create_whose_key_stripe_saved_a_500_under_converges_on_one_session_and_one_set_of_holds()
{
    let app = app_with_return_url(FakeStripe::default());
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();
    *app.stripe.saved_500s.lock().unwrap() = FRESH_KEYS_PER_REQUEST;

    let failed = app.handle(post_with_key(NEW_CART, "cart-9"), create).await;
    assert_eq!(failed.status(), 502);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (5, 0),
        "Stripe created nothing"
    );

    let created = app.handle(post_with_key(NEW_CART, "cart-9"), create).await;

    assert_eq!(created.status(), 200);
    let creates = app.stripe.creates.lock().unwrap().clone();
    let last = creates.last().unwrap();
    assert_eq!(
        creates.iter().filter(|k| *k == last).count(),
        1,
        "{creates:?}"
    );
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2));
}
