//! The `/v1` pipeline: log → auth → version → params → idempotency claim → injected fault (its
//! latency; a saved failure is stored for the key) → replay or dispatch → store the response for
//! the key.

use crate::auth::authenticate;
use crate::control::LoggedRequest;
use crate::dialect::{ApiVersion, Dialect};
use crate::errors::{ApiError, ErrorType};
use crate::events::{self, RequestRef};
use crate::expand::Expand;
use crate::form::{self, Node, Params};
use crate::idempotency::{Claim, Fingerprint, Stored};
use crate::objects::{
    create_price, create_product, list_prices, new_id, render_price, render_product,
    render_shipping_rate, update_price, update_product,
};
use crate::store::{now, Store};
use crate::tax_rates::{self, render_tax_rate};
use crate::{lock, sessions, webhooks, AppState};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Stripe refuses bodies far smaller than this; it only bounds memory.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A finished answer, before headers.
#[derive(Debug)]
struct Outcome {
    status: u16,
    body: String,
    replayed: bool,
    /// `Stripe-Should-Retry`; only injected failures (and their replays) carry one.
    should_retry: Option<bool>,
}

impl Outcome {
    fn error(err: &ApiError, request_id: &str) -> Self {
        Self {
            status: err.status,
            body: err.body(request_id).to_string(),
            replayed: false,
            should_retry: None,
        }
    }
}

/// Everything the pipeline needs from the HTTP request.
#[derive(Debug, Clone)]
struct Incoming {
    request_id: String,
    method: String,
    path: String,
    query: String,
    body: Vec<u8>,
    authorization: Option<String>,
    idempotency_key: Option<String>,
    version: Result<ApiVersion, ApiError>,
}

/// Axum fallback: every request that is not a control route lands here.
pub async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = new_id("req_", 14);
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_ascii_uppercase();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let version_header = header_str(&parts.headers, "stripe-version");
    let effective_version = version_header
        .clone()
        .unwrap_or_else(|| state.default_version.raw.clone());

    if path != "/v1" && !path.starts_with("/v1/") {
        let outcome = Outcome::error(&ApiError::unrecognized_url(&method, &path), &request_id);
        return respond(outcome, &request_id, &effective_version, None);
    }
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => {
            let err = ApiError::invalid(format!(
                "Request bodies are limited to {MAX_BODY_BYTES} bytes."
            ))
            .with_status(413);
            return respond(
                Outcome::error(&err, &request_id),
                &request_id,
                &effective_version,
                None,
            );
        }
    };
    let idempotency_key = header_str(&parts.headers, "idempotency-key");
    let seq = lock(&state.log).push(LoggedRequest::arrived(
        &request_id,
        &method,
        &path,
        &query,
        version_header.as_deref(),
        idempotency_key.as_deref(),
        &String::from_utf8_lossy(&body),
    ));
    let incoming = Incoming {
        request_id: request_id.clone(),
        version: match &version_header {
            Some(raw) => ApiVersion::parse(raw),
            None => Ok(state.default_version.clone()),
        },
        authorization: header_str(&parts.headers, "authorization"),
        idempotency_key: idempotency_key.clone(),
        method,
        path,
        query,
        body,
    };
    // Like Stripe, a request that arrived is carried out even when its client stops waiting (a
    // timeout): the work runs on its own task, which a dropped connection does not cancel.
    let work = {
        let state = state.clone();
        let incoming = incoming.clone();
        tokio::spawn(async move {
            let outcome = pipeline(&state, &incoming).await;
            lock(&state.log).finish(seq, outcome.status, outcome.replayed, started.elapsed());
            outcome
        })
    };
    let outcome = match work.await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "request task failed");
            let err = ApiError::new(
                500,
                ErrorType::Api,
                "An unknown error occurred while processing your request.",
            );
            Outcome::error(&err, &incoming.request_id)
        }
    };
    tracing::info!(
        request_id = %incoming.request_id,
        method = %incoming.method,
        path = %incoming.path,
        status = outcome.status,
        replayed = outcome.replayed,
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    respond(
        outcome,
        &request_id,
        &effective_version,
        idempotency_key.as_deref(),
    )
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn pipeline(state: &Arc<AppState>, req: &Incoming) -> Outcome {
    let fail = |err: ApiError| Outcome::error(&err, &req.request_id);
    if let Err(err) = authenticate(req.authorization.as_deref()) {
        return fail(err);
    }
    let version = match &req.version {
        Ok(version) => version.clone(),
        Err(err) => return fail(err.clone()),
    };
    let is_post = req.method == "POST";
    // POST parameters come from the body; a query string is honoured on any method.
    let sources: Vec<&[u8]> = if is_post {
        vec![req.query.as_bytes(), &req.body]
    } else {
        vec![req.query.as_bytes()]
    };
    let params = match form::parse(&sources) {
        Ok(params) => params,
        Err(err) => return fail(err),
    };

    // Keys only apply to POST, as in Stripe's API v1.
    let mut claim = None;
    let mut replay = None;
    if let (true, Some(key)) = (is_post, &req.idempotency_key) {
        let fingerprint = Fingerprint {
            method: req.method.clone(),
            path: req.path.clone(),
            params: params.canonical(),
        };
        match lock(&state.idempotency).claim(key, fingerprint, Instant::now()) {
            Claim::Fresh => claim = Some(ClaimGuard::new(state.clone(), key.clone())),
            Claim::Replay(stored) => replay = Some(stored),
            Claim::Rejected(err) => return fail(err),
        }
    }

    let fault = lock(&state.faults).take(&req.method, &req.path);
    if let Some(fault) = fault {
        if !fault.latency.is_zero() {
            // No lock is held here; concurrent requests proceed normally.
            tokio::time::sleep(fault.latency).await;
        }
        if let Some(injected) = fault.failure(claim.is_some()) {
            let outcome = Outcome {
                should_retry: injected.should_retry,
                ..fail(injected.error)
            };
            match claim {
                // Failed after the endpoint began: the key replays this failure from now on
                // (and nothing changed, as for a real 500 that rolled back).
                Some(claim) if injected.stored => claim.complete(Stored {
                    status: outcome.status,
                    body: outcome.body.clone(),
                    should_retry: outcome.should_retry,
                }),
                // Refused before it ran: dropping the claim frees the key, so the client's
                // retry runs for real.
                _ => drop(claim),
            }
            return outcome;
        }
    }

    if let Some(stored) = replay {
        return Outcome {
            status: stored.status,
            body: stored.body,
            replayed: true,
            should_retry: stored.should_retry,
        };
    }

    let result = {
        let mut store = lock(&state.store);
        store.current_request = Some(RequestRef {
            id: req.request_id.clone(),
            idempotency_key: if is_post {
                req.idempotency_key.clone()
            } else {
                None
            },
        });
        let result = dispatch(
            &mut store,
            &req.method,
            &req.path,
            params,
            version.dialect(),
            now(),
        );
        store.current_request = None;
        // Failed requests can record events too (a lazily expired session).
        webhooks::publish(state, &mut store);
        result
    };
    let outcome = match result {
        Ok(value) => Outcome {
            status: 200,
            body: value.to_string(),
            replayed: false,
            should_retry: None,
        },
        Err(err) => fail(err),
    };
    if let Some(claim) = claim {
        claim.complete(Stored {
            status: outcome.status,
            body: outcome.body.clone(),
            should_retry: None,
        });
    }
    outcome
}

/// Routes a `/v1` request to its handler. Runs under the store lock, synchronously, so every
/// request is atomic.
pub fn dispatch(
    store: &mut Store,
    method: &str,
    path: &str,
    params: Node,
    dialect: Dialect,
    now: i64,
) -> Result<Value, ApiError> {
    let rest = path.strip_prefix("/v1/").unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(ApiError::unrecognized_url(method, path));
    }
    let mut p = Params::root(params);
    match (method, segments.as_slice()) {
        ("POST", ["products"]) => create_product(store, p, now).map(|x| render_product(&x)),
        ("GET", ["products", id]) => {
            p.finish()?;
            store
                .products
                .get(*id)
                .map(render_product)
                .ok_or_else(|| ApiError::no_such("product", id, "id", 404))
        }
        ("POST", ["products", id]) => update_product(store, id, p, now).map(|x| render_product(&x)),
        ("GET", ["prices"]) => list_prices(store, p),
        ("POST", ["prices"]) => {
            let expand = Expand::take(&mut p, &["product"])?;
            let price = create_price(store, p, now)?;
            Ok(render_price(&price, store, expand.has("product")))
        }
        ("GET", ["prices", id]) => {
            let expand = Expand::take(&mut p, &["product"])?;
            p.finish()?;
            store
                .prices
                .get(*id)
                .map(|price| render_price(price, store, expand.has("product")))
                .ok_or_else(|| ApiError::no_such("price", id, "id", 404))
        }
        ("POST", ["prices", id]) => {
            let expand = Expand::take(&mut p, &["product"])?;
            let price = update_price(store, id, p)?;
            Ok(render_price(&price, store, expand.has("product")))
        }
        ("GET", ["shipping_rates", id]) => {
            p.finish()?;
            store
                .shipping_rates
                .get(*id)
                .map(render_shipping_rate)
                .ok_or_else(|| ApiError::no_such("shipping_rate", id, "id", 404))
        }
        ("POST", ["tax_rates"]) => tax_rates::create(store, p, now).map(|r| render_tax_rate(&r)),
        ("GET", ["tax_rates"]) => tax_rates::list(store, p),
        ("GET", ["tax_rates", id]) => {
            p.finish()?;
            store
                .tax_rates
                .get(*id)
                .map(render_tax_rate)
                .ok_or_else(|| ApiError::no_such("tax_rate", id, "id", 404))
        }
        ("POST", ["tax_rates", id]) => tax_rates::update(store, id, p).map(|r| render_tax_rate(&r)),
        ("GET", ["events"]) => events::list(store, p),
        ("GET", ["events", id]) => events::retrieve(store, id, p),
        ("POST", ["checkout", "sessions"]) => sessions::create(store, p, dialect, now),
        ("GET", ["checkout", "sessions", id]) => sessions::retrieve(store, id, p, dialect, now),
        ("POST", ["checkout", "sessions", id]) => sessions::update(store, id, p, dialect, now),
        ("GET", ["checkout", "sessions", id, "line_items"]) => {
            sessions::list_line_items(store, id, p, now)
        }
        ("POST", ["checkout", "sessions", id, "expire"]) => {
            sessions::expire(store, id, p, dialect, now)
        }
        _ => Err(ApiError::unrecognized_url(method, path)),
    }
}

fn respond(
    outcome: Outcome,
    request_id: &str,
    version: &str,
    idempotency_key: Option<&str>,
) -> Response {
    let status = StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(outcome.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("request-id", request_id);
    put("stripe-version", version);
    if let Some(key) = idempotency_key {
        put("idempotency-key", key);
    }
    if outcome.replayed {
        put("idempotent-replayed", "true");
    }
    if let Some(retry) = outcome.should_retry {
        put("stripe-should-retry", if retry { "true" } else { "false" });
    }
    response
}

/// Holds a fresh idempotency claim. Completing stores the response; dropping it otherwise
/// (fault, or the client hung up mid-request) releases the key.
struct ClaimGuard {
    state: Arc<AppState>,
    key: Option<String>,
}

impl ClaimGuard {
    fn new(state: Arc<AppState>, key: String) -> Self {
        Self {
            state,
            key: Some(key),
        }
    }

    fn complete(mut self, response: Stored) {
        if let Some(key) = self.key.take() {
            lock(&self.state.idempotency).complete(&key, response);
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.state.idempotency).release(&key);
        }
    }
}

impl std::fmt::Debug for ClaimGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimGuard")
            .field("key", &self.key)
            .finish()
    }
}
