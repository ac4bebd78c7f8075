//! Moves of holds that converge on what is really held, and their undoing.

use super::store::{InventoryError, InventoryStore};
use cart_domain::{Sku, StockChange};
use std::collections::BTreeMap;

/// Which way [`move_holds_reconciled`] may move a hold it found elsewhere than expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconcile {
    /// To the target, up or down.
    Both,
    /// Only up: before Stripe has accepted a cart, holds never go below what they are, since
    /// the cart Stripe ends up with may be the larger one.
    RaiseOnly,
}

/// `move_holds` that converges when a hold is not where the cart says it should be (a previous
/// request moved stock, then failed to move it back) or not on the shard first tried: re-read
/// the real holds (quantity and shard) and move from there, as far as `reconcile` allows.
pub async fn move_holds_reconciled<I: InventoryStore>(
    store: &I,
    reservation: &str,
    changes: &[StockChange],
    expires_at_s: u64,
    session: Option<&str>,
    reconcile: Reconcile,
) -> Result<Reconciled, InventoryError> {
    match store
        .move_holds(
            reservation,
            changes,
            &BTreeMap::new(),
            expires_at_s,
            session,
        )
        .await
    {
        Err(InventoryError::HoldMismatch { .. }) => {
            let skus: Vec<Sku> = changes.iter().map(|c| c.sku.clone()).collect();
            let held = store.holds(reservation, &skus).await?;
            // A hold that exists keeps its expiry: a retried create must send Stripe the same
            // session expiry it derived from it the first time.
            let found_expiry = held.values().map(|h| h.expires_at_s).max();
            let expires_at_s = found_expiry.unwrap_or(expires_at_s);
            let (actual, kept_above): (Vec<StockChange>, Vec<StockChange>) = changes
                .iter()
                .map(|change| StockChange {
                    sku: change.sku.clone(),
                    from: held.get(&change.sku).map_or(0, |h| h.quantity),
                    to: change.to,
                })
                .filter(|c| c.from != c.to)
                .partition(|c| c.from < c.to || reconcile == Reconcile::Both);
            let shards: BTreeMap<Sku, u16> =
                held.iter().map(|(sku, h)| (sku.clone(), h.shard)).collect();
            if !actual.is_empty() {
                tracing::warn!(
                    ?changes,
                    ?actual,
                    "holds differed from the cart; reconciled"
                );
                store
                    .move_holds(reservation, &actual, &shards, expires_at_s, session)
                    .await?;
            }
            Ok(Reconciled {
                found_expiry,
                kept_above,
            })
        }
        other => other.map(|()| Reconciled::default()),
    }
}

/// What [`move_holds_reconciled`] found besides moving the holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The expiry of holds that already existed (the latest of them), when it had to look.
    pub found_expiry: Option<u64>,
    /// Holds found above their target that [`Reconcile::RaiseOnly`] left there: from what is
    /// held to the target, to release once Stripe has accepted the cart.
    pub kept_above: Vec<StockChange>,
}

/// The reverse of `changes`, to undo a move after Stripe refused the cart it was made for.
pub fn reversed(changes: &[StockChange]) -> Vec<StockChange> {
    changes
        .iter()
        .map(|c| StockChange {
            sku: c.sku.clone(),
            from: c.to,
            to: c.from,
        })
        .collect()
}
