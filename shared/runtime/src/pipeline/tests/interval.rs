//! Changing the interval end to end in-process: the whole array sent once, no-ops, bad input, closed or foreign sessions, Stripe failures.

use super::*;

#[tokio::test]
async fn a_monthly_cart_becomes_yearly_with_the_whole_array_sent_once() {
    let app = app(FakeStripe::with(open_session()));
    let (status, body) = call(&app, post(YEARLY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "success");
    assert_eq!(body["session"]["line_items"][0]["price"], "price_pro_y");
    assert_eq!(body["session"]["line_items"][1]["id"], "li_addon");

    let updates = app.stripe.updates.lock().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].0,
        vec![
            PlannedLineItem::Add {
                price: PriceId::parse("price_pro_y").unwrap(),
                quantity: 1
            },
            PlannedLineItem::Keep {
                id: LineItemId::parse("li_addon").unwrap()
            },
        ]
    );
    assert!(updates[0].1.starts_with("change-interval-"));
}

#[tokio::test]
async fn the_current_interval_answers_success_without_calling_update() {
    let app = app(FakeStripe::with(open_session()));
    let (status, body) = call(
        &app,
        post(r#"{"checkout_session_id":"cs_test_abc","interval":"monthly"}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["session"]["line_items"][0]["id"], "li_plan");
    assert!(app.stripe.updates.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_is_a_400_and_never_reaches_stripe() {
    let cases = [
        ("{not json", "invalid_json", None),
        (
            r#"{"interval":"yearly"}"#,
            "invalid_request",
            Some("checkout_session_id"),
        ),
        (
            r#"{"checkout_session_id":"cs_test_abc","interval":"weekly"}"#,
            "invalid_request",
            Some("interval"),
        ),
        (
            r#"{"checkout_session_id":"cs_abc","interval":"yearly"}"#,
            "invalid_request",
            Some("checkout_session_id"),
        ),
    ];
    for (input, code, param) in cases {
        let stripe = FakeStripe::default();
        *stripe.retrieve_error.lock().unwrap() =
            Some(StripeError::Malformed("must not be called".into()));
        let app = app(stripe);
        let (status, body) = call(&app, post(input)).await;
        assert_eq!(status, 400, "{input}");
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], code, "{input}");
        assert_eq!(body["param"].as_str(), param, "{input}");
        assert!(
            app.stripe.retrieve_error.lock().unwrap().is_some(),
            "Stripe was called for {input}"
        );
    }
}

#[tokio::test]
async fn only_post_is_accepted() {
    let app = app(FakeStripe::with(open_session()));
    let request = lambda_http::http::Request::builder()
        .method("GET")
        .body(Body::Empty)
        .unwrap();
    let (status, body) = call(&app, request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn stripe_failures_map_to_safe_statuses() {
    let cases = [
        (StripeError::NotFound, 404, "session_not_found"),
        (
            StripeError::Unavailable {
                attempts: 3,
                cause: "HTTP 500: boom sk_test_secret".into(),
                state: crate::stripe::WriteState::Saved,
            },
            502,
            "payment_provider_unavailable",
        ),
        (
            StripeError::Refused {
                status: 401,
                error_type: "invalid_request_error".into(),
                code: None,
                param: None,
                message: "Invalid API Key provided: sk_test_****".into(),
            },
            500,
            "internal_error",
        ),
    ];
    for (error, status, code) in cases {
        let stripe = FakeStripe::with(open_session());
        *stripe.retrieve_error.lock().unwrap() = Some(error);
        let (got, body) = call(&app(stripe), post(YEARLY)).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)));
        assert!(
            !body.to_string().contains("sk_test"),
            "no internals leak: {body}"
        );
    }
}

#[tokio::test]
async fn closed_or_foreign_sessions_are_409_and_untouched() {
    for mutate in [
        (|s: &mut SessionSnapshot| s.status = SessionStatus::Expired) as fn(&mut SessionSnapshot),
        |s| s.ui_mode = UiMode::Hosted,
        |s| s.update_line_items_permission = None,
    ] {
        let mut session = open_session();
        mutate(&mut session);
        let app = app(FakeStripe::with(session));
        let (status, body) = call(&app, post(YEARLY)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("session_not_updatable"))
        );
        assert!(app.stripe.updates.lock().unwrap().is_empty());
    }
}
