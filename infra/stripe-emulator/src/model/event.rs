//! Events as the store keeps them: the type, the request that caused it, and a snapshot of the
//! session it is about (each reader renders the snapshot in its own dialect).

use super::session::Session;
use crate::dialect::ApiVersion;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    CheckoutSessionCompleted,
    CheckoutSessionExpired,
    CheckoutSessionAsyncPaymentSucceeded,
    CheckoutSessionAsyncPaymentFailed,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckoutSessionCompleted => "checkout.session.completed",
            Self::CheckoutSessionExpired => "checkout.session.expired",
            Self::CheckoutSessionAsyncPaymentSucceeded => {
                "checkout.session.async_payment_succeeded"
            }
            Self::CheckoutSessionAsyncPaymentFailed => "checkout.session.async_payment_failed",
        }
    }
}

/// The API request that caused an event (`request` in the event object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRef {
    pub id: String,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    /// Creation order, for newest-first lists.
    pub seq: u64,
    pub kind: EventType,
    pub created: i64,
    /// The session as it was when the event happened.
    pub session: Session,
    /// `None` for changes no API request caused (a customer paying, time running out).
    pub request: Option<RequestRef>,
    /// The account's version when the event happened; `/v1/events` renders in it, as Stripe does.
    pub api_version: ApiVersion,
    /// Endpoints the event was queued for that have not acknowledged it with a 2xx.
    pub pending: BTreeSet<String>,
    /// The body sent to each endpoint, so a redelivery sends the very same bytes.
    pub bodies: BTreeMap<String, Bytes>,
}

impl Event {
    pub fn new(
        id: String,
        seq: u64,
        kind: EventType,
        created: i64,
        session: Session,
        request: Option<RequestRef>,
        api_version: ApiVersion,
    ) -> Self {
        Self {
            id,
            seq,
            kind,
            created,
            session,
            request,
            api_version,
            pending: BTreeSet::new(),
            bodies: BTreeMap::new(),
        }
    }
}
