//! Fault injection (`/_emulator/faults`): rules that slow matching `/v1` requests down and/or
//! fail them with a Stripe-shaped error.
//!
//! A failure is either *saved* (it happened once the endpoint began executing) or not (it was
//! refused before: validation, rate limiting, a concurrent request with the key). Stripe's API
//! reference (Idempotent requests): the status and body of the first request with a key are saved
//! "after endpoint execution begins" and replayed to retries with that key, "including `500`
//! errors"; requests refused before save nothing. stripe-python's `_should_retry`
//! (`stripe/_http_client.py`) expects a 500 to come with `Stripe-Should-Retry: false` "since our
//! idempotency framework would typically replay it anyway".

use crate::errors::{ApiError, ErrorType};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    /// Whether an injected status of 500 or more happened after the endpoint began (default
    /// true): on a POST with an Idempotency-Key it is then stored under the key and replayed.
    /// `false`: it happened before, nothing is stored and the answer invites a retry.
    #[serde(default)]
    pub saved: Option<bool>,
    /// Overrides the `Stripe-Should-Retry` header of the injected answer.
    #[serde(default)]
    pub should_retry: Option<bool>,
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
    pub saved: bool,
    pub should_retry: Option<bool>,
}

/// The answer an injected status gives one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFailure {
    pub error: ApiError,
    /// Store it under the request's Idempotency-Key, as the first result for that key.
    pub stored: bool,
    /// The `Stripe-Should-Retry` header (absent when `None`).
    pub should_retry: Option<bool>,
}

impl FaultHit {
    /// The failure to answer with, if the rule has a status. `keyed_post` says whether the
    /// request is a POST that freshly claimed an Idempotency-Key (so there is a key to store
    /// under).
    pub fn failure(&self, keyed_post: bool) -> Option<InjectedFailure> {
        let status = self.status?;
        let server_error = status >= 500;
        // A 429 is never saved: the rate limiter refuses before the endpoint runs. It carries
        // no Should-Retry, like Stripe's rate limits (SDKs leave those to the caller, see
        // stripe/stripe-dotnet#1886); `should_retry` can add one (a lock-timeout 429).
        let stored = keyed_post && server_error && self.saved;
        let advice = if stored {
            Some(false)
        } else if server_error && !self.saved {
            Some(true)
        } else {
            // A failure that began executing but has no key to be saved under (a GET, a POST
            // without a key): no advice, the client goes by the status.
            None
        };
        Some(InjectedFailure {
            error: fault_error(status),
            stored,
            should_retry: self.should_retry.or(advice),
        })
    }
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
        if spec.status.is_none() && (spec.saved.is_some() || spec.should_retry.is_some()) {
            return Err(
                "saved and should_retry describe an injected failure: give a status too".to_owned(),
            );
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
            saved: rule.spec.saved.unwrap_or(true),
            should_retry: rule.spec.should_retry,
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
            saved: None,
            should_retry: None,
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

    fn hit(status: Option<u16>, saved: bool, should_retry: Option<bool>) -> FaultHit {
        FaultHit {
            status,
            latency: Duration::ZERO,
            saved,
            should_retry,
        }
    }

    #[test]
    fn saved_server_errors_are_stored_under_the_key_and_say_do_not_retry() {
        let stored = hit(Some(500), true, None).failure(true).expect("failure");
        assert!(stored.stored);
        assert_eq!(stored.should_retry, Some(false));
        assert_eq!(stored.error.status, 500);
        // Nothing to store under: no advice, the client goes by the status.
        let unkeyed = hit(Some(503), true, None).failure(false).expect("failure");
        assert!(!unkeyed.stored);
        assert_eq!(unkeyed.should_retry, None);
    }

    #[test]
    fn unsaved_failures_invite_a_retry_and_429_is_never_saved() {
        let early = hit(Some(500), false, None).failure(true).expect("failure");
        assert!(!early.stored);
        assert_eq!(early.should_retry, Some(true));
        for saved in [true, false] {
            let limited = hit(Some(429), saved, None).failure(true).expect("failure");
            assert!(!limited.stored, "saved={saved}");
            assert_eq!(limited.should_retry, None);
            assert_eq!(limited.error.code, Some("rate_limit"));
        }
        let lock = hit(Some(429), true, Some(true))
            .failure(true)
            .expect("failure");
        assert_eq!((lock.stored, lock.should_retry), (false, Some(true)));
        let insisted = hit(Some(500), true, Some(true))
            .failure(true)
            .expect("failure");
        assert_eq!((insisted.stored, insisted.should_retry), (true, Some(true)));
        assert_eq!(hit(None, true, None).failure(true), None);
    }

    #[test]
    fn saved_and_should_retry_need_a_status() {
        let mut f = Faults::default();
        let mut slow = spec(None, None, None);
        slow.status = None;
        slow.latency_ms = 10;
        f.add(slow.clone()).expect("a slow fault alone is fine");
        let mut bad = slow.clone();
        bad.saved = Some(false);
        assert!(f.add(bad).is_err());
        let mut bad = slow;
        bad.should_retry = Some(true);
        assert!(f.add(bad).is_err());
        let mut given = spec(None, None, Some(1));
        given.saved = Some(false);
        f.add(given).expect("added");
        let taken = f.take("POST", "/v1/x").expect("the slow rule");
        assert!(taken.status.is_none() && taken.saved);
    }
}
