//! `POST /stripe-webhook`: a session's holds follow its end. Paid (`checkout.session.completed`
//! with `payment_status` `paid` or `no_payment_required`, or `async_payment_succeeded`): sold,
//! surplus released. Completed unpaid (a delayed payment method): the units wait for the money,
//! neither sellable nor sold. `async_payment_failed` or `expired`: released. What the session is
//! comes from Stripe at handling time, not from the event, so events arriving out of order end the
//! same way. Each event is applied exactly once: its id is the idempotency key, and a hold leaves
//! its live states only once.

use super::admission::{accept_post_json, finish, proceed_or_answer};
use super::failure::Failure;
use super::App;
use crate::guard::{admit, now_ms, Claim, GuardStore, LeaseEnd, Metered, RecordClaim};
use crate::http::Reply;
use crate::inventory::{Held, InventoryStore, Settlement};
use crate::stripe::StripeGateway;
use cart_validation::request::MAX_WEBHOOK_BODY_BYTES;
use cart_validation::CheckoutSessionId;
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;

/// Stripe's own default: a signature older than this is refused (replay protection).
pub const SIGNATURE_TOLERANCE_S: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("Stripe-Signature has no timestamp")]
    NoTimestamp,
    #[error("timestamp outside the tolerance zone")]
    Stale,
    #[error("no signature matches the payload")]
    Mismatch,
}

/// Verifies `t=<unix>,v1=<hex>[,v1=<hex>…]` over `"{t}.{payload}"` with HMAC-SHA256; any one
/// matching `v1` passes (Stripe sends several while a secret is being rolled).
pub fn verify_signature(
    payload: &[u8],
    header: &str,
    secret: &str,
    now_s: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex_sig)) => signatures.extend(hex::decode(hex_sig).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    // `abs_diff`: any i64 the header carries (`t=-9223372036854775808`) must not overflow.
    if now_s.abs_diff(timestamp) > SIGNATURE_TOLERANCE_S.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let matches = signatures.iter().any(|signature| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        // Constant-time comparison.
        mac.verify_slice(signature).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// 1 to 255 visible ASCII characters, like every Stripe id.
fn is_event_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: EventObject,
}

#[derive(Debug, Deserialize)]
struct EventObject {
    id: String,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

/// The `checkout.session.*` events that end a session's holds (Stripe's fulfilment guide lists
/// the four; the webhook endpoint subscribes to them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Completed,
    AsyncPaymentSucceeded,
    AsyncPaymentFailed,
    Expired,
}

impl Ending {
    fn of(kind: &str) -> Option<Self> {
        Some(match kind {
            "checkout.session.completed" => Self::Completed,
            "checkout.session.async_payment_succeeded" => Self::AsyncPaymentSucceeded,
            "checkout.session.async_payment_failed" => Self::AsyncPaymentFailed,
            "checkout.session.expired" => Self::Expired,
            _ => return None,
        })
    }
}

/// What becomes of a session's holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Paid: these units of each SKU are sold, the rest released.
    Sold(BTreeMap<cart_validation::Sku, u64>),
    /// Completed, the money not in yet: kept out of stock until the payment succeeds or fails.
    AwaitingPayment,
    Released,
    /// Still open: nothing to do yet.
    Open,
}

impl Verdict {
    pub(crate) fn action(&self) -> &'static str {
        match self {
            Self::Sold(_) => "sold",
            Self::AwaitingPayment => "awaiting_payment",
            Self::Released => "released",
            Self::Open => "ignored",
        }
    }
}

/// How long after marking holds as awaiting payment the sweeper looks at them again, in case
/// the async payment event is lost.
pub(crate) const PAYMENT_RECHECK_S: u64 = 3_600;

fn received(action: &str) -> Reply {
    Reply {
        status: 200,
        body: serde_json::json!({ "received": true, "action": action }).to_string(),
        retry_after: None,
    }
}

impl<S: StripeGateway, G: GuardStore, I: InventoryStore> App<S, G, I> {
    /// Handles one webhook delivery. Never fails: every outcome is a JSON response; 4xx for
    /// deliveries that must not be retried as they are, 409/5xx for ones Stripe should retry.
    pub async fn handle_webhook(&self, request: Request) -> Response<Body> {
        let guard = Metered::new(&self.guard);
        let (reply, replayed) = match self.webhook(&request, &guard).await {
            Ok(done) => done,
            Err(failure) => (self.refuse(&failure), false),
        };
        tracing::info!(
            status = reply.status,
            replayed,
            dynamo_round_trips = guard.round_trips(),
            "responded"
        );
        reply.into_response(replayed)
    }

    async fn webhook(
        &self,
        request: &Request,
        guard: &Metered<'_, G>,
    ) -> Result<(Reply, bool), Failure> {
        accept_post_json(request, MAX_WEBHOOK_BODY_BYTES)?;
        let secret = self
            .webhook_secret
            .as_ref()
            .map(crate::config::Secret::expose)
            .ok_or(Failure::Unconfigured("STRIPE_WEBHOOK_SECRET"))?;
        let payload = request.body().as_ref();
        let header = request
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or(Failure::Signature(SignatureError::Missing))?;
        let now_s = i64::try_from(now_ms() / 1000).unwrap_or_default();
        verify_signature(payload, header, secret, now_s).map_err(Failure::Signature)?;
        let not_an_event = |detail: &str| cart_validation::Rejection::InvalidJson {
            detail: format!("signed payload is not an event: {detail}"),
        };
        // The error's kind and place only: its text can quote the payload.
        let event: Event = serde_json::from_slice(payload).map_err(|e| {
            not_an_event(&format!(
                "{:?} at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        // The id becomes part of a DynamoDB key: Stripe's are short and plain (`evt_…`).
        if !is_event_id(&event.id) {
            return Err(not_an_event("bad event id").into());
        }
        tracing::Span::current().record("session_id", event.data.object.id.as_str());

        let Some(ending) = Ending::of(&event.kind) else {
            return Ok((received("ignored"), false));
        };
        let reservation = event
            .data
            .object
            .metadata
            .as_ref()
            .and_then(|m| m.get(cart_validation::RESERVATION_METADATA_KEY))
            .filter(|r| !r.is_empty());
        let (Some(reservation), Ok(session_id)) =
            (reservation, CheckoutSessionId::parse(&event.data.object.id))
        else {
            // Not a session this app created: nothing of ours is held.
            return Ok((received("ignored"), false));
        };

        // The event id is the idempotency key; the session lease keeps a late cart update and
        // this settlement from interleaving.
        let now = now_ms();
        let claim = Claim {
            holder: format!("{}-{:016x}", self.function, fastrand::u64(..)),
            lease_pk: format!("lease#{session_id}"),
            lease_until_ms: now + 15_000,
            record: Some(RecordClaim {
                pk: format!("idem#{}#event#{}", self.function, event.id),
                body_hash: event.id.clone(),
                in_progress_until_ms: now + 13_000,
                expiration_s: now / 1000 + self.settings.record_ttl.as_secs(),
                stripe_generation: 0,
            }),
        };
        let claim = match proceed_or_answer(admit(guard, claim, self.settings).await?) {
            Ok(claim) => claim,
            Err(answer) => return Ok(answer),
        };
        let reply = match self.settle_session(&session_id, reservation, ending).await {
            Ok(action) => received(action),
            Err(failure) => self.refuse(&failure),
        };
        // Settling only reads Stripe: nothing of its can still land later.
        finish(guard, &claim, &reply, LeaseEnd::Release, None).await;
        Ok((reply, false))
    }

    /// Reads what the session is now (Stripe's copy, with every line item) and settles each
    /// tracked SKU's hold by it.
    async fn settle_session(
        &self,
        session_id: &CheckoutSessionId,
        reservation: &str,
        ending: Ending,
    ) -> Result<&'static str, Failure> {
        let session = self
            .stripe
            .retrieve_session(session_id)
            .await
            .map_err(Failure::Retrieve)?;
        let verdict = match ending {
            Ending::Expired | Ending::AsyncPaymentFailed => Verdict::Released,
            // The event says the money arrived, whatever an earlier read of the session said.
            Ending::AsyncPaymentSucceeded => Verdict::Sold(session.units_by_sku(&self.catalog)),
            Ending::Completed if session.payment_status.is_settled() => {
                Verdict::Sold(session.units_by_sku(&self.catalog))
            }
            Ending::Completed => Verdict::AwaitingPayment,
        };
        // Every tracked SKU, not only the cart's: a hold can outlive its line item (an update
        // that removed it was applied after its answer was lost).
        let held = self
            .inventory
            .holds(reservation, self.catalog.stock_skus())
            .await?;
        self.apply_verdict(reservation, session_id.as_str(), held, &verdict)
            .await?;
        Ok(verdict.action())
    }

    /// Settles or parks `held` (the reservation's live holds) as `verdict` says. Holds recorded
    /// for another session are not this session's to settle: a reservation has one session.
    pub(crate) async fn apply_verdict(
        &self,
        reservation: &str,
        session: &str,
        held: BTreeMap<cart_validation::Sku, Held>,
        verdict: &Verdict,
    ) -> Result<(), crate::inventory::InventoryError> {
        let (ours, theirs): (Vec<_>, Vec<_>) = held
            .into_iter()
            .partition(|(_, h)| h.session.as_deref().is_none_or(|s| s == session));
        if !theirs.is_empty() {
            tracing::warn!(
                reservation,
                session,
                other = ?theirs.first().and_then(|(_, h)| h.session.clone()),
                "holds recorded for another session left alone"
            );
        }
        match verdict {
            Verdict::Open => Ok(()),
            // Already waiting ones too: each look moves the next one an hour on, so pending
            // payments do not come due on every sweep and crowd out the rest.
            Verdict::AwaitingPayment => {
                let recheck = now_ms() / 1000 + PAYMENT_RECHECK_S;
                self.inventory
                    .await_payment(reservation, &ours, recheck)
                    .await
            }
            Verdict::Sold(_) | Verdict::Released => {
                let settlements: Vec<Settlement> = ours
                    .into_iter()
                    .map(|(sku, held)| Settlement {
                        sold: match verdict {
                            Verdict::Sold(bought) => bought.get(&sku).copied().unwrap_or(0),
                            _ => 0,
                        },
                        sku,
                        held: held.quantity,
                        shard: held.shard,
                    })
                    .collect();
                self.inventory.settle(reservation, &settlements).await
            }
        }
    }
}

/// The `v1` signature Stripe computes for `payload` at time `t`, for tests that sign deliveries.
#[cfg(test)]
pub(crate) fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_secret_payload_and_time() {
        let payload = br#"{"id":"evt_1"}"#;
        let good = format!("t=1000,v1={}", sign(payload, "whsec_a", 1000));
        assert_eq!(verify_signature(payload, &good, "whsec_a", 1100), Ok(()));
        assert_eq!(
            verify_signature(payload, &good, "whsec_b", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(br#"{"id":"evt_2"}"#, &good, "whsec_a", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(payload, &good, "whsec_a", 1000 + SIGNATURE_TOLERANCE_S + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(payload, "v1=abcd", "whsec_a", 1000),
            Err(SignatureError::NoTimestamp)
        );
    }

    #[test]
    fn extreme_timestamps_are_stale_not_an_overflow() {
        let payload = b"{}";
        for t in [i64::MIN, i64::MAX, -1] {
            let header = format!("t={t},v1={}", sign(payload, "whsec_a", t));
            assert_eq!(
                verify_signature(payload, &header, "whsec_a", 1_700_000_000),
                Err(SignatureError::Stale),
                "{t}"
            );
        }
        assert_eq!(
            verify_signature(payload, "t=99999999999999999999,v1=00", "whsec_a", 0),
            Err(SignatureError::NoTimestamp)
        );
    }

    #[test]
    fn event_ids_are_short_and_plain() {
        assert!(is_event_id("evt_1NxYz"));
        for bad in ["", "evt 1", "evt_\u{0}", "évt_1"] {
            assert!(!is_event_id(bad), "{bad:?}");
        }
        assert!(!is_event_id(&"e".repeat(256)));
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let payload = b"{}";
        let header = format!(
            "t=50,v1={},v0=zz,v1={}",
            sign(payload, "whsec_old", 50),
            sign(payload, "whsec_new", 50)
        );
        assert_eq!(verify_signature(payload, &header, "whsec_new", 60), Ok(()));
        assert_eq!(verify_signature(payload, &header, "whsec_old", 60), Ok(()));
    }
}
