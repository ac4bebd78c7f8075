//! What the stores keep and the traits they implement: stock levels, holds, how a hold ends,
//! [`InventoryStore`] (the holds) and [`StockAdmin`] (the stock).

use cart_domain::{Sku, StockChange};
use std::collections::BTreeMap;
use std::future::Future;

/// Stock of one SKU, or of one of its shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StockLevel {
    pub available: u64,
    pub held: u64,
    pub sold: u64,
    pub received: u64,
}

impl std::iter::Sum for StockLevel {
    fn sum<I: Iterator<Item = Self>>(levels: I) -> Self {
        levels.fold(Self::default(), |sum, level| Self {
            available: sum.available + level.available,
            held: sum.held + level.held,
            sold: sum.sold + level.sold,
            received: sum.received + level.received,
        })
    }
}

/// A live hold: its units, the shard of the SKU's stock they are held on, the session it was
/// recorded for, and whether that session completed and waits for a delayed payment (its units
/// are then neither sellable nor sold; they stay in the stock's `held`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub quantity: u64,
    pub shard: u16,
    pub session: Option<String>,
    pub awaiting_payment: bool,
    /// Unix seconds after which the sweeper settles it.
    pub expires_at_s: u64,
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

/// Where holds live: what the handlers, the webhook and the sweeper ask of a store.
pub trait InventoryStore: Send + Sync {
    /// Moves the reservation's holds by `changes` (each SKU from `from` to `to`) and the SKUs'
    /// stock with them, all or nothing. A new hold starts on its primary shard and falls over to
    /// the others when that one is short; an existing hold moves on the shard `shards` names
    /// (what [`InventoryStore::holds`] read), else on its primary one. `session` is recorded on
    /// the holds once known.
    fn move_holds(
        &self,
        reservation: &str,
        changes: &[StockChange],
        shards: &BTreeMap<Sku, u16>,
        expires_at_s: u64,
        session: Option<&str>,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// The reservation's live holds among `skus`, in one read; SKUs it holds nothing of are
    /// absent.
    fn holds(
        &self,
        reservation: &str,
        skus: &[Sku],
    ) -> impl Future<Output = Result<BTreeMap<Sku, Held>, InventoryError>> + Send;

    /// Closes holds for good: `sold` units of each become sold, the rest of the hold goes back
    /// to available. Each hold must still be HELD at `held` units on `shard`, so a settlement
    /// applies once, to the shard that holds it.
    fn settle(
        &self,
        reservation: &str,
        settlements: &[Settlement],
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// Marks the holds of a session that completed unpaid (a delayed payment method): they stay
    /// out of `available` until [`InventoryStore::settle`] sells or releases them, and the
    /// sweeper looks at them again after `recheck_at_s`. Each hold must still be live at the
    /// quantity and shard given.
    fn await_payment(
        &self,
        reservation: &str,
        holds: &[(Sku, Held)],
        recheck_at_s: u64,
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
}

/// Stock administration, what operators and tests do: receiving stock, reading it shard by shard
/// and moving it between shards. No request does it, so the pipeline asks only for
/// [`InventoryStore`].
pub trait StockAdmin: Send + Sync {
    /// Adds received stock (seeding, restocking), spread over the SKU's shards as [`spread`]
    /// says, all or nothing.
    ///
    /// [`spread`]: super::spread
    fn receive(
        &self,
        sku: &Sku,
        quantity: u64,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// The stock of each of the SKU's shards, shard 0 first.
    fn shard_stock(
        &self,
        sku: &Sku,
    ) -> impl Future<Output = Result<Vec<StockLevel>, InventoryError>> + Send;

    /// The SKU's stock, all shards together.
    fn stock(&self, sku: &Sku) -> impl Future<Output = Result<StockLevel, InventoryError>> + Send {
        async move { Ok(self.shard_stock(sku).await?.into_iter().sum()) }
    }

    /// Moves `units` available units (with their `received`) from one shard of the SKU to
    /// another, in one transaction: shards drift apart as holds pick them and releases return
    /// to them; new shards start empty and removed ones (`from_shard` beyond the SKU's count)
    /// are drained this way. `OutOfStock` when `from_shard` has fewer available.
    fn rebalance(
        &self,
        sku: &Sku,
        from_shard: u16,
        to_shard: u16,
        units: u64,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;
}

/// A live hold as the sweeper sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRecord {
    pub reservation: String,
    pub sku: Sku,
    pub quantity: u64,
    pub shard: u16,
    pub session: Option<String>,
    pub expires_at_s: u64,
    pub awaiting_payment: bool,
}

/// How one hold ends: `sold` of its `held` units on `shard` were bought (0 when the session
/// expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub sku: Sku,
    pub held: u64,
    pub shard: u16,
    pub sold: u64,
}
