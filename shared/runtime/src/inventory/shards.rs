//! Shards of a SKU's stock: how many a SKU has, how received units spread over them, the shard a
//! hold starts on, and [`move_on_shards`], the fall-over and contention retry both stores' moves
//! share.

use super::store::InventoryError;
use cart_domain::{Catalog, Sku, StockChange};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

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
pub(super) fn check_rebalance(
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
///
/// [`InventoryStore::move_holds`]: super::InventoryStore::move_holds
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
