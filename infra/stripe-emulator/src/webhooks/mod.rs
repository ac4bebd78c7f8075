//! Webhook endpoints and the delivery of events to them, signed as Stripe signs them.
//!
//! Endpoints, the delivery log and per-endpoint drop counters live in the [`Store`] (one lock,
//! cleared by reset); the workers that POST live in the [`Dispatcher`]. Lock order is always
//! store, then dispatcher.

mod delivery;

pub use delivery::{DeliveryConfig, Dispatcher, Job};

use crate::dialect::ApiVersion;
use crate::errors::ApiError;
use crate::events::{self, EventType};
use crate::objects::{new_id, ID_LEN};
use crate::store::Store;
use crate::{lock, AppState};
use axum::http::Uri;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;

/// `enabled_events` entry that matches every type.
pub const ALL_EVENTS: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub uri: Uri,
    pub secret: String,
    /// Events are rendered in this version's dialect for this endpoint.
    pub api_version: ApiVersion,
    pub enabled_events: Vec<String>,
    /// How many upcoming events to lose on purpose (`/drop`).
    pub drop_next: u64,
    pub created: i64,
}

/// `POST /_emulator/webhook_endpoints` body (also built from the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub url: String,
    pub secret: Option<String>,
    pub api_version: Option<String>,
    pub enabled_events: Option<Vec<String>>,
}

impl WebhookEndpoint {
    /// Validates `spec`; an absent secret is generated, an absent version is `default_version`.
    pub fn build(
        spec: EndpointSpec,
        default_version: &ApiVersion,
        now: i64,
    ) -> Result<Self, String> {
        let uri: Uri = spec
            .url
            .parse()
            .map_err(|e| format!("invalid url `{}`: {e}", spec.url))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "invalid url `{}`: the emulator delivers over plain http only",
                    spec.url
                ))
            }
            _ => {
                return Err(format!(
                    "invalid url `{}`: use http://HOST:PORT/path",
                    spec.url
                ))
            }
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(format!("invalid url `{}`: no host", spec.url));
        }
        let secret = match spec.secret {
            Some(secret) if secret.trim().is_empty() => {
                return Err("secret must not be empty (omit it to have one generated)".to_owned())
            }
            Some(secret) => secret,
            None => new_id("whsec_", 32),
        };
        let api_version = match spec.api_version {
            Some(raw) => ApiVersion::parse(&raw).map_err(|e| e.message)?,
            None => default_version.clone(),
        };
        let enabled_events = spec
            .enabled_events
            .unwrap_or_else(|| vec![ALL_EVENTS.to_owned()]);
        if enabled_events.is_empty() {
            return Err("enabled_events must list at least one event type (or \"*\")".to_owned());
        }
        for kind in &enabled_events {
            let valid = kind == ALL_EVENTS
                || (!kind.is_empty()
                    && kind.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_'
                    }));
            if !valid {
                return Err(format!("invalid event type in enabled_events: `{kind}`"));
            }
        }
        Ok(Self {
            id: new_id("we_", ID_LEN),
            url: spec.url,
            uri,
            secret,
            api_version,
            enabled_events,
            drop_next: 0,
            created: now,
        })
    }

    pub fn wants(&self, kind: EventType) -> bool {
        self.enabled_events
            .iter()
            .any(|e| e == ALL_EVENTS || e == kind.as_str())
    }

    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": self.api_version.raw,
            "created": self.created,
            "enabled_events": self.enabled_events,
            "livemode": false,
            "secret": self.secret,
            "status": "enabled",
            "url": self.url,
            "drop_next": self.drop_next,
        })
    }
}

/// One POST of an event to an endpoint, as `GET /_emulator/webhook_deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub endpoint_id: String,
    pub url: String,
    /// 1-based, counted per delivery (a redelivery starts again at 1).
    pub attempt: u32,
    /// The receiver's HTTP status, or `None` when no response came.
    pub status: Option<u16>,
    /// Why no response came (connection refused, timeout...).
    pub error: Option<String>,
    /// Unix seconds when the attempt was made.
    pub delivered_at: i64,
    /// Sent by `/_emulator/events/:id/redeliver`.
    pub redelivery: bool,
}

/// `Stripe-Signature` for `body` sent at `timestamp`: `t=<unix>,v1=<hex HMAC-SHA256>` over
/// `"<t>.<body>"`, keyed with the secret string as is (`whsec_` prefix included).
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

/// The hex `v1` signature.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never fails; an empty MAC would simply not verify.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Hands the store's new events to delivery: for each, every endpoint subscribed to its type
/// gets the event rendered in the endpoint's version, unless the endpoint is set to drop it.
/// Call with the store lock held, after anything that may record events.
pub fn publish(state: &Arc<AppState>, store: &mut Store) {
    let range = store.take_unpublished();
    if range.is_empty() {
        return;
    }
    let mut jobs = Vec::new();
    for index in range {
        let kind = store.events[index].kind;
        let targets: Vec<usize> = (0..store.webhook_endpoints.len())
            .filter(|&i| store.webhook_endpoints[i].wants(kind))
            .collect();
        // A dropped event stays pending: to Stripe it is simply undelivered.
        store.events[index].pending = targets
            .iter()
            .map(|&i| store.webhook_endpoints[i].id.clone())
            .collect();
        for i in targets {
            let endpoint = &mut store.webhook_endpoints[i];
            if endpoint.drop_next > 0 {
                endpoint.drop_next -= 1;
                tracing::info!(
                    event_id = %store.events[index].id,
                    endpoint_id = %endpoint.id,
                    "webhook dropped on purpose"
                );
                continue;
            }
            jobs.push(job_for(store, index, i, false));
        }
    }
    lock(&state.dispatcher).enqueue(state, jobs);
}

/// Builds the job sending event `index` to endpoint `endpoint`, rendering (and keeping) the
/// body unless one was already sent there.
fn job_for(store: &mut Store, index: usize, endpoint: usize, redelivery: bool) -> Job {
    let endpoint = store.webhook_endpoints[endpoint].clone();
    let event = &store.events[index];
    let body = match event.bodies.get(&endpoint.id) {
        Some(body) => body.clone(),
        None => Bytes::from(events::render(event, store, &endpoint.api_version).to_string()),
    };
    let event = &mut store.events[index];
    event.bodies.insert(endpoint.id.clone(), body.clone());
    event.pending.insert(endpoint.id.clone());
    Job {
        epoch: store.epoch,
        event_id: event.id.clone(),
        event_type: event.kind.as_str(),
        endpoint_id: endpoint.id,
        url: endpoint.url,
        uri: endpoint.uri,
        secret: endpoint.secret,
        body,
        redelivery,
    }
}

/// `POST /_emulator/events/:id/redeliver`: the same event again (same id and body, new
/// signature timestamp) to one endpoint, or to every endpoint subscribed to its type.
/// Redeliveries ignore `drop`. Returns the endpoint ids.
pub fn redeliver(
    state: &Arc<AppState>,
    store: &mut Store,
    event_id: &str,
    endpoint_id: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let index = store
        .events
        .iter()
        .position(|e| e.id == event_id)
        .ok_or_else(|| ApiError::no_such("event", event_id, "id", 404))?;
    let kind = store.events[index].kind;
    let targets: Vec<usize> = match endpoint_id {
        Some(id) => vec![store
            .webhook_endpoints
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| ApiError::no_such("webhook endpoint", id, "endpoint_id", 404))?],
        None => (0..store.webhook_endpoints.len())
            .filter(|&i| store.webhook_endpoints[i].wants(kind))
            .collect(),
    };
    let jobs: Vec<Job> = targets
        .into_iter()
        .map(|i| job_for(store, index, i, true))
        .collect();
    let ids = jobs.iter().map(|j| j.endpoint_id.clone()).collect();
    lock(&state.dispatcher).enqueue(state, jobs);
    Ok(ids)
}

/// Removes an endpoint and stops its deliveries (queued ones and retries included).
pub fn delete_endpoint(state: &AppState, store: &mut Store, id: &str) -> Result<(), ApiError> {
    let index = store
        .webhook_endpoints
        .iter()
        .position(|e| e.id == id)
        .ok_or_else(|| ApiError::no_such("webhook endpoint", id, "id", 404))?;
    store.webhook_endpoints.remove(index);
    for event in &mut store.events {
        event.pending.remove(id);
    }
    lock(&state.dispatcher).stop(id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> EndpointSpec {
        EndpointSpec {
            url: url.to_owned(),
            ..EndpointSpec::default()
        }
    }

    #[test]
    fn signature_matches_an_independent_computation() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn endpoints_validate_and_default() {
        let v = ApiVersion::default_version();
        let e = WebhookEndpoint::build(spec("http://127.0.0.1:9/hook"), &v, 1).expect("ok");
        assert!(e.id.starts_with("we_"));
        assert!(e.secret.starts_with("whsec_"));
        assert_eq!(e.api_version, v);
        assert!(e.wants(EventType::CheckoutSessionExpired));
        for bad in [
            "https://example.test/x",
            "ftp://x/y",
            "/relative",
            "not a url",
            "",
        ] {
            assert!(WebhookEndpoint::build(spec(bad), &v, 1).is_err(), "{bad}");
        }
        let mut s = spec("http://localhost:8080/");
        s.enabled_events = Some(vec!["checkout.session.completed".into()]);
        s.api_version = Some("2025-03-31.basil; checkout_server_update_beta=v1".into());
        s.secret = Some("whsec_given".into());
        let e = WebhookEndpoint::build(s.clone(), &v, 1).expect("ok");
        assert!(e.wants(EventType::CheckoutSessionCompleted));
        assert!(!e.wants(EventType::CheckoutSessionExpired));
        assert_eq!(e.secret, "whsec_given");
        assert_eq!(e.api_version.date, "2025-03-31");
        s.enabled_events = Some(vec![]);
        assert!(WebhookEndpoint::build(s.clone(), &v, 1).is_err());
        s.enabled_events = Some(vec!["Bad Type".into()]);
        assert!(WebhookEndpoint::build(s.clone(), &v, 1).is_err());
        s.enabled_events = None;
        s.api_version = Some("nope".into());
        assert!(WebhookEndpoint::build(s.clone(), &v, 1).is_err());
        s.api_version = None;
        s.secret = Some(" ".into());
        assert!(WebhookEndpoint::build(s, &v, 1).is_err());
    }
}
