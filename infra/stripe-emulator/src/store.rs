//! The account's objects. One instance lives behind a mutex in [`crate::AppState`]; handlers
//! validate fully against it and only then mutate, so a rejected request changes nothing.

use crate::events::{EventType, PendingEvent};
use crate::objects::{new_id, Price, Product, ShippingRate, ID_LEN};
use crate::sessions::Session;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Store {
    pub products: HashMap<String, Product>,
    pub prices: HashMap<String, Price>,
    pub shipping_rates: HashMap<String, ShippingRate>,
    pub sessions: HashMap<String, Session>,
    /// Webhook outbox (see [`crate::events`]).
    pub events: Vec<PendingEvent>,
    seq: u64,
}

impl Store {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn record_event(&mut self, kind: EventType, object_id: &str, now: i64) {
        self.events.push(PendingEvent {
            id: new_id("evt_", ID_LEN),
            kind,
            object_id: object_id.to_owned(),
            created: now,
        });
    }
}

/// Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
