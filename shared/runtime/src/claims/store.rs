//! The claims' storage side: the records and leases as stored, what one claim asks for and how it
//! ends, the [`ClaimStore`] trait both stores implement, and [`Metered`], which counts a request's
//! round trips to it.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    InProgress,
    Completed,
    /// The request failed after Stripe saved a failure under its derived key: nothing is
    /// replayed, the next request with the same key and body runs, with the record's
    /// `stripe_generation`.
    Failed,
}

/// The response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// An idempotency record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub status: RecordStatus,
    pub body_hash: String,
    /// TTL attribute (seconds): past it the record counts as absent.
    pub expiration_s: u64,
    /// Past it an INPROGRESS record's owner is presumed dead (its Lambda hit the deadline).
    pub in_progress_until_ms: u64,
    pub response: Option<StoredResponse>,
    /// Which derived Stripe idempotency keys the request's writes use (see [`RecordEnd::Failed`]).
    pub stripe_generation: u32,
}

impl Record {
    /// Whether the record still binds this key at `now`.
    pub fn is_live(&self, now_ms: u64) -> bool {
        let unexpired = self.expiration_s.saturating_mul(1000) > now_ms;
        match self.status {
            RecordStatus::Completed | RecordStatus::Failed => unexpired,
            RecordStatus::InProgress => unexpired && self.in_progress_until_ms > now_ms,
        }
    }
}

/// What one request asks the store for, in a single round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Unique per request; only the holder may finish its record or release its lease.
    pub holder: String,
    pub lease_pk: String,
    pub lease_until_ms: u64,
    pub record: Option<RecordClaim>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordClaim {
    pub pk: String,
    pub body_hash: String,
    pub in_progress_until_ms: u64,
    pub expiration_s: u64,
    /// The Stripe key generation this request takes over: 0 for a new key; a [`RecordStatus::Failed`]
    /// record is claimable only by a claim that names its generation (which it learns from the
    /// refused first claim), so no generation is ever reused.
    pub stripe_generation: u32,
}

impl Claim {
    /// The generation of derived Stripe keys this request's writes start at.
    pub fn stripe_generation(&self) -> u32 {
        self.record.as_ref().map_or(0, |r| r.stripe_generation)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Record (if any) written INPROGRESS and lease taken.
    Claimed,
    /// A live record already binds this key; nothing was written.
    RecordExists(Record),
    /// Another request holds the session; nothing was written.
    LeaseHeld { until_ms: u64 },
}

#[derive(Debug, thiserror::Error)]
#[error("coordination store: {0}")]
pub struct StoreError(pub String);

/// Where idempotency records and session leases are kept (DynamoDB in production, memory in
/// tests).
pub trait ClaimStore: Send + Sync {
    /// Writes the record (INPROGRESS) and the lease together, each only if absent or expired.
    fn try_claim(
        &self,
        claim: &Claim,
        now_ms: u64,
    ) -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send;

    /// A consistent read of an idempotency record.
    fn read_record(
        &self,
        pk: &str,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Ends the record as `record` says and releases or keeps the lease as `lease` says, each
    /// only if still held by `claim.holder`.
    fn finish(
        &self,
        claim: &Claim,
        record: RecordEnd<'_>,
        lease: LeaseEnd,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Counts one request's store round trips and the time they took, for its log line (and the
/// idempotency benchmark, which reads them from there).
#[derive(Debug)]
pub struct Metered<'a, S> {
    inner: &'a S,
    calls: AtomicU32,
    micros: AtomicU64,
}

impl<'a, S> Metered<'a, S> {
    pub fn new(inner: &'a S) -> Self {
        Self {
            inner,
            calls: AtomicU32::new(0),
            micros: AtomicU64::new(0),
        }
    }

    pub fn round_trips(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Time spent in the store, waits for busy sessions and twins included.
    pub fn micros(&self) -> u64 {
        self.micros.load(Ordering::Relaxed)
    }

    async fn meter<T>(&self, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let result = call.await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
        result
    }
}

impl<S: ClaimStore> ClaimStore for Metered<'_, S> {
    async fn try_claim(&self, claim: &Claim, now_ms: u64) -> Result<ClaimOutcome, StoreError> {
        self.meter(self.inner.try_claim(claim, now_ms)).await
    }

    async fn read_record(&self, pk: &str) -> Result<Option<Record>, StoreError> {
        self.meter(self.inner.read_record(pk)).await
    }

    async fn finish(
        &self,
        claim: &Claim,
        record: RecordEnd<'_>,
        lease: LeaseEnd,
    ) -> Result<(), StoreError> {
        self.meter(self.inner.finish(claim, record, lease)).await
    }
}

/// What becomes of the idempotency record when its request finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd<'a> {
    /// Kept: every retry with the key gets this answer again.
    Store(&'a StoredResponse),
    /// Deleted (after a 5xx or an answer that asks to retry later): the retry runs again.
    Forget,
    /// The retry runs again, with this generation of derived Stripe keys: Stripe saved a failure
    /// under the last one and would replay it to every request that reused it.
    Failed { next_generation: u32 },
}

/// What becomes of the session's lease when its request finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEnd {
    /// The next request may go ahead.
    Release,
    /// The session stays busy until this time (ms since the epoch): a Stripe write of unknown
    /// outcome may still land, and a request that read the cart before it would undo it.
    KeepUntil(u64),
}
