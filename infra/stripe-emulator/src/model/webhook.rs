//! Webhook endpoints and the delivery log as the store keeps them, with the validation of an
//! endpoint's spec (from the control API or the command line).

use super::event::EventType;
use crate::dialect::ApiVersion;
use crate::ids::{new_id, ID_LEN};
use axum::http::Uri;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
