//! Injected faults over HTTP: saved failures are stored under the Idempotency-Key and replayed,
//! unsaved ones are not, and `Stripe-Should-Retry` says which. Stripe's API reference
//! (https://docs.stripe.com/api/idempotent_requests): results are saved "after endpoint execution
//! begins" and retries return them, "including `500` errors"; stripe-python's `_should_retry`
//! (stripe/_http_client.py) expects a 500 to say `Stripe-Should-Retry: false` for that reason.

mod common;

use axum::http::HeaderMap;
use common::{Emulator, ENDIVE};
use serde_json::{json, Value};
use std::time::Duration;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Emulator {
    async fn fault(&self, rule: Value) {
        let (status, body) = self.control("POST", "/_emulator/faults", rule).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn keyed_product(&self, name: &str, key: &str) -> (u16, HeaderMap, Value) {
        self.v1_full(
            "POST",
            "/v1/products",
            ENDIVE,
            &format!("name={name}"),
            &[("idempotency-key", key)],
        )
        .await
    }

    async fn logged(&self) -> Vec<Value> {
        let (_, log) = self
            .control("GET", "/_emulator/requests", Value::Null)
            .await;
        log["data"].as_array().cloned().unwrap_or_default()
    }
}

#[tokio::test]
async fn a_saved_500_is_replayed_to_every_retry_with_its_key() {
    let emulator = Emulator::start().await;
    emulator
        .fault(
            json!({ "method": "POST", "path_prefix": "/v1/products", "status": 500, "count": 1 }),
        )
        .await;
    let (status, headers, first) = emulator.keyed_product("Saved", "k-500").await;
    assert_eq!(status, 500);
    assert_eq!(first["error"]["type"], "api_error");
    assert_eq!(header(&headers, "stripe-should-retry"), Some("false"));
    assert_eq!(header(&headers, "idempotent-replayed"), None);

    // The rule is used up; the key alone keeps answering 500.
    for _ in 0..2 {
        let (status, headers, again) = emulator.keyed_product("Saved", "k-500").await;
        assert_eq!(status, 500);
        assert_eq!(again, first, "the very same body");
        assert_eq!(header(&headers, "idempotent-replayed"), Some("true"));
        assert_eq!(header(&headers, "stripe-should-retry"), Some("false"));
    }
    let (status, _, other) = emulator.keyed_product("Other", "k-500").await;
    assert_eq!(status, 400);
    assert_eq!(other["error"]["type"], "idempotency_error");
    // No state change: only the one with a new key created anything.
    let (status, _, created) = emulator.keyed_product("Saved", "k-new").await;
    assert_eq!(status, 200, "{created}");
    let statuses: Vec<(u64, bool)> = emulator
        .logged()
        .await
        .iter()
        .map(|e| {
            (
                e["status"].as_u64().unwrap_or_default(),
                e["idempotent_replayed"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (500, false),
            (500, true),
            (500, true),
            (400, false),
            (200, false)
        ]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn unsaved_failures_and_429s_leave_the_key_free() {
    let emulator = Emulator::start().await;
    emulator
        .fault(json!({ "path_prefix": "/v1/products", "status": 503, "count": 1, "saved": false }))
        .await;
    let (status, headers, _) = emulator.keyed_product("Early", "k-early").await;
    assert_eq!(status, 503);
    assert_eq!(header(&headers, "stripe-should-retry"), Some("true"));
    let (status, headers, _) = emulator.keyed_product("Early", "k-early").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "idempotent-replayed"), None);
    assert_eq!(header(&headers, "stripe-should-retry"), None);

    // `saved` cannot make a 429 stick: the rate limiter refuses before the endpoint runs.
    emulator
        .fault(json!({ "path_prefix": "/v1/products", "status": 429, "count": 1, "saved": true }))
        .await;
    let (status, headers, body) = emulator.keyed_product("Limited", "k-429").await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limit");
    assert_eq!(header(&headers, "stripe-should-retry"), None);
    let (status, headers, _) = emulator.keyed_product("Limited", "k-429").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "idempotent-replayed"), None);

    // Without a key there is nothing to save under: no advice either way.
    emulator
        .fault(json!({ "path_prefix": "/v1/products", "status": 500, "count": 1 }))
        .await;
    let (status, headers, _) = emulator
        .v1_full("POST", "/v1/products", ENDIVE, "name=Unkeyed", &[])
        .await;
    assert_eq!(status, 500);
    assert_eq!(header(&headers, "stripe-should-retry"), None);

    // The override wins, and a saved failure stores it for its replays.
    emulator
        .fault(json!({ "path_prefix": "/v1/products", "status": 500, "count": 1, "should_retry": true }))
        .await;
    for replayed in [None, Some("true")] {
        let (status, headers, _) = emulator.keyed_product("Loop", "k-loop").await;
        assert_eq!(status, 500);
        assert_eq!(header(&headers, "stripe-should-retry"), Some("true"));
        assert_eq!(header(&headers, "idempotent-replayed"), replayed);
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_slow_fault_answers_late_and_still_applies_the_write() {
    let emulator = Emulator::start().await;
    let session = emulator.session(ENDIVE, "").await;
    let id = session["id"].as_str().expect("id");
    let path = format!("/v1/checkout/sessions/{id}");
    emulator
        .fault(json!({ "method": "POST", "path_prefix": path, "latency_ms": 400, "count": 1 }))
        .await;
    let update = || {
        emulator.v1_full(
            "POST",
            &path,
            ENDIVE,
            "metadata[late]=yes",
            &[("idempotency-key", "k-slow")],
        )
    };
    // The client gives up long before the answer (a timeout: outcome unknown)...
    let gave_up = tokio::time::timeout(Duration::from_millis(100), update()).await;
    assert!(gave_up.is_err(), "the fault holds the answer back");
    // ...yet Stripe carried the request out, and the key replays its success.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = emulator.v1("GET", &path, ENDIVE, "").await;
    assert_eq!(after["metadata"]["late"], "yes");
    let (status, headers, replay) = update().await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "idempotent-replayed"), Some("true"));
    assert_eq!(replay["metadata"]["late"], "yes");
    emulator.shutdown().await;
}
