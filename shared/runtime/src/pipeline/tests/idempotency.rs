//! Client Idempotency-Keys and the session lease: replays, reuse with another body, busy sessions, forgotten failures, derived Stripe keys.

use super::*;

#[test]
fn idempotency_keys_follow_the_cart_and_the_plan() {
    let app = app(FakeStripe::default());
    let session = open_session();
    let catalog = app.catalog.clone();
    let action = cart_domain::CartAction::ChangeInterval(cart_domain::Interval::Yearly);
    let plan = plan(&session, &action, &catalog, app.policy).unwrap();
    let client = IdempotencyKey::parse(b"client-1").unwrap();
    let keyed = StripeKeys {
        client_key: Some(&client),
        generation: 0,
    };
    let unkeyed = StripeKeys {
        client_key: None,
        generation: 0,
    };
    let first = app.stripe_idempotency_key(&session, &plan, &keyed);
    assert_eq!(
        first,
        app.stripe_idempotency_key(&session, &plan, &keyed),
        "a client's retry gets Stripe's replay"
    );
    assert!(first.len() <= 255);
    let mut changed = session.clone();
    changed.line_items[1].quantity = 2;
    assert_ne!(first, app.stripe_idempotency_key(&changed, &plan, &keyed));
    // Without a client key the same cart and plan later on is a new request (1 → 2 → 1 → 2).
    assert_ne!(
        app.stripe_idempotency_key(&session, &plan, &unkeyed),
        app.stripe_idempotency_key(&session, &plan, &unkeyed)
    );
    // The same cart shipped elsewhere is another request: Stripe must not replay the first.
    let mut taxed = plan.clone();
    taxed.tax_rates = Some(vec!["txr_1".into()]);
    assert_ne!(first, app.stripe_idempotency_key(&session, &taxed, &keyed));
    // After Stripe saved a failure under the key, the next generation is another key.
    let next = StripeKeys {
        client_key: Some(&client),
        generation: 1,
    };
    assert_ne!(first, app.stripe_idempotency_key(&session, &plan, &next));
}

#[tokio::test]
async fn a_repeated_key_replays_the_stored_response_without_touching_stripe() {
    let app = app(FakeStripe::with(open_session()));
    let first = app
        .handle(post_with_key(YEARLY, "k-1"), change_interval)
        .await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    *app.stripe.retrieve_error.lock().unwrap() =
        Some(StripeError::Malformed("must not be called".into()));

    let again = app
        .handle(post_with_key(YEARLY, "k-1"), change_interval)
        .await;

    assert_eq!(again.status(), 200);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(
        again.body().as_ref(),
        first.body().as_ref(),
        "identical body"
    );
    assert_eq!(app.stripe.updates.lock().unwrap().len(), 1);
    assert!(
        app.claims.lease_holder("lease#cs_test_abc").is_none(),
        "lease released"
    );
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_a_422() {
    let app = app(FakeStripe::with(open_session()));
    app.handle(post_with_key(YEARLY, "k-1"), change_interval)
        .await;
    let other = r#"{"checkout_session_id":"cs_test_abc","interval":"monthly"}"#;
    let (status, body) = call(&app, post_with_key(other, "k-1")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
}

#[tokio::test]
async fn a_bad_idempotency_key_is_a_400() {
    let app = app(FakeStripe::with(open_session()));
    let (status, body) = call(&app, post_with_key(YEARLY, &"x".repeat(256))).await;
    assert_eq!(
        (status, body["param"].as_str()),
        (400, Some("Idempotency-Key"))
    );
}

#[tokio::test]
async fn a_session_held_by_another_request_is_409_busy_with_retry_after() {
    let app = app(FakeStripe::with(open_session()));
    app.claims.hold_lease("lease#cs_test_abc", now_ms() + 4_500);
    let response = app.handle(post(YEARLY), change_interval).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.headers().get("retry-after").unwrap(),
        "5",
        "when the lease ends, in whole seconds"
    );
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["code"], "session_busy");
    assert!(app.stripe.updates.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_5xx_forgets_the_key_so_the_retry_runs_and_succeeds() {
    let stripe = FakeStripe::with(open_session());
    *stripe.retrieve_error.lock().unwrap() = Some(StripeError::Unavailable {
        attempts: 3,
        cause: "HTTP 500".into(),
        state: crate::stripe::WriteState::NotRun,
    });
    let app = app(stripe);
    let (status, _) = call(&app, post_with_key(YEARLY, "k-9")).await;
    assert_eq!(status, 502);
    assert!(app
        .claims
        .record("idem#change-interval#cs_test_abc#k-9")
        .is_none());
    let (status, body) = call(&app, post_with_key(YEARLY, "k-9")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_4xx_is_stored_and_replayed() {
    let mut session = open_session();
    session.status = SessionStatus::Expired;
    let app = app(FakeStripe::with(session));
    let (status, _) = call(&app, post_with_key(YEARLY, "k-4")).await;
    assert_eq!(status, 409);
    let replay = app
        .handle(post_with_key(YEARLY, "k-4"), change_interval)
        .await;
    assert_eq!(replay.status(), 409);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
}

#[test]
fn a_missing_runtime_deadline_still_gives_the_lease_a_full_budget() {
    let app = app(FakeStripe::default());
    let accepted = Accepted {
        operation: change_interval(YEARLY.as_bytes()).unwrap(),
        key: IdempotencyKey::parse(b"k"),
        body_hash: "h".into(),
        scope: "cs_test_abc".into(),
    };
    // cargo-lambda's runtime emulation reports a deadline of 0.
    let request = post(YEARLY).with_lambda_context(lambda_http::Context::default());
    let now = now_ms();
    let claim = app.claim_for(&request, &accepted);
    assert!(claim.lease_until_ms >= now + DEFAULT_BUDGET_MS, "{claim:?}");
    assert!(claim.lease_until_ms <= now + MAX_LEASE_MS + LATE_WRITE_MS + 1_000);
    let record = claim.record.unwrap();
    assert!(record.in_progress_until_ms >= now + DEFAULT_BUDGET_MS);
    assert!(
        record.in_progress_until_ms < claim.lease_until_ms,
        "lease outlives the record"
    );
}
