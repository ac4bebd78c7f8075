//! An in-memory [`InventoryStore`] and [`StockAdmin`] with the DynamoDB one's conditions, shard
//! by shard, for in-process tests.

use super::shards::{check_rebalance, move_on_shards, spread, ShardMove, ShardedStore};
use super::store::{
    Held, HoldRecord, InventoryError, InventoryStore, Settlement, StockAdmin, StockLevel,
};
use cart_domain::{Sku, StockChange};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Stock per (SKU, shard), and holds per (reservation, SKU).
#[derive(Debug, Default)]
struct State {
    stock: HashMap<(Sku, u16), StockLevel>,
    holds: HashMap<(String, Sku), Held>,
}

#[derive(Debug, Default)]
pub(crate) struct MemoryInventory {
    state: Mutex<State>,
    /// Shards per SKU; 1 when absent.
    shards: BTreeMap<Sku, u16>,
    /// How many of the next move attempts meet a conflicting transaction, as DynamoDB's do while
    /// other carts write the same stock item.
    pub(crate) conflicts: AtomicU32,
    /// How many of the next `attach_session` calls fail, as a throttled DynamoDB's may.
    pub(crate) attach_failures: Mutex<u32>,
}

impl MemoryInventory {
    /// A store whose SKUs are split as `shards` says (the catalog's `inventory_shards`).
    pub(crate) fn with_shards(shards: BTreeMap<Sku, u16>) -> Self {
        Self {
            shards,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ShardedStore for MemoryInventory {
    fn shards(&self, sku: &Sku) -> u16 {
        self.shards.get(sku).copied().unwrap_or(1)
    }

    /// The DynamoDB transaction's conditions, in the same order of precedence: a hold that is
    /// not where the move expects it, then a shard that is short.
    async fn attempt(
        &self,
        reservation: &str,
        moves: &[ShardMove],
        expires_at_s: u64,
        session: Option<&str>,
    ) -> Result<(), InventoryError> {
        let conflicted = self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if let (true, Some(first)) = (conflicted, moves.first()) {
            return Err(InventoryError::Contended {
                sku: first.change.sku.clone(),
            });
        }
        let mut state = self.lock();
        let level = |state: &State, sku: &Sku, shard: u16| {
            state
                .stock
                .get(&(sku.clone(), shard))
                .copied()
                .unwrap_or_default()
        };
        for m in moves {
            let StockChange { sku, from, to } = &m.change;
            let hold = state.holds.get(&(reservation.to_owned(), sku.clone()));
            let hold_ok = match hold {
                _ if *from == 0 => hold.is_none_or(|h| h.quantity == 0 && !h.awaiting_payment),
                Some(h) => h.quantity == *from && h.shard == m.from_shard && !h.awaiting_payment,
                None => false,
            };
            // Units given back must be held on the shard they go back to.
            let given = if m.relocates() {
                *from
            } else {
                from.saturating_sub(*to)
            };
            if !hold_ok || level(&state, sku, m.from_shard).held < given {
                return Err(InventoryError::HoldMismatch { sku: sku.clone() });
            }
        }
        for m in moves {
            let StockChange { sku, from, to } = &m.change;
            let taken = if m.relocates() {
                *to
            } else {
                to.saturating_sub(*from)
            };
            let available = level(&state, sku, m.to_shard).available;
            if available < taken {
                return Err(InventoryError::OutOfStock {
                    sku: sku.clone(),
                    available,
                });
            }
        }
        for m in moves {
            let StockChange { sku, from, to } = &m.change;
            if m.relocates() {
                let old = state.stock.entry((sku.clone(), m.from_shard)).or_default();
                old.available += from;
                old.held -= from;
                let new = state.stock.entry((sku.clone(), m.to_shard)).or_default();
                new.available -= to;
                new.held += to;
            } else {
                let level = state.stock.entry((sku.clone(), m.to_shard)).or_default();
                level.available = level.available + from - to;
                level.held = level.held + to - from;
            }
            let key = (reservation.to_owned(), sku.clone());
            let recorded = state.holds.get(&key).and_then(|h| h.session.clone());
            state.holds.insert(
                key,
                Held {
                    quantity: *to,
                    shard: m.to_shard,
                    session: session.map(str::to_owned).or(recorded),
                    awaiting_payment: false,
                    expires_at_s,
                },
            );
        }
        Ok(())
    }
}

impl InventoryStore for MemoryInventory {
    async fn move_holds(
        &self,
        reservation: &str,
        changes: &[StockChange],
        shards: &BTreeMap<Sku, u16>,
        expires_at_s: u64,
        session: Option<&str>,
    ) -> Result<(), InventoryError> {
        move_on_shards(self, reservation, changes, shards, expires_at_s, session).await
    }

    async fn settle(
        &self,
        reservation: &str,
        settlements: &[Settlement],
    ) -> Result<(), InventoryError> {
        let mut state = self.lock();
        for s in settlements {
            let key = (reservation.to_owned(), s.sku.clone());
            let live = state
                .holds
                .get(&key)
                .is_some_and(|h| h.quantity == s.held && h.shard == s.shard);
            if !live {
                return Err(InventoryError::HoldMismatch { sku: s.sku.clone() });
            }
        }
        for s in settlements {
            let sold = s.sold.min(s.held);
            let level = state.stock.entry((s.sku.clone(), s.shard)).or_default();
            level.held -= s.held;
            level.sold += sold;
            level.available += s.held - sold;
            state.holds.remove(&(reservation.to_owned(), s.sku.clone()));
        }
        Ok(())
    }

    async fn await_payment(
        &self,
        reservation: &str,
        holds: &[(Sku, Held)],
        recheck_at_s: u64,
    ) -> Result<(), InventoryError> {
        let mut state = self.lock();
        for (sku, expected) in holds {
            let live = state
                .holds
                .get(&(reservation.to_owned(), sku.clone()))
                .is_some_and(|h| h.quantity == expected.quantity && h.shard == expected.shard);
            if !live {
                return Err(InventoryError::HoldMismatch { sku: sku.clone() });
            }
        }
        for (sku, _) in holds {
            if let Some(hold) = state.holds.get_mut(&(reservation.to_owned(), sku.clone())) {
                hold.awaiting_payment = true;
                hold.expires_at_s = recheck_at_s;
            }
        }
        Ok(())
    }

    async fn attach_session(
        &self,
        reservation: &str,
        skus: &[Sku],
        session: &str,
    ) -> Result<(), InventoryError> {
        {
            let mut failures = self
                .attach_failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *failures > 0 {
                *failures -= 1;
                return Err(InventoryError::Store("injected attach failure".into()));
            }
        }
        let mut state = self.lock();
        for sku in skus {
            let Some(hold) = state.holds.get_mut(&(reservation.to_owned(), sku.clone())) else {
                return Err(InventoryError::HoldMismatch { sku: sku.clone() });
            };
            match &hold.session {
                Some(other) if other != session => {
                    return Err(InventoryError::HoldMismatch { sku: sku.clone() })
                }
                _ => hold.session = Some(session.to_owned()),
            }
        }
        Ok(())
    }

    /// The memory store keeps no expiries: every live hold counts as expired.
    async fn expired_holds(
        &self,
        _now_s: u64,
        limit: usize,
    ) -> Result<Vec<HoldRecord>, InventoryError> {
        Ok(self
            .lock()
            .holds
            .iter()
            .filter(|(_, h)| h.quantity > 0)
            .take(limit)
            .map(|((reservation, sku), held)| HoldRecord {
                reservation: reservation.clone(),
                sku: sku.clone(),
                quantity: held.quantity,
                shard: held.shard,
                session: held.session.clone(),
                expires_at_s: 0,
                awaiting_payment: held.awaiting_payment,
            })
            .collect())
    }

    async fn holds(
        &self,
        reservation: &str,
        skus: &[Sku],
    ) -> Result<BTreeMap<Sku, Held>, InventoryError> {
        let state = self.lock();
        Ok(skus
            .iter()
            .filter_map(|sku| {
                let held = state.holds.get(&(reservation.to_owned(), sku.clone()))?;
                (held.quantity > 0).then(|| (sku.clone(), held.clone()))
            })
            .collect())
    }
}

impl StockAdmin for MemoryInventory {
    async fn receive(&self, sku: &Sku, quantity: u64) -> Result<(), InventoryError> {
        let mut state = self.lock();
        for (shard, units) in spread(quantity, self.shards(sku)) {
            let level = state.stock.entry((sku.clone(), shard)).or_default();
            level.available += units;
            level.received += units;
        }
        Ok(())
    }

    async fn shard_stock(&self, sku: &Sku) -> Result<Vec<StockLevel>, InventoryError> {
        let state = self.lock();
        Ok((0..self.shards(sku))
            .map(|shard| {
                state
                    .stock
                    .get(&(sku.clone(), shard))
                    .copied()
                    .unwrap_or_default()
            })
            .collect())
    }

    async fn rebalance(
        &self,
        sku: &Sku,
        from_shard: u16,
        to_shard: u16,
        units: u64,
    ) -> Result<(), InventoryError> {
        check_rebalance(sku, from_shard, to_shard, self.shards(sku))?;
        let mut state = self.lock();
        let from = state.stock.entry((sku.clone(), from_shard)).or_default();
        if from.available < units {
            return Err(InventoryError::OutOfStock {
                sku: sku.clone(),
                available: from.available,
            });
        }
        from.available -= units;
        from.received -= units;
        let to = state.stock.entry((sku.clone(), to_shard)).or_default();
        to.available += units;
        to.received += units;
        Ok(())
    }
}
