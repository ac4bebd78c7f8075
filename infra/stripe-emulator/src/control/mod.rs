//! The test control API under `/_emulator` (not Stripe; JSON; no auth): the request log, fault
//! injection, completing sessions as a customer would, webhook endpoints and deliveries, and a
//! full reset.

use crate::dialect::ApiVersion;
use crate::errors::{ApiError, ErrorType};
use crate::sessions;
use crate::store::now;
use crate::webhooks::{self, EndpointSpec, WebhookEndpoint};
use crate::{lock, AppState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// One `/v1` request as received; `status` is filled in when it is answered.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    #[serde(skip)]
    seq: u64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub stripe_version: Option<String>,
    pub idempotency_key: Option<String>,
    pub status: Option<u16>,
    pub idempotent_replayed: bool,
    pub body: String,
    /// Arrival, in microseconds since the Unix epoch, and time to answer (injected latency
    /// included): what benchmarks read sequential round trips and waits from.
    pub received_at_us: u64,
    pub elapsed_us: Option<u64>,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    next: u64,
    entries: Vec<LoggedRequest>,
}

impl LoggedRequest {
    pub fn arrived(
        request_id: &str,
        method: &str,
        path: &str,
        query: &str,
        stripe_version: Option<&str>,
        idempotency_key: Option<&str>,
        body: &str,
    ) -> Self {
        Self {
            seq: 0,
            request_id: request_id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            stripe_version: stripe_version.map(str::to_owned),
            idempotency_key: idempotency_key.map(str::to_owned),
            status: None,
            idempotent_replayed: false,
            body: body.to_owned(),
            received_at_us: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            elapsed_us: None,
        }
    }
}

impl RequestLog {
    /// Records arrival (so the log is in arrival order even when answers interleave) and
    /// returns the handle for [`RequestLog::finish`].
    pub fn push(&mut self, mut entry: LoggedRequest) -> u64 {
        self.next += 1;
        entry.seq = self.next;
        self.entries.push(entry);
        self.next
    }

    pub fn finish(&mut self, seq: u64, status: u16, replayed: bool, elapsed: Duration) {
        if let Some(entry) = self.entries.iter_mut().rev().find(|e| e.seq == seq) {
            entry.status = Some(status);
            entry.idempotent_replayed = replayed;
            entry.elapsed_us = Some(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn entries(&self) -> &[LoggedRequest] {
        &self.entries
    }
}

/// `POST /_emulator/faults` body.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub method: Option<String>,
    pub path_prefix: Option<String>,
    pub status: Option<u16>,
    #[serde(default)]
    pub latency_ms: u64,
    pub count: Option<u64>,
    /// Chance (0 to 1) that a matching request is hit; absent = every one. For "Stripe fails about
    /// 30 % of calls" fault runs.
    #[serde(default)]
    pub probability: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultRule {
    pub id: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

/// What a matching rule does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultHit {
    pub status: Option<u16>,
    pub latency: Duration,
}

#[derive(Debug, Default)]
pub struct Faults {
    next: u64,
    rules: Vec<FaultRule>,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) -> Result<FaultRule, String> {
        if let Some(status) = spec.status {
            if !(400..=599).contains(&status) {
                return Err(format!(
                    "status must be an HTTP error status (400-599), got {status}"
                ));
            }
        }
        if spec.count == Some(0) {
            return Err("count must be at least 1 (omit it for no limit)".to_owned());
        }
        if spec.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err("probability must be between 0 and 1".to_owned());
        }
        self.next += 1;
        let rule = FaultRule {
            id: format!("fault_{}", self.next),
            spec,
        };
        self.rules.push(rule.clone());
        Ok(rule)
    }

    /// The first rule matching the request (and winning its dice roll, if it has a
    /// probability), counted down (and dropped when used up).
    pub fn take(&mut self, method: &str, path: &str) -> Option<FaultHit> {
        let index = self.rules.iter().position(|rule| {
            rule.spec
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && rule
                    .spec
                    .path_prefix
                    .as_deref()
                    .is_none_or(|prefix| path.starts_with(prefix))
                && rule.spec.probability.is_none_or(|p| fastrand::f64() < p)
        })?;
        let rule = &mut self.rules[index];
        let hit = FaultHit {
            status: rule.spec.status,
            latency: Duration::from_millis(rule.spec.latency_ms),
        };
        if let Some(count) = &mut rule.spec.count {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.rules.remove(index);
            }
        }
        Some(hit)
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }
}

/// The Stripe-shaped error an injected status answers with.
pub fn fault_error(status: u16) -> ApiError {
    match status {
        429 => ApiError::invalid(
            "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
        )
        .with_code("rate_limit")
        .with_status(429),
        409 => ApiError::invalid(
            "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request.",
        )
        .with_code("lock_timeout")
        .with_status(409),
        500..=599 => ApiError::new(
            status,
            ErrorType::Api,
            "An unknown error occurred while processing your request (injected by stripe-emulator).",
        ),
        _ => ApiError::invalid(format!("Injected fault (HTTP {status}).")).with_status(status),
    }
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/_emulator/health",
            get(|| async { Json(json!({ "ok": true })) }),
        )
        .route(
            "/_emulator/requests",
            get(list_requests).delete(clear_requests),
        )
        .route(
            "/_emulator/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route(
            "/_emulator/checkout/sessions/{id}/complete",
            post(complete_session),
        )
        .route(
            "/_emulator/webhook_endpoints",
            get(list_endpoints).post(add_endpoint),
        )
        .route(
            "/_emulator/webhook_endpoints/{id}",
            axum::routing::delete(delete_endpoint),
        )
        .route("/_emulator/webhook_endpoints/{id}/drop", post(drop_events))
        .route(
            "/_emulator/webhook_deliveries",
            get(list_deliveries).delete(clear_deliveries),
        )
        .route("/_emulator/events/{id}/redeliver", post(redeliver))
        .route("/_emulator/reset", post(reset))
}

/// A JSON body, where an empty body (or `null`) means `{}`.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let body: &[u8] = if body.trim_ascii().is_empty() || body.trim_ascii() == b"null" {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid {what}: {e}")))
}

async fn add_endpoint(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let spec: EndpointSpec = match json_body(&body, "webhook endpoint") {
        Ok(spec) => spec,
        Err(err) => return control_error(err),
    };
    let endpoint = match WebhookEndpoint::build(spec, &state.default_version, now()) {
        Ok(endpoint) => endpoint,
        Err(message) => return control_error(ApiError::invalid(message)),
    };
    let rendered = endpoint.render();
    lock(&state.store).webhook_endpoints.push(endpoint);
    Json(rendered).into_response()
}

async fn list_endpoints(State(state): State<Arc<AppState>>) -> Json<Value> {
    let store = lock(&state.store);
    let data: Vec<Value> = store
        .webhook_endpoints
        .iter()
        .map(WebhookEndpoint::render)
        .collect();
    Json(json!({ "data": data }))
}

async fn delete_endpoint(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let deleted = webhooks::delete_endpoint(&state, &mut lock(&state.store), &id);
    match deleted {
        Ok(()) => Json(json!({ "id": id, "deleted": true })).into_response(),
        Err(err) => control_error(err),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DropSpec {
    count: u64,
}

async fn drop_events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let spec: DropSpec = match json_body(&body, "drop request") {
        Ok(spec) => spec,
        Err(err) => return control_error(err),
    };
    let mut store = lock(&state.store);
    match store.webhook_endpoints.iter_mut().find(|e| e.id == id) {
        Some(endpoint) => {
            endpoint.drop_next = spec.count;
            Json(endpoint.render()).into_response()
        }
        None => control_error(ApiError::no_such("webhook endpoint", &id, "id", 404)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct DeliveryFilter {
    event_id: Option<String>,
    endpoint_id: Option<String>,
}

async fn list_deliveries(
    State(state): State<Arc<AppState>>,
    Query(filter): Query<DeliveryFilter>,
) -> Json<Value> {
    let store = lock(&state.store);
    let data: Vec<&webhooks::DeliveryAttempt> = store
        .deliveries
        .iter()
        .filter(|d| filter.event_id.as_ref().is_none_or(|id| &d.event_id == id))
        .filter(|d| {
            filter
                .endpoint_id
                .as_ref()
                .is_none_or(|id| &d.endpoint_id == id)
        })
        .collect();
    Json(json!({ "data": data }))
}

async fn clear_deliveries(State(state): State<Arc<AppState>>) -> Json<Value> {
    lock(&state.store).deliveries.clear();
    Json(json!({ "deleted": true }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeliverSpec {
    endpoint_id: Option<String>,
}

async fn redeliver(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let spec: RedeliverSpec = match json_body(&body, "redelivery request") {
        Ok(spec) => spec,
        Err(err) => return control_error(err),
    };
    let result = webhooks::redeliver(
        &state,
        &mut lock(&state.store),
        &id,
        spec.endpoint_id.as_deref(),
    );
    match result {
        Ok(endpoint_ids) => {
            Json(json!({ "event_id": id, "endpoint_ids": endpoint_ids })).into_response()
        }
        Err(err) => control_error(err),
    }
}

async fn list_requests(State(state): State<Arc<AppState>>) -> Json<Value> {
    let log = lock(&state.log);
    Json(json!({ "data": log.entries() }))
}

async fn clear_requests(State(state): State<Arc<AppState>>) -> Json<Value> {
    lock(&state.log).clear();
    Json(json!({ "deleted": true }))
}

async fn list_faults(State(state): State<Arc<AppState>>) -> Json<Value> {
    let faults = lock(&state.faults);
    Json(json!({ "data": faults.rules() }))
}

async fn add_fault(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let added = json_body::<FaultSpec>(&body, "fault rule")
        .and_then(|spec| lock(&state.faults).add(spec).map_err(ApiError::invalid));
    match added {
        Ok(rule) => Json(json!(rule)).into_response(),
        Err(err) => control_error(err),
    }
}

async fn clear_faults(State(state): State<Arc<AppState>>) -> Json<Value> {
    lock(&state.faults).clear();
    Json(json!({ "deleted": true }))
}

async fn complete_session(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let version = match headers.get("stripe-version").and_then(|v| v.to_str().ok()) {
        Some(raw) => match ApiVersion::parse(raw) {
            Ok(version) => version,
            Err(err) => return control_error(err),
        },
        None => state.default_version.clone(),
    };
    let result = {
        let mut store = lock(&state.store);
        let result = sessions::complete(&mut store, &id, version.dialect(), now());
        webhooks::publish(&state, &mut store);
        result
    };
    match result {
        Ok(session) => Json(session).into_response(),
        Err(err) => control_error(err),
    }
}

async fn reset(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.reset();
    Json(json!({ "reset": true }))
}

fn control_error(err: ApiError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(err.body("req_emulator_control"))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(method: Option<&str>, prefix: Option<&str>, count: Option<u64>) -> FaultSpec {
        FaultSpec {
            method: method.map(str::to_owned),
            path_prefix: prefix.map(str::to_owned),
            status: Some(500),
            latency_ms: 0,
            count,
            probability: None,
        }
    }

    #[test]
    fn a_probability_hits_about_that_share_of_requests() {
        let mut f = Faults::default();
        let mut rule = spec(None, None, None);
        rule.probability = Some(0.3);
        f.add(rule).expect("added");
        let hits = (0..2000)
            .filter(|_| f.take("GET", "/v1/x").is_some())
            .count();
        assert!((450..=750).contains(&hits), "{hits} of 2000");
        let mut bad = spec(None, None, None);
        bad.probability = Some(1.5);
        assert!(f.add(bad).is_err());
    }

    #[test]
    fn faults_match_and_count_down() {
        let mut f = Faults::default();
        f.add(spec(Some("post"), Some("/v1/checkout/sessions"), Some(2)))
            .expect("added");
        assert_eq!(f.take("GET", "/v1/checkout/sessions/cs_1"), None);
        assert_eq!(f.take("POST", "/v1/products"), None);
        assert!(f.take("POST", "/v1/checkout/sessions/cs_1").is_some());
        assert!(f.take("POST", "/v1/checkout/sessions").is_some());
        assert_eq!(f.take("POST", "/v1/checkout/sessions"), None);
        f.add(spec(None, None, None)).expect("added");
        for _ in 0..5 {
            assert!(f.take("GET", "/v1/anything").is_some());
        }
        assert!(f.add(spec(None, None, Some(0))).is_err());
        let mut bad = spec(None, None, None);
        bad.status = Some(200);
        assert!(f.add(bad).is_err());
    }

    #[test]
    fn fault_errors_map_to_sdk_classes() {
        assert_eq!(fault_error(500).kind, ErrorType::Api);
        assert_eq!(fault_error(503).status, 503);
        assert_eq!(fault_error(429).code, Some("rate_limit"));
    }

    #[test]
    fn log_keeps_arrival_order() {
        let mut log = RequestLog::default();
        let a = log.push(LoggedRequest::arrived(
            "req_a",
            "POST",
            "/v1/a",
            "",
            None,
            Some("k"),
            "x=1",
        ));
        let b = log.push(LoggedRequest::arrived(
            "req_b",
            "GET",
            "/v1/b",
            "q=1",
            Some("2025-03-31.basil"),
            None,
            "",
        ));
        log.finish(b, 200, false, Duration::ZERO);
        log.finish(a, 400, true, Duration::ZERO);
        let entries = log.entries();
        assert_eq!(entries[0].path, "/v1/a");
        assert_eq!(entries[0].status, Some(400));
        assert!(entries[0].idempotent_replayed);
        assert_eq!(entries[1].status, Some(200));
    }
}
