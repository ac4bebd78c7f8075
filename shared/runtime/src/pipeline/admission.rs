//! What happens before a request's work and after it: the request checks, the idempotency claim
//! with the session lease, and how the answer is stored and the lease ended.

use super::app::{App, Operation, Parser, DEFAULT_BUDGET_MS, MAX_LEASE_MS};
use super::failure::Failure;
use crate::claims::{
    body_hash, duration_ms, now_ms, Admission, Claim, ClaimStore, IdempotencyKey, LeaseEnd,
    Metered, RecordClaim, RecordEnd, StoredResponse,
};
use crate::http::Reply;
use crate::http::{ApiError, ErrorCode};
use crate::inventory::InventoryStore;
use crate::stripe::StripeGateway;
use cart_domain::request::MAX_BODY_BYTES;
use lambda_http::{Request, RequestExt};
use sha2::{Digest, Sha256};

/// The claim to go on with, or the answer that settles the request without running it: the stored
/// one (a replay, `Idempotent-Replayed: true`) or a 409/422 for a busy session or key.
pub(super) fn proceed_or_answer(admission: Admission) -> Result<Claim, (Reply, bool)> {
    let error = match admission {
        Admission::Proceed(claim) => return Ok(claim),
        Admission::Replay(stored) => {
            tracing::Span::current().record("outcome", "replayed");
            let reply = Reply {
                status: stored.status,
                body: stored.body,
                retry_after: None,
            };
            return Err((reply, true));
        }
        Admission::KeyReused => ApiError::new(ErrorCode::IdempotencyKeyReused),
        Admission::InProgress => ApiError::new(ErrorCode::RequestInProgress).with_retry_after(1),
        Admission::SessionBusy { until_ms } => {
            let seconds = until_ms
                .saturating_sub(now_ms())
                .div_ceil(1000)
                .clamp(1, 60);
            ApiError::new(ErrorCode::SessionBusy)
                .with_retry_after(u32::try_from(seconds).unwrap_or(60))
        }
    };
    Err((Reply::error(&error), false))
}

/// Stores the answer for replay and ends the lease; a 5xx, or an answer that asks to be retried
/// later (`Retry-After`: the session or the stock was busy), forgets the attempt instead, so the
/// retry runs again — with `next_generation` of derived Stripe keys when Stripe saved a failure
/// under the last one. If the store fails, the answer stands and the record and lease expire at
/// this request's deadline.
pub(super) async fn finish<C: ClaimStore>(
    claims: &Metered<'_, C>,
    claim: &Claim,
    reply: &Reply,
    lease: LeaseEnd,
    next_generation: Option<u32>,
) {
    let stored = StoredResponse {
        status: reply.status,
        body: reply.body.clone(),
    };
    let record = match next_generation {
        _ if reply.status < 500 && reply.retry_after.is_none() => RecordEnd::Store(&stored),
        Some(next_generation) => RecordEnd::Failed { next_generation },
        None => RecordEnd::Forget,
    };
    if let Err(e) = claims.finish(claim, record, lease).await {
        tracing::error!(error = %e, "could not store the answer or end the lease");
    }
}

/// The checks every endpoint (the cart's and the webhook) makes first, in this order: the method
/// (405), the content type (415: exactly one `Content-Type`, JSON), then the body's size (413),
/// before anything reads the body.
pub(super) fn accept_post_json(request: &Request, max_body_bytes: usize) -> Result<(), Failure> {
    if request.method() != lambda_http::http::Method::POST {
        return Err(Failure::Method(request.method().to_string()));
    }
    let mut types = request.headers().get_all("content-type").iter();
    match (types.next(), types.next()) {
        (Some(value), None) if value.to_str().is_ok_and(crate::http::is_json_content_type) => {}
        (first, _) => {
            // For the log only, bounded: the header is the client's text.
            let sent = first.map_or_else(
                || "none".to_owned(),
                |v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .chars()
                        .take(100)
                        .collect()
                },
            );
            return Err(Failure::MediaType(sent));
        }
    }
    cart_domain::request::check_size(request.body().as_ref(), max_body_bytes)?;
    Ok(())
}

/// A request that passed parsing.
pub(super) struct Accepted {
    pub(super) operation: Operation,
    pub(super) key: Option<IdempotencyKey>,
    pub(super) body_hash: String,
    /// What the lease and the idempotency record are about: the session, or for a session not
    /// created yet, its reservation.
    pub(super) scope: String,
}

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
    /// What a request must be before anything remote is asked: POST (405), a JSON content type
    /// (415), a body within the limit (413), at most one well-formed `Idempotency-Key` (400), and a
    /// body the endpoint's parser accepts (400, or 413 from the parser's own size check).
    pub(super) fn accept(&self, request: &Request, parse: Parser) -> Result<Accepted, Failure> {
        accept_post_json(request, MAX_BODY_BYTES)?;
        let mut keys = request.headers().get_all("idempotency-key").iter();
        let key = match (keys.next(), keys.next()) {
            (None, _) => None,
            (Some(raw), None) => {
                Some(IdempotencyKey::parse(raw.as_bytes()).ok_or(Failure::BadIdempotencyKey)?)
            }
            // Two keys: which one the client meant is anyone's guess.
            (Some(_), Some(_)) => return Err(Failure::BadIdempotencyKey),
        };
        let body = request.body().as_ref();
        let operation = parse(body)?;
        // The parser accepted it, so it is a JSON object.
        let body_hash = serde_json::from_slice(body)
            .map(|json| body_hash(&json))
            .unwrap_or_default();
        let scope = match &operation {
            Operation::Change(command) => command.session_id.to_string(),
            // The same client key always means the same reservation, so a retried create finds
            // its own holds and its own Stripe idempotency key.
            Operation::Create(_) => match &key {
                Some(key) => {
                    let digest = Sha256::digest(format!("{}\n{}", self.function, key.as_str()));
                    format!("rsv_{}", &hex::encode(digest)[..32])
                }
                None => format!("rsv_{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            },
        };
        Ok(Accepted {
            operation,
            key,
            body_hash,
            scope,
        })
    }

    pub(super) fn claim_for(&self, request: &Request, accepted: &Accepted) -> Claim {
        let now = now_ms();
        // Lambda's deadline when it is real; local runtimes (cargo-lambda) may send none (0).
        let deadline = request
            .lambda_context_ref()
            .map(|c| c.deadline)
            .filter(|&d| d > now)
            .unwrap_or(now + DEFAULT_BUDGET_MS)
            .min(now + MAX_LEASE_MS);
        let session = accepted.scope.as_str();
        Claim {
            holder: format!("{}-{:016x}", self.function, fastrand::u64(..)),
            lease_pk: format!("lease#{session}"),
            // A Stripe write sent just before the deadline may land just after it.
            lease_until_ms: deadline + duration_ms(self.settings.late_write),
            record: accepted.key.as_ref().map(|key| RecordClaim {
                pk: format!("idem#{}#{session}#{}", self.function, key.as_str()),
                body_hash: accepted.body_hash.clone(),
                in_progress_until_ms: deadline,
                expiration_s: now / 1000 + self.settings.record_ttl.as_secs(),
                stripe_generation: 0,
            }),
        }
    }

    /// After a Stripe write of unknown outcome the session stays busy while the write may still
    /// land: the whole-array update of a request that read the cart before it would be undone by
    /// it, and the holds that request moved towards that cart would fall below the one Stripe
    /// ends up with.
    pub(super) fn lease_after(&self, failure: &Failure) -> LeaseEnd {
        match failure {
            Failure::Update(error) | Failure::Create(error) if error.outcome_unknown() => {
                let until = now_ms() + duration_ms(self.settings.late_write);
                tracing::warn!(
                    until_ms = until,
                    "keeping the session busy while Stripe may still apply the write"
                );
                LeaseEnd::KeepUntil(until)
            }
            _ => LeaseEnd::Release,
        }
    }
}
