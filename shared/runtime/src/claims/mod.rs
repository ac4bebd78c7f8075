//! The claims a request takes before anything else happens, together in one round trip: on its
//! `Idempotency-Key`, an idempotency record (modelled on Powertools for AWS Lambda's: INPROGRESS
//! record, payload hash, expiry; records live 24 h, Stripe's key window, where Powertools
//! defaults to 1 h), and on its session, a lease. This module holds both: the idempotency records
//! and the session leases.
//!
//! - An optional client `Idempotency-Key` makes a request replayable: the first request writes an
//!   INPROGRESS record (with the hash of its body and an in-progress expiry at the Lambda deadline),
//!   and on completion stores its status and body; a repeat answers that stored response with
//!   `Idempotent-Replayed: true` and does no Stripe work. Same key + different body → 422; a repeat
//!   that arrives while the first is still running waits briefly for it, then answers 409
//!   `request_in_progress`. A 5xx deletes the record so a retry runs again; 4xx results are kept.
//! - The lease serialises every update of one session: each update retransmits the whole
//!   `line_items` array, so two overlapping updates would silently undo each other. It is taken
//!   BEFORE the session is read, expires by itself at the holder's deadline (plus the time an
//!   abandoned Stripe write may still take to land), and is released on every exit path but one:
//!   after a Stripe write whose outcome is unknown it is kept for that same time, so the next
//!   request reads the cart after the write landed rather than before.
//!
//! DynamoDB's TTL deletes lazily (up to days later), so every decision checks expiry itself.

mod admission;
mod dynamo;
#[cfg(test)]
pub(crate) mod memory;
mod store;

pub(crate) use admission::duration_ms;
pub use admission::{admit, body_hash, now_ms, Admission, ClaimSettings, IdempotencyKey};
pub use dynamo::DynamoClaimStore;
pub use store::{
    Claim, ClaimOutcome, ClaimStore, LeaseEnd, Metered, Record, RecordClaim, RecordEnd,
    RecordStatus, StoreError, StoredResponse,
};

#[cfg(test)]
mod tests;
