//! `Idempotency-Key` handling for POST requests.
//!
//! The first request with a key claims it (in flight); its response is stored when it finishes
//! (failures included, once the endpoint began executing) and replayed for 24 hours to identical
//! requests. Different parameters under the same key are
//! an `idempotency_error`; a second request while the first is still running gets 409.

use crate::errors::{ApiError, ErrorType};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);
pub const MAX_KEY_LEN: usize = 255;

/// What makes two requests "the same" for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub method: String,
    pub path: String,
    /// Canonical rendering of the decoded parameters (see [`crate::form::Node::canonical`]).
    pub params: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
    /// `Stripe-Should-Retry` as first answered, so replays say the same.
    pub should_retry: Option<bool>,
}

#[derive(Debug, Clone)]
enum Entry {
    InFlight {
        fingerprint: Fingerprint,
        since: Instant,
    },
    Done {
        fingerprint: Fingerprint,
        response: Stored,
        since: Instant,
    },
}

impl Entry {
    fn since(&self) -> Instant {
        match self {
            Self::InFlight { since, .. } | Self::Done { since, .. } => *since,
        }
    }
}

/// The outcome of presenting a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: run the request, then [`IdempotencyStore::complete`] or `release`.
    Fresh,
    Replay(Stored),
    Rejected(ApiError),
}

#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
}

impl IdempotencyStore {
    pub fn claim(&mut self, key: &str, fingerprint: Fingerprint, now: Instant) -> Claim {
        if key.len() > MAX_KEY_LEN {
            return Claim::Rejected(ApiError::invalid(format!(
                "Keys for idempotent requests can only be up to {MAX_KEY_LEN} characters long."
            )));
        }
        // Keys are pruned once they are 24 hours old; a pruned key starts afresh.
        self.entries
            .retain(|_, entry| now.saturating_duration_since(entry.since()) < TTL);
        match self.entries.get(key) {
            None => {
                self.entries.insert(
                    key.to_owned(),
                    Entry::InFlight {
                        fingerprint,
                        since: now,
                    },
                );
                Claim::Fresh
            }
            Some(Entry::InFlight { .. }) => Claim::Rejected(
                ApiError::invalid(format!(
                    "There is currently another in-progress request using this Idempotency-Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."
                ))
                .with_code("idempotency_key_in_use")
                .with_status(409),
            ),
            Some(Entry::Done {
                fingerprint: first,
                response,
                ..
            }) => {
                if *first == fingerprint {
                    Claim::Replay(response.clone())
                } else {
                    Claim::Rejected(ApiError::new(
                        400,
                        ErrorType::Idempotency,
                        format!(
                            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                        ),
                    ))
                }
            }
        }
    }

    /// Stores the response of a fresh claim.
    pub fn complete(&mut self, key: &str, response: Stored) {
        if let Some(Entry::InFlight { fingerprint, since }) = self.entries.remove(key) {
            self.entries.insert(
                key.to_owned(),
                Entry::Done {
                    fingerprint,
                    response,
                    since,
                },
            );
        }
    }

    /// Forgets a fresh claim without storing (injected faults, abandoned requests), so the
    /// client's retry runs for real.
    pub fn release(&mut self, key: &str) {
        if let Some(Entry::InFlight { .. }) = self.entries.get(key) {
            self.entries.remove(key);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(params: &str) -> Fingerprint {
        Fingerprint {
            method: "POST".into(),
            path: "/v1/products".into(),
            params: params.into(),
        }
    }

    fn stored() -> Stored {
        Stored {
            status: 200,
            body: "{}".into(),
            should_retry: None,
        }
    }

    #[test]
    fn replay_mismatch_and_in_flight() {
        let mut s = IdempotencyStore::default();
        let t = Instant::now();
        assert_eq!(s.claim("k", fp("a"), t), Claim::Fresh);
        match s.claim("k", fp("a"), t) {
            Claim::Rejected(e) => {
                assert_eq!(e.status, 409);
                assert_eq!(e.code, Some("idempotency_key_in_use"));
            }
            other => panic!("expected in-use, got {other:?}"),
        }
        s.complete("k", stored());
        assert_eq!(s.claim("k", fp("a"), t), Claim::Replay(stored()));
        match s.claim("k", fp("b"), t) {
            Claim::Rejected(e) => {
                assert_eq!(e.kind, ErrorType::Idempotency);
                assert!(e.message.contains("'k'"));
            }
            other => panic!("expected mismatch, got {other:?}"),
        }
    }

    #[test]
    fn release_and_expiry_free_the_key() {
        let mut s = IdempotencyStore::default();
        let t = Instant::now();
        assert_eq!(s.claim("k", fp("a"), t), Claim::Fresh);
        s.release("k");
        assert_eq!(s.claim("k", fp("b"), t), Claim::Fresh);
        s.complete("k", stored());
        let later = t + TTL + Duration::from_secs(1);
        assert_eq!(s.claim("k", fp("c"), later), Claim::Fresh);
    }

    #[test]
    fn release_does_not_drop_completed_entries() {
        let mut s = IdempotencyStore::default();
        let t = Instant::now();
        assert_eq!(s.claim("k", fp("a"), t), Claim::Fresh);
        s.complete("k", stored());
        s.release("k");
        assert_eq!(s.claim("k", fp("a"), t), Claim::Replay(stored()));
    }
}
