//! How a request is admitted: its `Idempotency-Key` and body hash, and [`admit`], which claims the
//! record and the lease, waiting (bounded) for a busy session or a running twin.

use super::store::{
    Claim, ClaimOutcome, ClaimStore, RecordClaim, RecordStatus, StoreError, StoredResponse,
};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// How long to wait for a busy session or an in-progress twin before answering 409, and how long
/// a session stays busy after its request could no longer wait for Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSettings {
    pub record_ttl: Duration,
    pub lease_wait: Duration,
    pub in_progress_wait: Duration,
    /// How long after the function stopped waiting a Stripe write may still be applied: the
    /// lease outlives its holder's deadline by this much, and a request whose write timed out
    /// keeps the lease this long.
    pub late_write: Duration,
}

impl Default for ClaimSettings {
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
pub async fn admit<S: ClaimStore>(
    store: &S,
    mut claim: Claim,
    settings: ClaimSettings,
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
async fn wait_for_twin<S: ClaimStore>(
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
