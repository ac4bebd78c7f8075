//! Idempotency (modelled on Powertools for AWS Lambda's: INPROGRESS record, payload hash, expiry;
//! records live 24 h, Stripe's key window, where Powertools defaults to 1 h) and the per-session
//! lease, claimed together before anything else happens.
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

mod dynamo;
#[cfg(test)]
pub(crate) mod memory;

pub use dynamo::DynamoGuardStore;

use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// A client's `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let ok = (1..=255).contains(&raw.len()) && raw.iter().all(|b| (0x21..=0x7e).contains(b));
        ok.then(|| Self(String::from_utf8_lossy(raw).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

/// The storage side of the guard (DynamoDB in production, memory in tests).
pub trait GuardStore: Send + Sync {
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

impl<S: GuardStore> GuardStore for Metered<'_, S> {
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

/// How long to wait for a busy session or an in-progress twin before answering 409, and how long
/// a session stays busy after its request could no longer wait for Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    pub record_ttl: Duration,
    pub lease_wait: Duration,
    pub in_progress_wait: Duration,
    /// How long after the function stopped waiting a Stripe write may still be applied: the
    /// lease outlives its holder's deadline by this much, and a request whose write timed out
    /// keeps the lease this long.
    pub late_write: Duration,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            record_ttl: Duration::from_secs(24 * 3600),
            lease_wait: Duration::from_millis(2_000),
            in_progress_wait: Duration::from_millis(2_000),
            late_write: Duration::from_millis(2_000),
        }
    }
}

/// How a claim attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; call `finish` with the claim afterwards.
    Proceed(Claim),
    /// Answer this stored response again.
    Replay(StoredResponse),
    /// The key was used with a different body.
    KeyReused,
    /// The twin request is still running.
    InProgress,
    /// Another request is updating this session, or may be, until `until_ms`.
    SessionBusy { until_ms: u64 },
}

/// Hash of a JSON body independent of key order and whitespace (so `{"a":1,"b":2}` and
/// `{ "b": 2, "a": 1 }` are the same request).
pub fn body_hash(body: &serde_json::Value) -> String {
    fn canonical(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (n, key) in keys.into_iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    if let Some(v) = map.get(key) {
                        canonical(v, out);
                    }
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut text = String::new();
    canonical(body, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Claims the record and the lease, waiting (bounded, jittered) for a busy session or for an
/// in-progress twin to finish.
pub async fn admit<S: GuardStore>(
    store: &S,
    mut claim: Claim,
    settings: GuardSettings,
) -> Result<Admission, StoreError> {
    let started = now_ms();
    let lease_deadline = started + duration_ms(settings.lease_wait);
    let twin_deadline = started + duration_ms(settings.in_progress_wait);
    let mut pause = Duration::from_millis(10);
    loop {
        let now = now_ms();
        match store.try_claim(&claim, now).await? {
            ClaimOutcome::Claimed => return Ok(Admission::Proceed(claim)),
            ClaimOutcome::RecordExists(record) => {
                let Some(wanted) = claim.record.as_mut() else {
                    return Err(StoreError("record conflict without a record claim".into()));
                };
                if record.body_hash != wanted.body_hash {
                    return Ok(Admission::KeyReused);
                }
                match (record.status, record.response) {
                    (RecordStatus::Completed, Some(response)) => {
                        return Ok(Admission::Replay(response))
                    }
                    // A failed attempt: take over its generation (the store refuses any other).
                    (RecordStatus::Failed, _)
                        if record.stripe_generation != wanted.stripe_generation =>
                    {
                        wanted.stripe_generation = record.stripe_generation;
                    }
                    _ if now >= twin_deadline => return Ok(Admission::InProgress),
                    // The twin is running: poll its record until it completes or disappears.
                    _ => {
                        if let Some(outcome) = wait_for_twin(store, wanted, twin_deadline).await? {
                            return Ok(outcome);
                        }
                    }
                }
            }
            ClaimOutcome::LeaseHeld { until_ms } => {
                if now >= lease_deadline {
                    return Ok(Admission::SessionBusy { until_ms });
                }
                tokio::time::sleep(jitter(pause)).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
        }
    }
}

/// `Some(outcome)` when the twin completed (replay), the wait ran out, or the key now binds
/// another body (the twin failed and a different request claimed the key); `None` when the twin
/// failed and the key is free, so the caller should try to claim again.
async fn wait_for_twin<S: GuardStore>(
    store: &S,
    wanted: &RecordClaim,
    deadline_ms: u64,
) -> Result<Option<Admission>, StoreError> {
    let mut pause = Duration::from_millis(20);
    loop {
        tokio::time::sleep(jitter(pause)).await;
        pause = (pause * 2).min(Duration::from_millis(250));
        let now = now_ms();
        match store.read_record(&wanted.pk).await? {
            Some(record) if record.is_live(now) => {
                if record.body_hash != wanted.body_hash {
                    return Ok(Some(Admission::KeyReused));
                }
                match (record.status, record.response) {
                    (RecordStatus::Completed, Some(response)) => {
                        return Ok(Some(Admission::Replay(response)));
                    }
                    (RecordStatus::Failed, _) => return Ok(None),
                    _ => {}
                }
            }
            _ => return Ok(None),
        }
        if now >= deadline_ms {
            return Ok(Some(Admission::InProgress));
        }
    }
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Between half and all of `d`, so waiting requests do not retry in lock-step.
fn jitter(d: Duration) -> Duration {
    let ms = duration_ms(d).max(2);
    Duration::from_millis(ms / 2 + fastrand::u64(0..=ms / 2))
}

#[cfg(test)]
mod tests;
