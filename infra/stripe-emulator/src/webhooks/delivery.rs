//! The delivery workers: one tokio task per endpoint, draining that endpoint's queue in order,
//! so events reach each endpoint in the order they happened. A failed attempt (no 2xx) is
//! retried with exponential backoff up to `max_attempts`; the next event waits meanwhile.
//!
//! Workers hold only a `Weak` reference to the state and never hold a lock across an await.

use super::signature::signature_header;
use crate::clock::now;
use crate::model::DeliveryAttempt;
use crate::{lock, AppState};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HOST, USER_AGENT};
use axum::http::Uri;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const USER_AGENT_VALUE: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Attempts per delivery, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failure; doubles after each further one.
    pub retry_base: Duration,
    /// Longest wait between attempts.
    pub retry_cap: Duration,
    /// Per attempt: connect, send, and read the response head.
    pub timeout: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base: Duration::from_millis(200),
            retry_cap: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl DeliveryConfig {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.retry_base
            .checked_mul(factor)
            .unwrap_or(self.retry_cap)
            .min(self.retry_cap)
    }
}

/// One event for one endpoint: everything needed to send it without touching the store.
#[derive(Debug, Clone)]
pub struct Job {
    /// The store epoch it belongs to; results for an older epoch (before a reset) are dropped.
    pub epoch: u64,
    pub event_id: String,
    pub event_type: &'static str,
    pub endpoint_id: String,
    pub url: String,
    pub uri: Uri,
    pub secret: String,
    pub body: Bytes,
    pub redelivery: bool,
}

#[derive(Debug)]
struct Worker {
    queue: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
pub struct Dispatcher {
    config: DeliveryConfig,
    workers: HashMap<String, Worker>,
    /// Set at shutdown: nothing is sent any more.
    closed: bool,
}

impl Dispatcher {
    pub fn new(config: DeliveryConfig) -> Self {
        Self {
            config,
            workers: HashMap::new(),
            closed: false,
        }
    }

    pub fn config(&self) -> DeliveryConfig {
        self.config
    }

    /// Queues jobs on their endpoints' workers, starting workers as needed. Outside a tokio
    /// runtime (plain unit tests of the store) there is nobody to send, so nothing is queued.
    pub fn enqueue(&mut self, state: &Arc<AppState>, jobs: Vec<Job>) {
        if self.closed || jobs.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: webhook deliveries skipped");
            return;
        };
        for job in jobs {
            let running = self
                .workers
                .get(&job.endpoint_id)
                .is_some_and(|w| !w.task.is_finished());
            if !running {
                let (queue, receiver) = mpsc::unbounded_channel();
                let task = runtime.spawn(run(Arc::downgrade(state), receiver, self.config));
                self.workers
                    .insert(job.endpoint_id.clone(), Worker { queue, task });
            }
            if let Some(worker) = self.workers.get(&job.endpoint_id) {
                // Fails only if the worker just ended; the job is then lost like a dropped one.
                let _ = worker.queue.send(job);
            }
        }
    }

    /// Stops one endpoint's worker: its queue and any pending retry are abandoned.
    pub fn stop(&mut self, endpoint_id: &str) {
        if let Some(worker) = self.workers.remove(endpoint_id) {
            worker.task.abort();
        }
    }

    pub fn stop_all(&mut self) {
        for (_, worker) in self.workers.drain() {
            worker.task.abort();
        }
    }

    /// For shutdown: stops everything and refuses new work.
    pub fn close(&mut self) {
        self.closed = true;
        self.stop_all();
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.stop_all();
    }
}

async fn run(
    state: Weak<AppState>,
    mut queue: mpsc::UnboundedReceiver<Job>,
    config: DeliveryConfig,
) {
    while let Some(job) = queue.recv().await {
        if !deliver(&state, &job, config).await {
            return;
        }
    }
}

/// Attempts `job` until a 2xx or `max_attempts`. Returns false once the emulator is gone.
async fn deliver(state: &Weak<AppState>, job: &Job, config: DeliveryConfig) -> bool {
    let attempts = config.max_attempts.max(1);
    for attempt in 1..=attempts {
        let sent_at = now();
        let signature = signature_header(&job.secret, sent_at, &job.body);
        let result = match tokio::time::timeout(config.timeout, post(job, &signature)).await {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {} ms", config.timeout.as_millis())),
        };
        let (status, error) = match result {
            Ok(status) => (Some(status), None),
            Err(error) => (None, Some(error)),
        };
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        {
            let Some(state) = state.upgrade() else {
                return false;
            };
            let mut store = lock(&state.store);
            if store.epoch != job.epoch {
                // Reset since this job was queued: it belongs to a world that is gone.
                return true;
            }
            store.log_delivery(DeliveryAttempt {
                event_id: job.event_id.clone(),
                event_type: job.event_type.to_owned(),
                endpoint_id: job.endpoint_id.clone(),
                url: job.url.clone(),
                attempt,
                status,
                error: error.clone(),
                delivered_at: sent_at,
                redelivery: job.redelivery,
            });
            if delivered {
                if let Some(event) = store.events.iter_mut().rev().find(|e| e.id == job.event_id) {
                    event.pending.remove(&job.endpoint_id);
                }
            }
        }
        tracing::info!(
            event_id = %job.event_id,
            endpoint_id = %job.endpoint_id,
            attempt,
            status,
            error = error.as_deref().unwrap_or(""),
            "webhook attempt"
        );
        if delivered {
            return true;
        }
        if attempt < attempts {
            tokio::time::sleep(config.backoff(attempt)).await;
        }
    }
    tracing::warn!(
        event_id = %job.event_id,
        endpoint_id = %job.endpoint_id,
        attempts,
        "webhook not delivered; giving up"
    );
    true
}

/// One HTTP/1.1 POST on a fresh connection; the receiver's status, or why there was none.
async fn post(job: &Job, signature: &str) -> Result<u16, String> {
    let host = job.uri.host().unwrap_or_default();
    // `[::1]` in a URL is `::1` to connect to.
    let connect_host = host.trim_start_matches('[').trim_end_matches(']');
    let port = job.uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((connect_host, port))
        .await
        .map_err(|e| format!("connect {host}:{port}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let authority = job
        .uri
        .authority()
        .map_or_else(|| host.to_owned(), |a| a.as_str().to_owned());
    let path = job.uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::post(path)
        .header(HOST, authority)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(ACCEPT, "*/*; q=0.5, application/xml")
        .header(CACHE_CONTROL, "no-cache")
        .header("stripe-signature", signature)
        .body(Full::new(job.body.clone()))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender.send_request(request);
    tokio::pin!(response);
    tokio::pin!(connection);
    let status = |r: hyper::Response<hyper::body::Incoming>| r.status().as_u16();
    // The connection must be driven while the request runs.
    tokio::select! {
        biased;
        response = &mut response => response.map(status).map_err(|e| format!("{e}")),
        closed = &mut connection => {
            // It may end right after handing over the response (HTTP/1.0, `Connection:
            // close`), so the response still decides; it is ready or failed by now.
            match response.await {
                Ok(r) => Ok(status(r)),
                Err(e) => Err(match closed {
                    Err(closed) => format!("{closed}"),
                    Ok(()) => format!("connection closed before a response ({e})"),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(url: &str) -> Job {
        Job {
            epoch: 0,
            event_id: "evt_1".into(),
            event_type: "checkout.session.completed",
            endpoint_id: "we_1".into(),
            url: url.into(),
            uri: url.parse().expect("uri"),
            secret: "whsec_x".into(),
            body: Bytes::from_static(b"{}"),
            redelivery: false,
        }
    }

    /// Answers one request with `reply`, then closes, returning what it read.
    async fn one_shot(reply: &'static [u8]) -> (String, JoinHandle<Vec<u8>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook?x=1", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers end with a blank line; the 2-byte body follows.
            while !seen.windows(6).any(|w| w == b"\r\n\r\n{}") {
                let n = socket.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            socket.write_all(reply).await.expect("write");
            seen
        });
        (url, server)
    }

    #[tokio::test]
    async fn an_http10_answer_that_closes_at_once_still_counts() {
        let (url, server) = one_shot(b"HTTP/1.0 204 No Content\r\n\r\n").await;
        assert_eq!(post(&job(&url), "t=1,v1=ab").await, Ok(204));
        let request = String::from_utf8(server.await.expect("server")).expect("utf8");
        assert!(
            request.starts_with("POST /hook?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        let lower = request.to_ascii_lowercase();
        assert!(
            lower.contains("stripe-signature: t=1,v1=ab\r\n"),
            "{request}"
        );
        assert!(lower.contains("content-type: application/json\r\n"));
        assert!(lower.contains("host: 127.0.0.1:"));
    }

    #[tokio::test]
    async fn a_closed_connection_without_answer_is_an_error() {
        let (url, server) = one_shot(b"").await;
        let result = post(&job(&url), "t=1,v1=ab").await;
        server.await.expect("server");
        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let c = DeliveryConfig {
            retry_base: Duration::from_millis(200),
            retry_cap: Duration::from_secs(1),
            ..DeliveryConfig::default()
        };
        assert_eq!(c.backoff(1), Duration::from_millis(200));
        assert_eq!(c.backoff(2), Duration::from_millis(400));
        assert_eq!(c.backoff(3), Duration::from_millis(800));
        assert_eq!(c.backoff(4), Duration::from_secs(1));
        assert_eq!(c.backoff(40), Duration::from_secs(1));
        assert_eq!(c.backoff(0), Duration::from_millis(200));
    }
}
