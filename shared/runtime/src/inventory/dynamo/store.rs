//! [`InventoryStore`] on the table, each operation one query, batched read or transaction (see
//! `moves`, `endings` and `calls`).

use super::endings::SETTLEMENTS_PER_TRANSACTION;
use super::table::{
    hold_key, n, number, s, shard_of, DynamoInventory, Item, AWAITING, HELD, SWEEP_INDEX,
};
use crate::inventory::shards::move_on_shards;
use crate::inventory::store::{Held, HoldRecord, InventoryError, InventoryStore, Settlement};
use crate::telemetry::error_chain;
use cart_domain::{Sku, StockChange};
use std::collections::BTreeMap;

impl InventoryStore for DynamoInventory {
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

    /// In chunks of `SETTLEMENTS_PER_TRANSACTION`: each hold settles once on its own
    /// conditions, so a chunk that applied stays applied and the rest are found live again.
    async fn settle(
        &self,
        reservation: &str,
        settlements: &[Settlement],
    ) -> Result<(), InventoryError> {
        for chunk in settlements.chunks(SETTLEMENTS_PER_TRANSACTION) {
            self.settle_chunk(reservation, chunk).await?;
        }
        Ok(())
    }

    async fn await_payment(
        &self,
        reservation: &str,
        holds: &[(Sku, Held)],
        recheck_at_s: u64,
    ) -> Result<(), InventoryError> {
        self.mark_awaiting_payment(reservation, holds, recheck_at_s)
            .await
    }

    async fn attach_session(
        &self,
        reservation: &str,
        skus: &[Sku],
        session: &str,
    ) -> Result<(), InventoryError> {
        for sku in skus {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", hold_key(reservation, sku))
                .update_expression("SET session_id = :session")
                // A reservation belongs to one session: a second one may not take its holds.
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(session_id) \
                     OR session_id = :session)",
                )
                .expression_attribute_values(":session", s(session))
                .send()
                .await
                .map_err(|e| {
                    InventoryError::Store(format!("recording the session: {}", error_chain(&e)))
                })?;
        }
        Ok(())
    }

    async fn expired_holds(
        &self,
        now_s: u64,
        limit: usize,
    ) -> Result<Vec<HoldRecord>, InventoryError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SWEEP_INDEX)
            .key_condition_expression("sweep = :held AND expires_at < :now")
            .expression_attribute_values(":held", s(HELD))
            .expression_attribute_values(":now", n(now_s))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| {
                InventoryError::Store(format!("listing expired holds: {}", error_chain(&e)))
            })?;
        let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Ok(output
            .items()
            .iter()
            .filter_map(|item| {
                Some(HoldRecord {
                    reservation: text(item, "reservation")?,
                    sku: Sku::parse(&text(item, "sku")?)?,
                    quantity: number(Some(item), "quantity"),
                    shard: shard_of(item),
                    session: text(item, "session_id"),
                    expires_at_s: number(Some(item), "expires_at"),
                    awaiting_payment: text(item, "state").as_deref() == Some(AWAITING),
                })
            })
            .collect())
    }

    async fn holds(
        &self,
        reservation: &str,
        skus: &[Sku],
    ) -> Result<BTreeMap<Sku, Held>, InventoryError> {
        let keys = skus.iter().map(|sku| hold_key(reservation, sku)).collect();
        let mut held = BTreeMap::new();
        for item in self.read_items(keys, "reading holds").await? {
            let state = item.get("state").and_then(|v| v.as_s().ok());
            let live = state.is_some_and(|s| s == HELD || s == AWAITING);
            let sku = item
                .get("sku")
                .and_then(|v| v.as_s().ok())
                .and_then(|s| Sku::parse(s));
            let quantity = number(Some(&item), "quantity");
            if let (true, Some(sku), 1..) = (live, sku, quantity) {
                let held_for = Held {
                    quantity,
                    shard: shard_of(&item),
                    session: item.get("session_id").and_then(|v| v.as_s().ok()).cloned(),
                    awaiting_payment: state.is_some_and(|s| s == AWAITING),
                    expires_at_s: number(Some(&item), "expires_at"),
                };
                held.insert(sku, held_for);
            }
        }
        Ok(held)
    }
}
