//! A stateful local emulator of the Stripe API subset that Checkout "dynamically update line
//! items" needs: products, prices, tax rates, Checkout Sessions (create / retrieve / update /
//! expire / line items), events and signed webhook delivery, idempotency keys, API-version
//! dialects, plus a `/_emulator` control API for tests (request log, fault injection,
//! completing sessions, webhook endpoints and deliveries, reset).
//!
//! `main.rs` only parses arguments and wires signals; everything else lives here so it can be
//! unit-tested.

// The Checkout Session object is one large `json!` literal.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod control;
pub mod dialect;
pub mod errors;
pub mod events;
pub mod expand;
pub mod form;
pub mod idempotency;
pub mod ids;
pub mod metadata;
pub mod model;
pub mod objects;
pub mod sessions;
pub mod store;
pub mod tax_rates;
pub mod webhooks;

use axum::http::HeaderValue;
use axum::response::Response;
use axum::serve::ListenerExt;
use axum::Router;
use dialect::ApiVersion;
use std::future::{Future, IntoFuture};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;

/// How long in-flight requests may take to finish once shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How often open sessions are checked for a passed `expires_at`.
const EXPIRY_SWEEP: Duration = Duration::from_secs(1);

/// Shared state. Each part has its own mutex, held only for short synchronous sections and
/// never across an `.await` (fault latency sleeps happen with no lock held). When two are
/// needed, `store` is locked before `dispatcher`.
#[derive(Debug)]
pub struct AppState {
    pub store: Mutex<store::Store>,
    pub idempotency: Mutex<idempotency::IdempotencyStore>,
    pub log: Mutex<control::RequestLog>,
    pub faults: Mutex<control::Faults>,
    /// Webhook delivery workers.
    pub dispatcher: Mutex<webhooks::Dispatcher>,
    /// Used when a request sends no `Stripe-Version`; also the account's version for events.
    pub default_version: ApiVersion,
    /// Configured on the command line; survives resets (it is configuration, not test state).
    startup_endpoint: Option<webhooks::WebhookEndpoint>,
}

impl AppState {
    pub fn new(default_version: ApiVersion) -> Self {
        Self::with_webhooks(default_version, webhooks::DeliveryConfig::default(), None)
    }

    pub fn with_webhooks(
        default_version: ApiVersion,
        delivery: webhooks::DeliveryConfig,
        startup_endpoint: Option<webhooks::WebhookEndpoint>,
    ) -> Self {
        let state = Self {
            store: Mutex::new(store::Store::new(default_version.clone(), 0)),
            idempotency: Mutex::default(),
            log: Mutex::default(),
            faults: Mutex::default(),
            dispatcher: Mutex::new(webhooks::Dispatcher::new(delivery)),
            default_version,
            startup_endpoint,
        };
        state.install_startup_endpoint(&mut lock(&state.store));
        state
    }

    fn install_startup_endpoint(&self, store: &mut store::Store) {
        if let Some(endpoint) = &self.startup_endpoint {
            store.webhook_endpoints.push(endpoint.clone());
        }
    }

    /// Forgets all objects, events, webhook endpoints (but the start-up one) and deliveries,
    /// idempotency keys, logged requests and fault rules, and abandons pending deliveries.
    pub fn reset(&self) {
        {
            let mut store = lock(&self.store);
            let epoch = store.epoch.wrapping_add(1);
            *store = store::Store::new(self.default_version.clone(), epoch);
            self.install_startup_endpoint(&mut store);
            lock(&self.dispatcher).stop_all();
        }
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

/// Expires sessions whose time is up, so `checkout.session.expired` is sent without anyone
/// reading the session (reads also expire lazily, so clients see the same either way).
async fn expire_sessions(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(EXPIRY_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let mut store = lock(&state.store);
        if sessions::expire_due(&mut store, store::now()) > 0 {
            webhooks::publish(&state, &mut store);
        }
    }
}

/// Serves until `shutdown` resolves, then gives in-flight requests `SHUTDOWN_GRACE` to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Without TCP_NODELAY a keep-alive client stalls on a delayed ACK (~40 ms) whenever an
    // answer is written in more than one piece: an artefact that would distort every benchmark.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .into_future();
    let mut server = tokio::spawn(server);
    let sweeper = tokio::spawn(expire_sessions(state.clone()));
    // Background work ends with the server: no expiry sweep, no webhook (retry) after this.
    let stop_background = || {
        sweeper.abort();
        lock(&state.dispatcher).close();
    };
    tokio::select! {
        finished = &mut server => {
            stop_background();
            return finished.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        }
        () = shutdown => {}
    }
    tracing::info!("shutting down");
    stop_background();
    let _ = stop_tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(finished) => finished.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        Err(_) => {
            tracing::warn!("in-flight requests did not finish in time; exiting anyway");
            Ok(())
        }
    }
}
