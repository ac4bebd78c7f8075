//! A stateful local emulator of the Stripe API subset that Checkout "dynamically update line
//! items" needs: products, prices, Checkout Sessions (create / retrieve / update / expire /
//! line items), idempotency keys, API-version dialects, plus a `/_emulator` control API for
//! tests (request log, fault injection, completing sessions, reset).
//!
//! `main.rs` only parses arguments and wires signals; everything else lives here so it can be
//! unit-tested.

// The Checkout Session object is one large `json!` literal.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod cli;
pub mod control;
pub mod dialect;
pub mod errors;
pub mod events;
pub mod expand;
pub mod form;
pub mod idempotency;
pub mod objects;
pub mod sessions;
pub mod store;

use axum::http::HeaderValue;
use axum::response::Response;
use axum::Router;
use dialect::ApiVersion;
use std::future::{Future, IntoFuture};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;

/// How long in-flight requests may take to finish once shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Shared state. Each part has its own mutex, held only for short synchronous sections and
/// never across an `.await` (fault latency sleeps happen with no lock held).
#[derive(Debug)]
pub struct AppState {
    pub store: Mutex<store::Store>,
    pub idempotency: Mutex<idempotency::IdempotencyStore>,
    pub log: Mutex<control::RequestLog>,
    pub faults: Mutex<control::Faults>,
    /// Used when a request sends no `Stripe-Version`.
    pub default_version: ApiVersion,
}

impl AppState {
    pub fn new(default_version: ApiVersion) -> Self {
        Self {
            store: Mutex::default(),
            idempotency: Mutex::default(),
            log: Mutex::default(),
            faults: Mutex::default(),
            default_version,
        }
    }

    /// Forgets all objects, idempotency keys, logged requests and fault rules.
    pub fn reset(&self) {
        *lock(&self.store) = store::Store::default();
        lock(&self.idempotency).clear();
        lock(&self.log).clear();
        lock(&self.faults).clear();
    }
}

/// Locks, recovering from poisoning: handlers do not panic, and if one ever did the data is
/// still consistent because every mutation is applied only after full validation.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn router(state: Arc<AppState>) -> Router {
    control::routes()
        .fallback(api::handle)
        .layer(axum::middleware::map_response(ensure_request_id))
        .with_state(state)
}

/// Every response carries a `Request-Id`, control routes included.
async fn ensure_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key("request-id") {
        if let Ok(value) = HeaderValue::from_str(&objects::new_id("req_", 14)) {
            response.headers_mut().insert("request-id", value);
        }
    }
    response
}

/// Serves until `shutdown` resolves, then gives in-flight requests [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .into_future();
    let mut server = tokio::spawn(server);
    tokio::select! {
        finished = &mut server => {
            return finished.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        }
        () = shutdown => {}
    }
    tracing::info!("shutting down");
    let _ = stop_tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(finished) => finished.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        Err(_) => {
            tracing::warn!("in-flight requests did not finish in time; exiting anyway");
            Ok(())
        }
    }
}
