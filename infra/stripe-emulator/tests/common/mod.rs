//! The end-to-end harness shared by the socket-level tests: the emulator served on a local port
//! (`Emulator`), a tiny axum receiver playing the product's `stripe-webhook` endpoint (`Hooks`),
//! and Stripe-Signature verification as the product does it.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stripe_emulator::dialect::ApiVersion;
use stripe_emulator::webhooks::DeliveryConfig;
use stripe_emulator::AppState;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

pub const PREVIEW: &str = "2025-03-31.basil; checkout_server_update_beta=v1";
pub const ENDIVE: &str = "2026-09-30.endive";
pub const WAIT: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------ receiver

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub seen: mpsc::UnboundedSender<Received>,
    /// Statuses to answer with, in order; 200 once used up.
    pub script: Arc<Mutex<VecDeque<u16>>>,
}

pub async fn receive(
    State(receiver): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let status = receiver
        .script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(200);
    let _ = receiver.seen.send(Received {
        path,
        headers,
        body,
    });
    StatusCode::from_u16(status).expect("status")
}

pub struct Hooks {
    pub base: String,
    pub rx: mpsc::UnboundedReceiver<Received>,
    pub script: Arc<Mutex<VecDeque<u16>>>,
    pub _stop: oneshot::Sender<()>,
}

impl Hooks {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let app = Router::new()
            .route("/{path}", post(receive))
            .with_state(Receiver {
                seen: tx,
                script: script.clone(),
            });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            base,
            rx,
            script,
            _stop: stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    pub fn answer_with(&self, statuses: &[u16]) {
        self.script.lock().expect("script").extend(statuses);
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("a webhook within the wait")
            .expect("receiver alive")
    }

    /// Asserts nothing more arrives within `quiet`.
    pub async fn none_within(&mut self, quiet: Duration) {
        if let Ok(Some(extra)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            panic!(
                "unexpected webhook: {}",
                String::from_utf8_lossy(&extra.body)
            );
        }
    }
}

// ------------------------------------------------------------------ emulator

pub struct Emulator {
    pub base: String,
    pub state: Arc<AppState>,
    pub stop: Option<oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Emulator {
    pub async fn start() -> Self {
        Self::start_with(DeliveryConfig {
            max_attempts: 4,
            retry_base: Duration::from_millis(20),
            retry_cap: Duration::from_millis(200),
            timeout: Duration::from_secs(2),
        })
        .await
    }

    pub async fn start_with(delivery: DeliveryConfig) -> Self {
        let version = ApiVersion::parse(ENDIVE).expect("version");
        let state = Arc::new(AppState::with_webhooks(version, delivery, None));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(stripe_emulator::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            base,
            state,
            stop: Some(stop),
            server,
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> (u16, HeaderMap, Value) {
        let uri: axum::http::Uri = format!("{}{path}", self.base).parse().expect("uri");
        let authority = uri.authority().expect("authority").clone();
        let stream = TcpStream::connect(authority.as_str())
            .await
            .expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", authority.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some((content_type, body)) => {
                request = request.header("content-type", content_type);
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        let response = sender
            .send_request(request.body(Full::new(body)).expect("request"))
            .await
            .expect("response");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, value)
    }

    /// A `/v1` call with the test key, form-encoded.
    pub async fn v1(&self, method: &str, path: &str, version: &str, form: &str) -> Value {
        let (status, _, body) = self.v1_full(method, path, version, form, &[]).await;
        assert_eq!(status, 200, "{method} {path}: {body}");
        body
    }

    pub async fn v1_full(
        &self,
        method: &str,
        path: &str,
        version: &str,
        form: &str,
        extra: &[(&str, &str)],
    ) -> (u16, HeaderMap, Value) {
        let mut headers = vec![
            ("authorization", "Bearer sk_test_webhooks"),
            ("stripe-version", version),
        ];
        headers.extend_from_slice(extra);
        let body =
            (method == "POST").then(|| ("application/x-www-form-urlencoded", form.to_owned()));
        let path = if method == "GET" && !form.is_empty() {
            format!("{path}?{form}")
        } else {
            path.to_owned()
        };
        self.call(method, &path, &headers, body).await
    }

    pub async fn control(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = (!body.is_null()).then(|| ("application/json", body.to_string()));
        let (status, _, value) = self.call(method, path, &[], body).await;
        (status, value)
    }

    pub async fn endpoint(&self, spec: Value) -> Value {
        let (status, endpoint) = self
            .control("POST", "/_emulator/webhook_endpoints", spec)
            .await;
        assert_eq!(status, 200, "{endpoint}");
        endpoint
    }

    /// Makes the endpoint lose its next `count` events (recorded, never sent); Stripe's answer.
    pub async fn drop_next(&self, endpoint_id: &str, count: u64) -> (u16, Value) {
        self.control(
            "POST",
            &format!("/_emulator/webhook_endpoints/{endpoint_id}/drop"),
            serde_json::json!({ "count": count }),
        )
        .await
    }

    /// Deletes the webhook endpoint; Stripe's answer.
    pub async fn delete_endpoint(&self, endpoint: &Value) -> (u16, Value) {
        let id = endpoint["id"].as_str().expect("id");
        self.control(
            "DELETE",
            &format!("/_emulator/webhook_endpoints/{id}"),
            Value::Null,
        )
        .await
    }

    /// Sends the event again (to every endpoint, or to `{"endpoint_id": …}`); Stripe's answer.
    pub async fn redeliver(&self, event_id: &str, body: Value) -> (u16, Value) {
        self.control(
            "POST",
            &format!("/_emulator/events/{event_id}/redeliver"),
            body,
        )
        .await
    }

    /// `GET /v1/events?type=…` (newest first).
    pub async fn events_of_type(&self, kind: &str) -> Value {
        self.v1("GET", "/v1/events", ENDIVE, &format!("type={kind}"))
            .await
    }

    pub async fn deliveries(&self) -> Vec<Value> {
        let (_, body) = self
            .control("GET", "/_emulator/webhook_deliveries", Value::Null)
            .await;
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// An open session with two line items; `extra` picks the ui_mode etc.
    pub async fn session(&self, version: &str, extra: &str) -> Value {
        let product = self.v1("POST", "/v1/products", version, "name=Beans").await;
        let price = self
            .v1(
                "POST",
                "/v1/prices",
                version,
                &format!(
                    "product={}&currency=usd&unit_amount=1200",
                    product["id"].as_str().expect("id")
                ),
            )
            .await;
        let price = price["id"].as_str().expect("id");
        self.v1(
            "POST",
            "/v1/checkout/sessions",
            version,
            &format!(
                "mode=payment&line_items[0][price]={price}&line_items[0][quantity]=2&line_items[1][price]={price}&line_items[1][quantity]=1{extra}"
            ),
        )
        .await
    }

    pub async fn complete(&self, session_id: &str) {
        let (status, body) = self
            .control(
                "POST",
                &format!("/_emulator/checkout/sessions/{session_id}/complete"),
                Value::Null,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

// ------------------------------------------------------------------ helpers

/// What the product's webhook Lambda does: parse `t=..,v1=..` and compare the HMAC.
pub fn verify(received: &Received, secret: &str) -> i64 {
    let header = received.header("stripe-signature");
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.push(sig.to_owned()),
            _ => {}
        }
    }
    let timestamp = timestamp.expect("t= in Stripe-Signature");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = hex::encode(mac.finalize().into_bytes());
    assert!(
        signatures.contains(&expected),
        "signature {header} does not match {expected}"
    );
    let now = stripe_emulator::store::now();
    assert!(
        (now - timestamp).abs() < 60,
        "timestamp {timestamp} is not now"
    );
    timestamp
}

pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
