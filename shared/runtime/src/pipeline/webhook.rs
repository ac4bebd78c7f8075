//! `POST /stripe-webhook`: `checkout.session.completed` turns the session's holds into sold stock
//! (releasing any surplus), `checkout.session.expired` releases them. Each event is applied
//! exactly once: its id is the idempotency key, and a hold can only leave the HELD state once.

use super::{App, Failure};
use crate::guard::{admit, now_ms, Claim, GuardStore, LeaseEnd, Metered, RecordClaim};
use crate::http::Reply;
use crate::inventory::{InventoryStore, Settlement};
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

/// What an event asks of the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sold,
    Released,
}

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
        super::accept_post_json(request, MAX_WEBHOOK_BODY_BYTES)?;
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

        let outcome = match event.kind.as_str() {
            "checkout.session.completed" => Outcome::Sold,
            "checkout.session.expired" => Outcome::Released,
            _ => return Ok((received("ignored"), false)),
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
        let claim = match super::proceed_or_answer(admit(guard, claim, self.settings).await?) {
            Ok(claim) => claim,
            Err(answer) => return Ok(answer),
        };
        let reply = match self.settle_session(&session_id, reservation, outcome).await {
            Ok(action) => received(action),
            Err(failure) => self.refuse(&failure),
        };
        // Settling only reads Stripe: nothing of its can still land later.
        super::finish(guard, &claim, &reply, LeaseEnd::Release, None).await;
        Ok((reply, false))
    }

    /// Reads what the session finally held (Stripe's copy, with every line item) and settles each
    /// tracked SKU's hold against it.
    async fn settle_session(
        &self,
        session_id: &CheckoutSessionId,
        reservation: &str,
        outcome: Outcome,
    ) -> Result<&'static str, Failure> {
        let session = self
            .stripe
            .retrieve_session(session_id)
            .await
            .map_err(Failure::Retrieve)?;
        let bought = session.units_by_sku(&self.catalog);
        // Every tracked SKU, not only the cart's: a hold can outlive its line item (an update
        // that removed it was applied after its answer was lost).
        let held = self
            .inventory
            .holds(reservation, self.catalog.stock_skus())
            .await?;
        let settlements: Vec<Settlement> = held
            .into_iter()
            .map(|(sku, held)| Settlement {
                sold: match outcome {
                    Outcome::Sold => bought.get(&sku).copied().unwrap_or(0),
                    Outcome::Released => 0,
                },
                sku,
                held: held.quantity,
                shard: held.shard,
            })
            .collect();
        self.inventory.settle(reservation, &settlements).await?;
        Ok(match outcome {
            Outcome::Sold => "sold",
            Outcome::Released => "released",
        })
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
