//! Inventory holds that never oversell.
//!
//! Stock per SKU (`available`, `held`, `sold`, `received`) and one hold per (reservation, SKU). A
//! reservation is created with the Checkout Session and written into its metadata
//! (`cart_reservation`), so every later handler, the webhook and the sweeper find the holds of a
//! session from the session itself. Every move is one DynamoDB transaction whose conditions keep
//! `available >= 0` and `available + held + sold == received` at every moment.
//!
//! A hot SKU's stock may be split over N items, its shards (the catalog's `inventory_shards`),
//! so that concurrent holds do not all write one item (docs/hot-sku.md). Each shard keeps the
//! invariant on its own; a hold's units all sit on one shard, which the hold records, and every
//! later move, sale or release of the hold goes to that shard. With one shard (the default)
//! nothing differs from an unsharded store.

mod dynamo;
#[cfg(test)]
pub(crate) mod memory;

pub use dynamo::DynamoInventory;

use cart_validation::{Catalog, Sku, StockChange};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Metadata key on a Checkout Session naming its reservation (and marking it as this app's).
pub const RESERVATION_METADATA_KEY: &str = "cart_reservation";

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

/// Where holds live.
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

    /// Adds received stock (seeding, restocking), spread over the SKU's shards as [`spread`]
    /// says, all or nothing.
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

/// How many shards each tracked SKU of the catalog has, as the stores take it.
pub fn shard_counts(catalog: &Catalog) -> BTreeMap<Sku, u16> {
    catalog
        .stock_skus()
        .iter()
        .map(|sku| (sku.clone(), catalog.inventory_shards(sku)))
        .collect()
}

/// How `quantity` received units spread over `shards` shards: evenly, the remainder one each to
/// the first shards. `infra/local/receive_stock.py` spreads the same way.
pub fn spread(quantity: u64, shards: u16) -> impl Iterator<Item = (u16, u64)> {
    let n = u64::from(shards.max(1));
    (0..shards.max(1)).map(move |shard| {
        let extra = u64::from(u64::from(shard) < quantity % n);
        (shard, quantity / n + extra)
    })
}

/// The shard a reservation's hold of `sku` starts on: stable, so a retry of the same request
/// lands on the same item, and spread evenly over reservations.
pub fn primary_shard(reservation: &str, sku: &Sku, shards: u16) -> u16 {
    if shards <= 1 {
        return 0;
    }
    let digest = Sha256::digest(format!("{reservation}\n{sku}"));
    let hash = digest
        .iter()
        .take(8)
        .fold(0u64, |hash, byte| hash << 8 | u64::from(*byte));
    u16::try_from(hash % u64::from(shards)).unwrap_or(0)
}

/// A rebalance moves between two different shards, onto one the SKU has (`shards` of them).
fn check_rebalance(
    sku: &Sku,
    from_shard: u16,
    to_shard: u16,
    shards: u16,
) -> Result<(), InventoryError> {
    if from_shard == to_shard || to_shard >= shards {
        return Err(InventoryError::Store(format!(
            "cannot rebalance {sku} from shard {from_shard} to shard {to_shard}: it has {shards}"
        )));
    }
    Ok(())
}

/// One hold's move as one attempt makes it: its `from` units leave `from_shard`, its `to` units
/// land on `to_shard`; the same shard for a move in place, two for a hold that relocates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardMove {
    pub(crate) change: StockChange,
    pub(crate) from_shard: u16,
    pub(crate) to_shard: u16,
}

impl ShardMove {
    /// The whole hold changes shard: released on one item, taken on another.
    pub(crate) fn relocates(&self) -> bool {
        self.change.from > 0 && self.from_shard != self.to_shard
    }
}

/// What a store gives [`move_on_shards`]: its shard counts and one all-or-nothing attempt, which
/// answers `OutOfStock` (the SKU's target shard is short; `available` is that shard's),
/// `HoldMismatch` (a hold is not at its quantity and shard, or its shard does not hold it),
/// `Contended` (another transaction was writing one of the items) or succeeds.
pub(crate) trait ShardedStore: Send + Sync {
    fn shards(&self, sku: &Sku) -> u16;

    fn attempt(
        &self,
        reservation: &str,
        moves: &[ShardMove],
        expires_at_s: u64,
        session: Option<&str>,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;
}

/// A move's state across attempts: where it is tried now, where next, and what the shards it
/// found short had available.
#[derive(Debug)]
struct Probe {
    next: ShardMove,
    /// Shards still to try, the next one last.
    untried: Vec<u16>,
    available_seen: u64,
}

/// [`InventoryStore::move_holds`] for both stores: places each change on a shard, falls over to
/// the next shards when a hold's shard is short, and retries conflicts with [`Contention`].
pub(crate) async fn move_on_shards<S: ShardedStore>(
    store: &S,
    reservation: &str,
    changes: &[StockChange],
    shards: &BTreeMap<Sku, u16>,
    expires_at_s: u64,
    session: Option<&str>,
) -> Result<(), InventoryError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut probes: Vec<Probe> = changes
        .iter()
        .map(|change| {
            let n = store.shards(&change.sku);
            let primary = primary_shard(reservation, &change.sku, n);
            let home = match (change.from, shards.get(&change.sku)) {
                (1.., Some(&recorded)) => recorded,
                _ => primary,
            };
            // Only more units can fall over to another shard; fewer go back where they are.
            let mut untried: Vec<u16> = if change.to > change.from {
                (1..=n)
                    .filter_map(|k| {
                        u16::try_from((u32::from(home) + u32::from(k)) % u32::from(n)).ok()
                    })
                    .filter(|&shard| shard != home)
                    .collect()
            } else {
                Vec::new()
            };
            untried.reverse();
            Probe {
                next: ShardMove {
                    change: change.clone(),
                    from_shard: home,
                    to_shard: home,
                },
                untried,
                available_seen: 0,
            }
        })
        .collect();
    let mut contention = Contention::default();
    loop {
        let moves: Vec<ShardMove> = probes.iter().map(|p| p.next.clone()).collect();
        match store
            .attempt(reservation, &moves, expires_at_s, session)
            .await
        {
            Err(InventoryError::OutOfStock { sku, available }) => {
                let Some(probe) = probes.iter_mut().find(|p| p.next.change.sku == sku) else {
                    return Err(InventoryError::OutOfStock { sku, available });
                };
                probe.available_seen += available;
                match probe.untried.pop() {
                    Some(shard) => {
                        let short = probe.next.to_shard;
                        tracing::debug!(%sku, short, next = shard, "shard short; trying the next");
                        probe.next.to_shard = shard;
                    }
                    None => {
                        return Err(InventoryError::OutOfStock {
                            sku,
                            available: probe.available_seen,
                        })
                    }
                }
            }
            Err(InventoryError::Contended { sku }) => {
                if !contention.backoff().await {
                    return Err(InventoryError::Contended { sku });
                }
            }
            other => return other,
        }
    }
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

#[cfg(test)]
mod tests;
