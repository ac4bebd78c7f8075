//! The test control API under `/_emulator` (not Stripe; JSON; no auth): the request log, fault
//! injection, completing sessions as a customer would, webhook endpoints and deliveries, and a
//! full reset.

mod faults;
mod log;

pub use faults::{fault_error, FaultHit, FaultRule, FaultSpec, Faults, InjectedFailure};
pub use log::{LoggedRequest, RequestLog};

use crate::dialect::{ApiVersion, Dialect};
use crate::errors::ApiError;
use crate::sessions;
use crate::store::{now, Store};
use crate::webhooks::{self, EndpointSpec, WebhookEndpoint};
use crate::{lock, AppState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

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
            "/_emulator/checkout/sessions/{id}/async_payment",
            post(settle_async_payment),
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteSpec {
    #[serde(default)]
    payment_status: sessions::PaymentStatus,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AsyncPaymentSpec {
    outcome: sessions::AsyncOutcome,
}

/// The version to render a control answer in: the request's `Stripe-Version`, else the default.
fn control_version(state: &AppState, headers: &HeaderMap) -> Result<ApiVersion, ApiError> {
    match headers.get("stripe-version").and_then(|v| v.to_str().ok()) {
        Some(raw) => ApiVersion::parse(raw),
        None => Ok(state.default_version.clone()),
    }
}

/// Runs a change to a session as a customer's payment would, then hands its events to delivery.
fn pay(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    change: impl FnOnce(&mut Store, Dialect) -> Result<Value, ApiError>,
) -> Response {
    let version = match control_version(state, headers) {
        Ok(version) => version,
        Err(err) => return control_error(err),
    };
    let result = {
        let mut store = lock(&state.store);
        let result = change(&mut store, version.dialect());
        webhooks::publish(state, &mut store);
        result
    };
    match result {
        Ok(session) => Json(session).into_response(),
        Err(err) => control_error(err),
    }
}

async fn complete_session(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec: CompleteSpec = match json_body(&body, "completion") {
        Ok(spec) => spec,
        Err(err) => return control_error(err),
    };
    pay(&state, &headers, |store, dialect| {
        sessions::complete(store, &id, spec.payment_status, dialect, now())
    })
}

async fn settle_async_payment(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec: AsyncPaymentSpec = match json_body(&body, "async payment outcome") {
        Ok(spec) => spec,
        Err(err) => return control_error(err),
    };
    pay(&state, &headers, |store, dialect| {
        sessions::async_payment(store, &id, spec.outcome, dialect, now())
    })
}

async fn reset(State(state): State<Arc<AppState>>) -> Json<Value> {
    state.reset();
    Json(json!({ "reset": true }))
}

fn control_error(err: ApiError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(err.body("req_emulator_control"))).into_response()
}
