//! Inventory holds that never oversell.
//!
//! Stock per SKU (`available`, `held`, `sold`, `received`) and one hold per (reservation, SKU). A
//! reservation is created with the Checkout Session and written into its metadata
//! (`cart_reservation`), so every later handler, the webhook and the sweeper find the holds of a
//! session from the session itself. Every move is one DynamoDB transaction whose conditions keep
//! `available >= 0` and `available + held + sold == received` at every moment.

mod dynamo;
#[cfg(test)]
pub(crate) mod memory;

pub use dynamo::DynamoInventory;

use cart_validation::{Sku, StockChange};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Metadata key on a Checkout Session naming its reservation (and marking it as this app's).
pub const RESERVATION_METADATA_KEY: &str = "cart_reservation";

/// Stock of one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StockLevel {
    pub available: u64,
    pub held: u64,
    pub sold: u64,
    pub received: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("not enough stock of {sku}: {available} available")]
    OutOfStock { sku: Sku, available: u64 },
    /// A hold was not at the quantity the caller expected (a concurrent or half-finished move).
    #[error("hold of {sku} changed concurrently")]
    HoldMismatch { sku: Sku },
    /// Other transactions kept writing the SKU's stock item at the same moment (a hot SKU), and
    /// the retries ran out.
    #[error("stock of {sku} is contended")]
    Contended { sku: Sku },
    #[error("inventory store: {0}")]
    Store(String),
}

/// Where holds live.
pub trait InventoryStore: Send + Sync {
    /// Moves the reservation's holds by `changes` (each SKU from `from` to `to`) and the SKUs'
    /// stock with them, all or nothing. `session` is recorded on the holds once known.
    fn move_holds(
        &self,
        reservation: &str,
        changes: &[StockChange],
        expires_at_s: u64,
        session: Option<&str>,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// The reservation's live holds among `skus`, in one read; SKUs it holds nothing of are
    /// absent.
    fn holds(
        &self,
        reservation: &str,
        skus: &[Sku],
    ) -> impl Future<Output = Result<BTreeMap<Sku, u64>, InventoryError>> + Send;

    /// Closes holds for good: `sold` units of each become sold, the rest of the hold goes back
    /// to available. Each hold must still be HELD at `held` units, so a settlement applies once.
    fn settle(
        &self,
        reservation: &str,
        settlements: &[Settlement],
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// Records the session a reservation became (create-session, once Stripe answered), so the
    /// sweeper can ask Stripe about holds whose webhook never came.
    fn attach_session(
        &self,
        reservation: &str,
        skus: &[Sku],
        session: &str,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// Live holds whose expiry has passed (at most `limit`), oldest first.
    fn expired_holds(
        &self,
        now_s: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<HoldRecord>, InventoryError>> + Send;

    /// Adds received stock (seeding, restocking).
    fn receive(
        &self,
        sku: &Sku,
        quantity: u64,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    fn stock(&self, sku: &Sku) -> impl Future<Output = Result<StockLevel, InventoryError>> + Send;
}

/// A live hold as the sweeper sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRecord {
    pub reservation: String,
    pub sku: Sku,
    pub quantity: u64,
    pub session: Option<String>,
    pub expires_at_s: u64,
}

/// How one hold ends: `sold` of its `held` units were bought (0 when the session expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub sku: Sku,
    pub held: u64,
    pub sold: u64,
}

/// Attempts a stock move gets in all while DynamoDB cancels it for a transaction conflict.
const CONTENDED_ATTEMPTS: u32 = 6;
const CONTENDED_BACKOFF_MS: u64 = 10;
const CONTENDED_BACKOFF_CAP_MS: u64 = 200;

/// Full-jitter backoff between attempts of a stock move that met other transactions on the same
/// stock item. Short, because the request holds its session's lease meanwhile and a conflict
/// lasts only as long as the other transaction; the jitter spreads the retrying writers apart.
#[derive(Debug, Default)]
pub(crate) struct Contention {
    retries: u32,
}

impl Contention {
    /// After a cancelled attempt: waits, and answers whether another attempt is in the budget.
    pub(crate) async fn backoff(&mut self) -> bool {
        if self.retries + 1 >= CONTENDED_ATTEMPTS {
            return false;
        }
        let ceiling = (CONTENDED_BACKOFF_MS << self.retries).min(CONTENDED_BACKOFF_CAP_MS);
        self.retries += 1;
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=ceiling))).await;
        true
    }
}

/// `move_holds` that converges when a hold is not where the cart says it should be (a previous
/// request moved stock, then failed to move it back): re-read the real holds and move from there.
pub async fn move_holds_reconciled<I: InventoryStore>(
    store: &I,
    reservation: &str,
    changes: &[StockChange],
    expires_at_s: u64,
    session: Option<&str>,
) -> Result<(), InventoryError> {
    match store
        .move_holds(reservation, changes, expires_at_s, session)
        .await
    {
        Err(InventoryError::HoldMismatch { .. }) => {
            let skus: Vec<Sku> = changes.iter().map(|c| c.sku.clone()).collect();
            let held = store.holds(reservation, &skus).await?;
            let actual: Vec<StockChange> = changes
                .iter()
                .map(|change| StockChange {
                    sku: change.sku.clone(),
                    from: held.get(&change.sku).copied().unwrap_or(0),
                    to: change.to,
                })
                .filter(|c| c.from != c.to)
                .collect();
            if actual.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                ?changes,
                ?actual,
                "holds differed from the cart; reconciled"
            );
            store
                .move_holds(reservation, &actual, expires_at_s, session)
                .await
        }
        other => other,
    }
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

#[cfg(test)]
mod tests;
