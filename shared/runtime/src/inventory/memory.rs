//! An in-memory [`InventoryStore`] with the DynamoDB one's conditions, for in-process tests.

use super::{Contention, HoldRecord, InventoryError, InventoryStore, Settlement, StockLevel};
use cart_validation::{Sku, StockChange};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Stock per SKU, and holds per (reservation, SKU).
type State = (HashMap<Sku, StockLevel>, HashMap<(String, Sku), u64>);

#[derive(Debug, Default)]
pub(crate) struct MemoryInventory {
    state: Mutex<State>,
    /// How many of the next move attempts meet a conflicting transaction, as DynamoDB's do while
    /// other carts write the same stock item.
    pub(crate) conflicts: AtomicU32,
}

impl MemoryInventory {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One attempt of [`InventoryStore::move_holds`].
    fn try_move_holds(
        &self,
        reservation: &str,
        changes: &[StockChange],
    ) -> Result<(), InventoryError> {
        let conflicted = self
            .conflicts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if let (true, Some(change)) = (conflicted, changes.first()) {
            return Err(InventoryError::Contended {
                sku: change.sku.clone(),
            });
        }
        let mut state = self.lock();
        let (stock, holds) = &mut *state;
        for change in changes {
            let level = stock.get(&change.sku).copied().unwrap_or_default();
            if change.to > change.from && level.available < change.to - change.from {
                return Err(InventoryError::OutOfStock {
                    sku: change.sku.clone(),
                    available: level.available,
                });
            }
            let hold = holds
                .get(&(reservation.to_owned(), change.sku.clone()))
                .copied()
                .unwrap_or(0);
            if hold != change.from {
                return Err(InventoryError::HoldMismatch {
                    sku: change.sku.clone(),
                });
            }
        }
        for change in changes {
            let level = stock.entry(change.sku.clone()).or_default();
            level.available = level.available + change.from - change.to;
            level.held = level.held + change.to - change.from;
            holds.insert((reservation.to_owned(), change.sku.clone()), change.to);
        }
        Ok(())
    }
}

impl InventoryStore for MemoryInventory {
    async fn move_holds(
        &self,
        reservation: &str,
        changes: &[StockChange],
        _expires_at_s: u64,
        _session: Option<&str>,
    ) -> Result<(), InventoryError> {
        let mut contention = Contention::default();
        loop {
            let moved = self.try_move_holds(reservation, changes);
            if !matches!(moved, Err(InventoryError::Contended { .. }))
                || !contention.backoff().await
            {
                return moved;
            }
        }
    }

    async fn settle(
        &self,
        reservation: &str,
        settlements: &[Settlement],
    ) -> Result<(), InventoryError> {
        let mut state = self.lock();
        let (stock, holds) = &mut *state;
        for s in settlements {
            let key = (reservation.to_owned(), s.sku.clone());
            if holds.get(&key).copied().unwrap_or(0) != s.held {
                return Err(InventoryError::HoldMismatch { sku: s.sku.clone() });
            }
        }
        for s in settlements {
            let sold = s.sold.min(s.held);
            let level = stock.entry(s.sku.clone()).or_default();
            level.held -= s.held;
            level.sold += sold;
            level.available += s.held - sold;
            holds.remove(&(reservation.to_owned(), s.sku.clone()));
        }
        Ok(())
    }

    async fn attach_session(
        &self,
        _reservation: &str,
        _skus: &[Sku],
        _session: &str,
    ) -> Result<(), InventoryError> {
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
            .1
            .iter()
            .filter(|(_, q)| **q > 0)
            .take(limit)
            .map(|((reservation, sku), quantity)| HoldRecord {
                reservation: reservation.clone(),
                sku: sku.clone(),
                quantity: *quantity,
                session: None,
                expires_at_s: 0,
            })
            .collect())
    }

    async fn holds(
        &self,
        reservation: &str,
        skus: &[Sku],
    ) -> Result<BTreeMap<Sku, u64>, InventoryError> {
        let state = self.lock();
        Ok(skus
            .iter()
            .filter_map(|sku| {
                let held = state.1.get(&(reservation.to_owned(), sku.clone()))?;
                (*held > 0).then(|| (sku.clone(), *held))
            })
            .collect())
    }

    async fn receive(&self, sku: &Sku, quantity: u64) -> Result<(), InventoryError> {
        let mut state = self.lock();
        let level = state.0.entry(sku.clone()).or_default();
        level.available += quantity;
        level.received += quantity;
        Ok(())
    }

    async fn stock(&self, sku: &Sku) -> Result<StockLevel, InventoryError> {
        Ok(self.lock().0.get(sku).copied().unwrap_or_default())
    }
}
