//! Webhook delivery end to end: the emulator serves on a local port, a tiny axum receiver plays
//! the product's `stripe-webhook` endpoint, and each test checks what arrives there.

mod common;

use common::{settle, verify, Emulator, Hooks, ENDIVE, PREVIEW};
use serde_json::{json, Value};
use std::time::Duration;
use stripe_emulator::webhooks::DeliveryConfig;
use tokio::net::TcpListener;

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn a_completed_session_is_delivered_signed_with_the_endpoint_secret() {
    let mut hooks = Hooks::start().await;
    let emulator = Emulator::start().await;
    let endpoint = emulator
        .endpoint(json!({ "url": hooks.url("stripe-webhook"), "secret": "whsec_test_secret" }))
        .await;
    assert!(endpoint["id"].as_str().expect("id").starts_with("we_"));
    assert_eq!(endpoint["secret"], "whsec_test_secret");
    assert_eq!(endpoint["api_version"], ENDIVE);
    assert_eq!(endpoint["enabled_events"], json!(["*"]));
    let session = emulator
        .session(ENDIVE, "&ui_mode=elements&return_url=https://shop.test/r")
        .await;
    let session_id = session["id"].as_str().expect("id");

    emulator.complete(session_id).await;
    let got = hooks.next().await;

    assert_eq!(got.path, "stripe-webhook");
    assert_eq!(got.header("content-type"), "application/json");
    assert_eq!(
        got.header("user-agent"),
        "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    );
    verify(&got, "whsec_test_secret");
    let event = got.json();
    assert!(event["id"].as_str().expect("id").starts_with("evt_"));
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "checkout.session.completed");
    assert_eq!(event["api_version"], ENDIVE);
    assert_eq!(event["livemode"], false);
    assert_eq!(event["pending_webhooks"], 1);
    assert_eq!(
        event["request"],
        json!({ "id": null, "idempotency_key": null })
    );
    let object = &event["data"]["object"];
    assert_eq!(object["id"], session_id);
    assert_eq!(object["object"], "checkout.session");
    assert_eq!(object["status"], "complete");
    assert_eq!(object["payment_status"], "paid");
    assert_eq!(object["amount_total"], 3600);
    assert!(
        object.get("line_items").is_none(),
        "line items are not expanded"
    );

    // The same event through the API, and the attempt in the log.
    let event_id = event["id"].as_str().expect("id");
    settle().await;
    let fetched = emulator
        .v1("GET", &format!("/v1/events/{event_id}"), ENDIVE, "")
        .await;
    assert_eq!(fetched["data"]["object"], *object);
    assert_eq!(fetched["pending_webhooks"], 0);
    let deliveries = emulator.deliveries().await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["event_id"], event_id);
    assert_eq!(deliveries[0]["type"], "checkout.session.completed");
    assert_eq!(deliveries[0]["endpoint_id"], endpoint["id"]);
    assert_eq!(deliveries[0]["url"], hooks.url("stripe-webhook"));
    assert_eq!(deliveries[0]["attempt"], 1);
    assert_eq!(deliveries[0]["status"], 200);
    assert_eq!(deliveries[0]["error"], Value::Null);
    assert!(deliveries[0]["delivered_at"].as_i64().is_some());
    emulator.shutdown().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_in_order_until_a_2xx() {
    let mut hooks = Hooks::start().await;
    let emulator = Emulator::start().await;
    emulator
        .endpoint(json!({ "url": hooks.url("hook"), "secret": "whsec_retry" }))
        .await;
    let first = emulator.session(ENDIVE, "").await;
    let second = emulator.session(ENDIVE, "").await;
    hooks.answer_with(&[500, 503]);

    emulator.complete(first["id"].as_str().expect("id")).await;
    emulator.complete(second["id"].as_str().expect("id")).await;

    // The first event is retried (same body, fresh signature) before the second goes out.
    let a1 = hooks.next().await;
    let a2 = hooks.next().await;
    let a3 = hooks.next().await;
    let b = hooks.next().await;
    for attempt in [&a1, &a2, &a3, &b] {
        verify(attempt, "whsec_retry");
    }
    assert_eq!(a1.body, a2.body);
    assert_eq!(a1.body, a3.body);
    assert_eq!(a1.json()["data"]["object"]["id"], first["id"]);
    assert_eq!(b.json()["data"]["object"]["id"], second["id"]);
    settle().await;
    let log: Vec<(Value, Value, Value)> = emulator
        .deliveries()
        .await
        .into_iter()
        .map(|d| {
            (
                d["event_id"].clone(),
                d["attempt"].clone(),
                d["status"].clone(),
            )
        })
        .collect();
    let a = a1.json()["id"].clone();
    let b = b.json()["id"].clone();
    assert_eq!(
        log,
        vec![
            (a.clone(), json!(1), json!(500)),
            (a.clone(), json!(2), json!(503)),
            (a, json!(3), json!(200)),
            (b, json!(1), json!(200)),
        ]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn retries_are_bounded_and_unreachable_endpoints_are_logged() {
    let mut hooks = Hooks::start().await;
    let emulator = Emulator::start().await;
    emulator.endpoint(json!({ "url": hooks.url("hook") })).await;
    // Nothing listens on this port once the listener is dropped.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    emulator.endpoint(json!({ "url": dead })).await;
    hooks.answer_with(&[500; 10]);
    let session = emulator.session(ENDIVE, "").await;

    emulator.complete(session["id"].as_str().expect("id")).await;
    for _ in 0..4 {
        hooks.next().await;
    }
    hooks.none_within(Duration::from_millis(500)).await;

    let deliveries = emulator.deliveries().await;
    let to = |url: &str| -> Vec<Value> {
        deliveries
            .iter()
            .filter(|d| d["url"] == url)
            .cloned()
            .collect()
    };
    let live = to(&hooks.url("hook"));
    assert_eq!(live.len(), 4, "max_attempts bounds the retries");
    assert!(live.iter().all(|d| d["status"] == 500));
    let unreachable = to(&dead);
    assert_eq!(unreachable.len(), 4);
    assert!(unreachable.iter().all(|d| d["status"].is_null()));
    assert!(unreachable.iter().all(|d| d["error"].is_string()));
    let event_id = live[0]["event_id"].as_str().expect("id");
    let event = emulator
        .v1("GET", &format!("/v1/events/{event_id}"), ENDIVE, "")
        .await;
    assert_eq!(event["pending_webhooks"], 2, "never acknowledged");
    emulator.shutdown().await;
}

#[tokio::test]
async fn drop_loses_events_and_redeliver_duplicates_them() {
    let mut hooks = Hooks::start().await;
    let emulator = Emulator::start().await;
    let endpoint = emulator
        .endpoint(json!({ "url": hooks.url("hook"), "secret": "whsec_dup" }))
        .await;
    let endpoint_id = endpoint["id"].as_str().expect("id");
    let (status, dropping) = emulator.drop_next(endpoint_id, 1).await;
    assert_eq!(status, 200);
    assert_eq!(dropping["drop_next"], 1);
    let lost = emulator.session(ENDIVE, "").await;
    let kept = emulator.session(ENDIVE, "").await;

    emulator.complete(lost["id"].as_str().expect("id")).await;
    emulator.complete(kept["id"].as_str().expect("id")).await;

    let first = hooks.next().await;
    assert_eq!(
        first.json()["data"]["object"]["id"],
        kept["id"],
        "the first event was lost"
    );
    hooks.none_within(Duration::from_millis(300)).await;
    let events = emulator.events_of_type("checkout.session.completed").await;
    let data = events["data"].as_array().expect("list");
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["data"]["object"]["id"], kept["id"], "newest first");
    let lost_event = data[1]["id"].as_str().expect("id").to_owned();
    assert_eq!(data[1]["pending_webhooks"], 1);

    // Stripe sends duplicates: same id, same body, a fresh signature.
    let kept_event = first.json()["id"].as_str().expect("id").to_owned();
    let (status, answer) = emulator.redeliver(&kept_event, Value::Null).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["endpoint_ids"], json!([endpoint_id]));
    let again = hooks.next().await;
    verify(&again, "whsec_dup");
    assert_eq!(again.body, first.body);

    // A lost event can be delivered late the same way.
    let (status, _) = emulator
        .redeliver(&lost_event, json!({ "endpoint_id": endpoint_id }))
        .await;
    assert_eq!(status, 200);
    let late = hooks.next().await;
    verify(&late, "whsec_dup");
    assert_eq!(late.json()["id"], lost_event.as_str());
    assert_eq!(late.json()["data"]["object"]["id"], lost["id"]);
    settle().await;
    let redelivered = emulator
        .deliveries()
        .await
        .into_iter()
        .filter(|d| d["redelivery"] == true)
        .count();
    assert_eq!(redelivered, 2);

    let (status, _) = emulator.redeliver("evt_nope", Value::Null).await;
    assert_eq!(status, 404);
    let (status, _) = emulator
        .redeliver(&lost_event, json!({ "endpoint_id": "we_nope" }))
        .await;
    assert_eq!(status, 404);
    emulator.shutdown().await;
}

#[tokio::test]
async fn each_endpoint_gets_the_session_in_its_own_dialect() {
    let mut hooks = Hooks::start().await;
    let emulator = Emulator::start().await;
    emulator
        .endpoint(
            json!({ "url": hooks.url("preview"), "secret": "whsec_p", "api_version": PREVIEW }),
        )
        .await;
    emulator
        .endpoint(json!({ "url": hooks.url("endive"), "secret": "whsec_e" }))
        .await;
    emulator
        .endpoint(json!({
            "url": hooks.url("completed-only"),
            "enabled_events": ["checkout.session.completed"],
        }))
        .await;
    let session = emulator
        .session(
            PREVIEW,
            "&ui_mode=custom&permissions[update_line_items]=server_only&return_url=https://shop.test/r",
        )
        .await;
    let session_id = session["id"].as_str().expect("id");

    let (status, headers, _) = emulator
        .v1_full(
            "POST",
            &format!("/v1/checkout/sessions/{session_id}/expire"),
            ENDIVE,
            "",
            &[("idempotency-key", "expire-once")],
        )
        .await;
    assert_eq!(status, 200);
    let request_id = headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .expect("request id")
        .to_owned();

    let mut by_path = std::collections::HashMap::new();
    for _ in 0..2 {
        let got = hooks.next().await;
        by_path.insert(got.path.clone(), got);
    }
    hooks.none_within(Duration::from_millis(300)).await;
    let preview = &by_path["preview"];
    let endive = &by_path["endive"];
    verify(preview, "whsec_p");
    verify(endive, "whsec_e");
    let (p, e) = (preview.json(), endive.json());
    assert_eq!(p["id"], e["id"], "one event, two renderings");
    assert_eq!(p["type"], "checkout.session.expired");
    assert_eq!(p["api_version"], PREVIEW);
    assert_eq!(e["api_version"], ENDIVE);
    assert_eq!(p["data"]["object"]["ui_mode"], "custom");
    assert_eq!(
        p["data"]["object"]["permissions"]["update_line_items"],
        "server_only"
    );
    assert_eq!(e["data"]["object"]["ui_mode"], "elements");
    assert!(e["data"]["object"]["permissions"]
        .get("update_line_items")
        .is_none());
    assert_eq!(e["data"]["object"]["status"], "expired");
    assert_eq!(
        e["request"],
        json!({ "id": request_id, "idempotency_key": "expire-once" })
    );
    assert_eq!(e["pending_webhooks"], 2);

    // /v1/events renders in the account's version (the emulator default), whoever asks.
    let listed = emulator.v1("GET", "/v1/events", PREVIEW, "limit=1").await;
    assert_eq!(listed["data"][0]["api_version"], ENDIVE);
    assert_eq!(listed["data"][0]["data"]["object"]["ui_mode"], "elements");
    emulator.shutdown().await;
}

#[tokio::test]
async fn reset_delete_and_shutdown_stop_deliveries() {
    let mut hooks = Hooks::start().await;
    let emulator = Emulator::start_with(DeliveryConfig {
        max_attempts: 50,
        retry_base: Duration::from_millis(50),
        retry_cap: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    })
    .await;
    let endpoint = emulator.endpoint(json!({ "url": hooks.url("hook") })).await;
    hooks.answer_with(&[500; 1000]);
    let session = emulator.session(ENDIVE, "").await;
    emulator.complete(session["id"].as_str().expect("id")).await;
    hooks.next().await;
    hooks.next().await;

    // Reset forgets endpoints, events and deliveries, and abandons the retries.
    let (status, _) = emulator
        .control("POST", "/_emulator/reset", Value::Null)
        .await;
    assert_eq!(status, 200);
    while tokio::time::timeout(Duration::from_millis(20), hooks.rx.recv())
        .await
        .is_ok()
    {}
    hooks.none_within(Duration::from_millis(300)).await;
    let (_, endpoints) = emulator
        .control("GET", "/_emulator/webhook_endpoints", Value::Null)
        .await;
    assert_eq!(endpoints["data"], json!([]));
    assert!(emulator.deliveries().await.is_empty());
    let events = emulator.v1("GET", "/v1/events", ENDIVE, "").await;
    assert_eq!(events["data"], json!([]));
    let (status, _) = emulator.delete_endpoint(&endpoint).await;
    assert_eq!(status, 404, "gone with the reset");

    // Deleting an endpoint stops its retries.
    let endpoint = emulator.endpoint(json!({ "url": hooks.url("hook") })).await;
    let session = emulator.session(ENDIVE, "").await;
    emulator.complete(session["id"].as_str().expect("id")).await;
    hooks.next().await;
    let (status, _) = emulator.delete_endpoint(&endpoint).await;
    assert_eq!(status, 200);
    while tokio::time::timeout(Duration::from_millis(20), hooks.rx.recv())
        .await
        .is_ok()
    {}
    hooks.none_within(Duration::from_millis(300)).await;

    // Stopping the emulator stops delivery too.
    emulator.endpoint(json!({ "url": hooks.url("hook") })).await;
    let session = emulator.session(ENDIVE, "").await;
    emulator.complete(session["id"].as_str().expect("id")).await;
    hooks.next().await;
    let state = emulator.state.clone();
    emulator.shutdown().await;
    while tokio::time::timeout(Duration::from_millis(20), hooks.rx.recv())
        .await
        .is_ok()
    {}
    hooks.none_within(Duration::from_millis(300)).await;
    drop(state);
}

#[tokio::test]
async fn endpoint_registration_is_validated() {
    let emulator = Emulator::start().await;
    for bad in [
        json!({}),
        json!({ "url": "https://example.test/hook" }),
        json!({ "url": "http://127.0.0.1:1/x", "api_version": "yesterday" }),
        json!({ "url": "http://127.0.0.1:1/x", "enabled_events": [] }),
        json!({ "url": "http://127.0.0.1:1/x", "bogus": true }),
    ] {
        let (status, body) = emulator
            .control("POST", "/_emulator/webhook_endpoints", bad.clone())
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
    let created = emulator
        .endpoint(json!({ "url": "http://127.0.0.1:1/x" }))
        .await;
    assert!(created["secret"]
        .as_str()
        .expect("secret")
        .starts_with("whsec_"));
    let (_, listed) = emulator
        .control("GET", "/_emulator/webhook_endpoints", Value::Null)
        .await;
    assert_eq!(listed["data"][0]["id"], created["id"]);
    let (status, _) = emulator.drop_next("we_nope", 1).await;
    assert_eq!(status, 404);
    emulator.shutdown().await;
}
