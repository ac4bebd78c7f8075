//! The cart endpoints' work: read the session, plan the change, move stock holds around the
//! Stripe update so they never fall below the cart Stripe has.

use super::app::App;
use super::failure::Failure;
use super::lifetime::hold_expiry;
use super::stripe_keys::StripeKeys;
use crate::claims::ClaimStore;
use crate::inventory::{move_holds_reconciled, InventoryStore, Reconcile};
use crate::stripe::{StripeError, StripeGateway};
use cart_domain::{
    plan, CartPlan, Command, Rejection, SessionSnapshot, SessionSummary, Sku, StockChange,
};

/// How far [`App::align_holds`] may move a hold towards the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Both,
    ReleaseOnly,
}

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
    /// Retrieve → plan → update, once more with a fresh key (after reading the cart again) when
    /// Stripe saved a failure under the first. Runs only while this request holds the session's
    /// lease.
    pub(super) async fn change_cart(
        &self,
        command: &Command,
        keys: &mut StripeKeys<'_>,
    ) -> Result<SessionSummary, Failure> {
        keys.write_under_fresh_keys(Failure::saved_under_key, |keys| {
            self.change_cart_once(command, keys)
        })
        .await
    }

    async fn change_cart_once(
        &self,
        command: &Command,
        keys: StripeKeys<'_>,
    ) -> Result<SessionSummary, Failure> {
        let session = self
            .stripe
            .retrieve_session(&command.session_id)
            .await
            .map_err(Failure::Retrieve)?;
        let plan = plan(&session, &command.action, &self.catalog, self.policy)?;
        if plan.is_noop() {
            // Also how a retry finds a request that was cut off after Stripe's update: the cart is
            // already there, the release of stock that followed it may not be. The read is safe
            // to release against: a write of unknown outcome kept the lease until it could no
            // longer land (`lease_after`). Holds of SKUs the cart no longer shows are left to the
            // webhook, which settles every SKU, or the sweeper.
            let skus: Vec<Sku> = session.units_by_sku(&self.catalog).into_keys().collect();
            if let (Some(reservation), false) = (session.reservation(), skus.is_empty()) {
                let expires_at = hold_expiry(&session);
                self.align_holds(&session, reservation, &skus, expires_at, Align::ReleaseOnly)
                    .await;
            }
            return Ok(SessionSummary::from(&session));
        }
        // Stock moves are ordered so the holds never fall below the cart Stripe has: more units
        // are held before Stripe sees the new cart, fewer only after it has accepted it.
        let (increases, mut decreases): (Vec<StockChange>, Vec<StockChange>) =
            plan.stock.iter().cloned().partition(|c| c.to > c.from);
        let holds = self.holds_of(&session, &plan)?;
        if let Some((reservation, expires_at)) = holds {
            let reconciled = move_holds_reconciled(
                &self.inventory,
                reservation,
                &increases,
                expires_at,
                Some(session.id.as_str()),
                Reconcile::RaiseOnly,
            )
            .await?;
            // Held beyond the new cart: given back with the decreases, once Stripe has it.
            decreases.extend(reconciled.kept_above);
        }
        // One key for every attempt of this update (the transport retries with it).
        let key = self.stripe_idempotency_key(&session, &plan, &keys);
        let updated = self
            .stripe
            .update_line_items(&command.session_id, &plan, &key)
            .await;
        let Some((reservation, expires_at)) = holds else {
            return updated
                .map(|u| SessionSummary::from(&u))
                .map_err(Failure::Update);
        };
        match updated {
            Ok(updated) => {
                if let Err(error) = move_holds_reconciled(
                    &self.inventory,
                    reservation,
                    &decreases,
                    expires_at,
                    Some(session.id.as_str()),
                    Reconcile::Both,
                )
                .await
                {
                    // Holds stay above the cart: never an oversell; the next move, the webhook
                    // or the sweeper settles the surplus.
                    tracing::error!(%error, ?decreases, "could not release stock after the update");
                }
                Ok(SessionSummary::from(&updated))
            }
            Err(error) => {
                match &error {
                    // Refused outright: the cart is as it was, and so go the holds.
                    StripeError::Refused { .. } | StripeError::NotFound => {
                        let skus: Vec<Sku> = plan.stock.iter().map(|c| c.sku.clone()).collect();
                        self.align_holds(&session, reservation, &skus, expires_at, Align::Both)
                            .await;
                    }
                    // Applied, not applied, or still to be applied by a request Stripe has not
                    // finished: no read can tell, so the holds keep covering both carts, and the
                    // session stays busy while the update may land (`lease_after`). The client's
                    // retry, the next change, the webhook or the sweeper settles them.
                    StripeError::Unavailable { .. } | StripeError::Malformed(_) => {
                        tracing::warn!(
                            ?increases,
                            ?decreases,
                            "cart unknown after a failed update; holds cover both carts"
                        );
                    }
                }
                Err(Failure::Update(error))
            }
        }
    }

    /// The session's reservation and hold expiry when the plan moves tracked stock.
    fn holds_of<'s>(
        &self,
        session: &'s SessionSnapshot,
        plan: &CartPlan,
    ) -> Result<Option<(&'s str, u64)>, Failure> {
        if plan.stock.is_empty() {
            return Ok(None);
        }
        let reservation = session.reservation().ok_or(Rejection::NotUpdatable(
            cart_domain::NotUpdatableReason::NotCreatedHere,
        ))?;
        Ok(Some((reservation, hold_expiry(session))))
    }

    /// Sets the holds of `skus` to what `cart` really holds (or, with [`Align::ReleaseOnly`],
    /// only gives back what is held beyond it). Failures are logged: the holds then stay at or
    /// above the cart, and the next move, the webhook or the sweeper settles them.
    pub(super) async fn align_holds(
        &self,
        cart: &SessionSnapshot,
        reservation: &str,
        skus: &[Sku],
        expires_at: u64,
        align: Align,
    ) {
        let units = cart.units_by_sku(&self.catalog);
        let held = match self.inventory.holds(reservation, skus).await {
            Ok(held) => held,
            Err(error) => {
                tracing::error!(%error, "could not read the holds to align them with the cart");
                return;
            }
        };
        for sku in skus {
            let in_cart = units.get(sku).copied().unwrap_or(0);
            let held = held.get(sku).map_or(0, |h| h.quantity);
            if held == in_cart || (align == Align::ReleaseOnly && held < in_cart) {
                continue;
            }
            let fix = [StockChange {
                sku: sku.clone(),
                from: held,
                to: in_cart,
            }];
            if let Err(error) = move_holds_reconciled(
                &self.inventory,
                reservation,
                &fix,
                expires_at,
                Some(cart.id.as_str()),
                Reconcile::Both,
            )
            .await
            {
                tracing::error!(%error, %sku, "could not align a hold with the cart");
            }
        }
    }
}
