//! create-session's work: plan the new cart, hold its stock, create the Stripe session.

use super::app::App;
use super::failure::Failure;
use super::lifetime::{session_lifetime_s, DEFAULT_SESSION_LIFETIME_S, HOLD_MARGIN_S};
use super::stripe_keys::StripeKeys;
use crate::claims::{now_ms, ClaimStore};
use crate::http::Reply;
use crate::inventory::{move_holds_reconciled, reversed, InventoryStore, Reconcile};
use crate::stripe::{NewSession, StripeError, StripeGateway};
use cart_domain::{plan_new_cart, NewCartRequest, SessionSummary};

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
    /// Plan → hold stock → create the Stripe session, releasing the stock if Stripe fails.
    pub(super) async fn create_cart(
        &self,
        request: &NewCartRequest,
        reservation: &str,
        keys: &mut StripeKeys<'_>,
    ) -> Result<Reply, Failure> {
        let return_url = self
            .return_url
            .as_deref()
            .ok_or(Failure::Unconfigured("CHECKOUT_RETURN_URL"))?;
        let cart = plan_new_cart(request, &self.catalog)?;
        let now_s = i64::try_from(now_ms() / 1000).unwrap_or_default();
        // A cart that holds stock gets the configured lifetime: an abandoned one gives the stock
        // back then, not a day later.
        let session_expires_at =
            (!cart.stock.is_empty()).then(|| now_s + session_lifetime_s(self.session_lifetime));
        let expires_at = u64::try_from(
            session_expires_at.unwrap_or(now_s + DEFAULT_SESSION_LIFETIME_S) + HOLD_MARGIN_S,
        )
        .unwrap_or_default();
        let reconciled = move_holds_reconciled(
            &self.inventory,
            reservation,
            &cart.stock,
            expires_at,
            None,
            Reconcile::Both,
        )
        .await?;
        // A retry sends Stripe the expiry the first attempt sent (kept on its holds): the same
        // Idempotency-Key with other parameters is refused.
        let session_expires_at = match (session_expires_at, reconciled.found_expiry) {
            (Some(_), Some(found)) => {
                Some(i64::try_from(found).unwrap_or(i64::MAX) - HOLD_MARGIN_S)
            }
            (chosen, _) => chosen,
        };
        let new = NewSession {
            mode: cart.mode,
            line_items: &cart.items,
            reservation,
            return_url,
            expires_at: session_expires_at,
        };
        let created = keys
            .write_under_fresh_keys(StripeError::saved_under_key, |keys| {
                let key = self.create_key(reservation, &keys);
                let new = &new;
                async move { self.stripe.create_session(new, &key).await }
            })
            .await;
        match created {
            Ok(created) => {
                // Part of the creation's success: the sweeper settles holds by the session they
                // record. On failure the answer is a 5xx (not stored) and the keyed retry gets
                // Stripe's replay of this session and records it.
                let skus: Vec<_> = cart.stock.iter().map(|c| c.sku.clone()).collect();
                self.inventory
                    .attach_session(reservation, &skus, created.session.id.as_str())
                    .await?;
                Ok(Reply::created(
                    &SessionSummary::from(&created.session),
                    created.client_secret.as_deref(),
                ))
            }
            // Stripe may still create it: the holds stay for that session (the keyed retry gets
            // Stripe's replay; without one the sweeper finds the session by its events).
            Err(error) if error.outcome_unknown() => {
                tracing::warn!(%error, "session creation of unknown outcome; holds kept");
                Err(Failure::Create(error))
            }
            Err(error) => {
                let undo = reversed(&cart.stock);
                if let Err(e) = move_holds_reconciled(
                    &self.inventory,
                    reservation,
                    &undo,
                    expires_at,
                    None,
                    Reconcile::Both,
                )
                .await
                {
                    tracing::error!(error = %e, ?undo, "could not release the holds of a session Stripe did not create");
                }
                Err(Failure::Create(error))
            }
        }
    }
}
