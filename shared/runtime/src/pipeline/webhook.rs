//! `POST /stripe-webhook`: a session's holds follow its end. Paid (`checkout.session.completed`
//! with `payment_status` `paid` or `no_payment_required`, or `async_payment_succeeded`): sold,
//! surplus released. Completed unpaid (a delayed payment method): the units wait for the money,
//! neither sellable nor sold. `async_payment_failed` or `expired`: released. What the session is
//! comes from Stripe at handling time, not from the event, so events arriving out of order end the
//! same way. Each event is applied exactly once: its id is the idempotency key, and a hold leaves
//! its live states only once.

use super::admission::{accept_post_json, finish, proceed_or_answer};
use super::app::App;
use super::failure::Failure;
use super::signature::{verify_signature, SignatureError};
use crate::claims::{admit, now_ms, Claim, ClaimStore, LeaseEnd, Metered, RecordClaim};
use crate::http::Reply;
use crate::http::MAX_WEBHOOK_BODY_BYTES;
use crate::inventory::{Held, InventoryStore, Settlement};
use crate::stripe::{CheckoutEvent, StripeGateway};
use cart_domain::CheckoutSessionId;
use lambda_http::{Body, Request, Response};
use std::collections::BTreeMap;

/// 1 to 255 visible ASCII characters, like every Stripe id.
fn is_event_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
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
    Sold(BTreeMap<cart_domain::Sku, u64>),
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

/// The 200 of a handled delivery; its action is also the invocation's logged `outcome`.
fn received(action: &str) -> Reply {
    tracing::Span::current().record("outcome", action);
    Reply {
        status: 200,
        body: serde_json::json!({ "received": true, "action": action }).to_string(),
        retry_after: None,
    }
}

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
    /// Handles one webhook delivery. Never fails: every outcome is a JSON response; 4xx for
    /// deliveries that must not be retried as they are, 409/5xx for ones Stripe should retry.
    pub async fn handle_webhook(&self, request: Request) -> Response<Body> {
        let claims = Metered::new(&self.claims);
        let (reply, replayed) = match self.webhook(&request, &claims).await {
            Ok(done) => done,
            Err(failure) => (self.refuse(&failure), false),
        };
        tracing::info!(
            status = reply.status,
            replayed,
            dynamo_round_trips = claims.round_trips(),
            "responded"
        );
        reply.into_response(replayed)
    }

    async fn webhook(
        &self,
        request: &Request,
        claims: &Metered<'_, C>,
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
        let not_an_event = |detail: &str| cart_domain::Rejection::InvalidJson {
            detail: format!("signed payload is not an event: {detail}"),
        };
        // The error's kind and place only: its text can quote the payload.
        let event = CheckoutEvent::from_json(payload).map_err(|e| {
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
        tracing::Span::current().record("session_id", event.session.as_str());

        let Some(ending) = Ending::of(&event.kind) else {
            return Ok((received("ignored"), false));
        };
        let (Some(reservation), Ok(session_id)) = (
            event.reservation.as_deref(),
            CheckoutSessionId::parse(&event.session),
        ) else {
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
        let claim = match proceed_or_answer(admit(claims, claim, self.settings).await?) {
            Ok(claim) => claim,
            Err(answer) => return Ok(answer),
        };
        let reply = match self.settle_session(&session_id, reservation, ending).await {
            Ok(action) => received(action),
            Err(failure) => self.refuse(&failure),
        };
        // Settling only reads Stripe: nothing of its can still land later.
        finish(claims, &claim, &reply, LeaseEnd::Release, None).await;
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
        held: BTreeMap<cart_domain::Sku, Held>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_short_and_plain() {
        assert!(is_event_id("evt_1NxYz"));
        for bad in ["", "evt 1", "evt_\u{0}", "évt_1"] {
            assert!(!is_event_id(bad), "{bad:?}");
        }
        assert!(!is_event_id(&"e".repeat(256)));
    }
}
