//! Delayed payment methods end to end: a session completes `unpaid`, and its payment later
//! succeeds or fails, each step a signed webhook (Stripe's fulfilment guide,
//! https://docs.stripe.com/checkout/fulfillment: `checkout.session.completed` with
//! `payment_status: unpaid`, then `checkout.session.async_payment_succeeded` or
//! `checkout.session.async_payment_failed`).

mod common;

use common::{settle, verify, Emulator, Hooks, ENDIVE};
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &str = "whsec_delayed";

impl Emulator {
    async fn pay(&self, session_id: &str, action: &str, body: Value) -> (u16, Value) {
        self.control(
            "POST",
            &format!("/_emulator/checkout/sessions/{session_id}/{action}"),
            body,
        )
        .await
    }

    async fn open_session(&self) -> String {
        let session = self
            .session(ENDIVE, "&ui_mode=elements&return_url=https://shop.test/r")
            .await;
        session["id"].as_str().expect("id").to_owned()
    }
}

async fn started() -> (Hooks, Emulator, Value) {
    let hooks = Hooks::start().await;
    let emulator = Emulator::start().await;
    let endpoint = emulator
        .endpoint(json!({ "url": hooks.url("stripe-webhook"), "secret": SECRET }))
        .await;
    (hooks, emulator, endpoint)
}

/// The next webhook, verified, as `(type, data.object)`.
async fn next_event(hooks: &mut Hooks) -> (String, Value) {
    let got = hooks.next().await;
    verify(&got, SECRET);
    let event = got.json();
    let kind = event["type"].as_str().expect("type").to_owned();
    (kind, event["data"]["object"].clone())
}

#[tokio::test]
async fn an_unpaid_completion_then_a_successful_payment() {
    let (mut hooks, emulator, _) = started().await;
    let id = emulator.open_session().await;

    let (status, session) = emulator
        .pay(&id, "complete", json!({ "payment_status": "unpaid" }))
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "unpaid");
    let (kind, object) = next_event(&mut hooks).await;
    assert_eq!(kind, "checkout.session.completed");
    assert_eq!(object["payment_status"], "unpaid");
    assert!(object["payment_intent"]
        .as_str()
        .is_some_and(|pi| pi.starts_with("pi_")));

    let (status, session) = emulator
        .pay(&id, "async_payment", json!({ "outcome": "succeeded" }))
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["payment_status"], "paid");
    let (kind, object) = next_event(&mut hooks).await;
    assert_eq!(kind, "checkout.session.async_payment_succeeded");
    assert_eq!(object["status"], "complete");
    assert_eq!(object["payment_status"], "paid");
    assert_eq!(
        emulator
            .v1("GET", &format!("/v1/checkout/sessions/{id}"), ENDIVE, "")
            .await["payment_status"],
        "paid"
    );

    // The outcome is reported once.
    let (status, refused) = emulator
        .pay(&id, "async_payment", json!({ "outcome": "failed" }))
        .await;
    assert_eq!(status, 400);
    assert!(refused["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("already succeeded")));
    let listed = emulator
        .events_of_type("checkout.session.async_payment_succeeded")
        .await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_failed_payment_stays_unpaid_and_its_event_can_be_lost() {
    let (mut hooks, emulator, endpoint) = started().await;
    let id = emulator.open_session().await;
    emulator
        .pay(&id, "complete", json!({ "payment_status": "unpaid" }))
        .await;
    let (kind, _) = next_event(&mut hooks).await;
    assert_eq!(kind, "checkout.session.completed");

    // A lost webhook: the failure event is recorded but never sent.
    let endpoint_id = endpoint["id"].as_str().expect("id");
    let (status, _) = emulator.drop_next(endpoint_id, 1).await;
    assert_eq!(status, 200);
    let (status, session) = emulator
        .pay(&id, "async_payment", json!({ "outcome": "failed" }))
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "unpaid");
    hooks.none_within(Duration::from_millis(300)).await;
    let events = emulator
        .events_of_type("checkout.session.async_payment_failed")
        .await;
    let event = &events["data"][0];
    assert_eq!(event["pending_webhooks"], 1, "dropped, so still pending");
    assert_eq!(event["data"]["object"]["payment_status"], "unpaid");

    // Redelivery sends it after all.
    let event_id = event["id"].as_str().expect("id");
    let (status, _) = emulator.redeliver(event_id, Value::Null).await;
    assert_eq!(status, 200);
    let (kind, object) = next_event(&mut hooks).await;
    assert_eq!(kind, "checkout.session.async_payment_failed");
    assert_eq!(object["payment_status"], "unpaid");
    settle().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn payment_outcomes_need_a_session_awaiting_one() {
    let (_hooks, emulator, _) = started().await;
    let open = emulator.open_session().await;
    let refusals = [
        // Not completed yet.
        ("async_payment", json!({ "outcome": "succeeded" }), 400),
        // Not an outcome.
        ("async_payment", json!({ "outcome": "maybe" }), 400),
        ("async_payment", Value::Null, 400),
        ("complete", json!({ "payment_status": "pending" }), 400),
        (
            "complete",
            json!({ "payment_status": "paid", "extra": 1 }),
            400,
        ),
    ];
    for (action, body, status) in refusals {
        let (got, answer) = emulator.pay(&open, action, body.clone()).await;
        assert_eq!(got, status, "{action} {body}: {answer}");
    }
    let (status, _) = emulator
        .pay(
            "cs_test_nope",
            "async_payment",
            json!({ "outcome": "failed" }),
        )
        .await;
    assert_eq!(status, 404);

    // Paid at completion (the default): nothing is awaited.
    let (status, session) = emulator.pay(&open, "complete", Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(session["payment_status"], "paid");
    let (status, _) = emulator
        .pay(&open, "async_payment", json!({ "outcome": "succeeded" }))
        .await;
    assert_eq!(status, 400);
    emulator.shutdown().await;
}
