//! The account's objects. One instance lives behind a mutex in [`crate::AppState`]; handlers
//! validate fully against it and only then mutate, so a rejected request changes nothing.

use crate::dialect::ApiVersion;
use crate::ids::{new_id, ID_LEN};
use crate::model::{
    DeliveryAttempt, Event, EventType, Price, Product, RequestRef, Session, ShippingRate, TaxRate,
    WebhookEndpoint,
};
use std::collections::HashMap;

/// Handlers and tests read the time from here, beside the objects it stamps.
pub use crate::clock::now;

/// The delivery log keeps this many attempts (oldest dropped first), bounding a long dev run.
const MAX_DELIVERY_LOG: usize = 10_000;

#[derive(Debug)]
pub struct Store {
    pub products: HashMap<String, Product>,
    pub prices: HashMap<String, Price>,
    pub shipping_rates: HashMap<String, ShippingRate>,
    pub tax_rates: HashMap<String, TaxRate>,
    pub sessions: HashMap<String, Session>,
    /// Every event, oldest first (see [`crate::events`]).
    pub events: Vec<Event>,
    /// `events[published..]` is the outbox: not yet handed to webhook delivery.
    published: usize,
    /// Registered webhook endpoints, in creation order.
    pub webhook_endpoints: Vec<WebhookEndpoint>,
    /// Every delivery attempt, in the order they finished.
    pub deliveries: Vec<DeliveryAttempt>,
    /// The `/v1` request being dispatched, for the `request` of events it causes.
    pub current_request: Option<RequestRef>,
    /// The account's API version (the emulator's default): events are recorded in it.
    pub account_version: ApiVersion,
    /// Differs after every reset, so delivery work started before one cannot write into the
    /// fresh store.
    pub epoch: u64,
    seq: u64,
}

impl Default for Store {
    fn default() -> Self {
        Self::new(ApiVersion::default_version(), 0)
    }
}

impl Store {
    pub fn new(account_version: ApiVersion, epoch: u64) -> Self {
        Self {
            products: HashMap::new(),
            prices: HashMap::new(),
            shipping_rates: HashMap::new(),
            tax_rates: HashMap::new(),
            sessions: HashMap::new(),
            events: Vec::new(),
            published: 0,
            webhook_endpoints: Vec::new(),
            deliveries: Vec::new(),
            current_request: None,
            account_version,
            epoch,
            seq: 0,
        }
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Records an event about a session, snapshotting it now. `by_request` says whether the
    /// current API request caused it (an explicit expire) or not (payment, time running out).
    pub fn record_event(&mut self, kind: EventType, session_id: &str, now: i64, by_request: bool) {
        let Some(session) = self.sessions.get(session_id).cloned() else {
            return;
        };
        let request = if by_request {
            self.current_request.clone()
        } else {
            None
        };
        let seq = self.next_seq();
        self.events.push(Event::new(
            new_id("evt_", ID_LEN),
            seq,
            kind,
            now,
            session,
            request,
            self.account_version.clone(),
        ));
    }

    /// Empties the outbox: the indexes in `events` of what was recorded since the last call.
    pub fn take_unpublished(&mut self) -> std::ops::Range<usize> {
        let range = self.published..self.events.len();
        self.published = self.events.len();
        range
    }

    pub fn log_delivery(&mut self, attempt: DeliveryAttempt) {
        if self.deliveries.len() >= MAX_DELIVERY_LOG {
            self.deliveries.remove(0);
        }
        self.deliveries.push(attempt);
    }
}
