//! [`StockAdmin`] on the table: receiving stock (all shards in one transaction), reading it
//! shard by shard, and moving available units between shards.

use super::table::{n, number, sku_key, DynamoInventory, RECEIVE};
use crate::inventory::shards::{check_rebalance, spread, ShardedStore};
use crate::inventory::store::{InventoryError, StockAdmin, StockLevel};
use crate::telemetry::error_chain;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use cart_domain::Sku;

impl StockAdmin for DynamoInventory {
    async fn receive(&self, sku: &Sku, quantity: u64) -> Result<(), InventoryError> {
        let shards = self.shards(sku);
        if shards == 1 {
            return self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", sku_key(sku, 0))
                .update_expression(RECEIVE)
                .expression_attribute_values(":q", n(quantity))
                .expression_attribute_values(":zero", n(0))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    InventoryError::Store(format!("receiving stock: {}", error_chain(&e)))
                });
        }
        // All shards in one transaction: a failed receipt adds nothing, so it can be repeated.
        let mut items = Vec::new();
        for (shard, units) in spread(quantity, shards).filter(|&(_, units)| units > 0) {
            let update = self.arrival(sku, shard, units)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        if items.is_empty() {
            return Ok(());
        }
        match self
            .transact_contended(sku, items, "receiving stock")
            .await?
        {
            None => Ok(()),
            Some(reasons) => Err(InventoryError::Store(format!(
                "stock not received: {reasons:?}"
            ))),
        }
    }

    async fn shard_stock(&self, sku: &Sku) -> Result<Vec<StockLevel>, InventoryError> {
        let shards = self.shards(sku);
        let keys = (0..shards).map(|shard| sku_key(sku, shard)).collect();
        let items = self.read_items(keys, "reading stock").await?;
        Ok((0..shards)
            .map(|shard| {
                let key = sku_key(sku, shard);
                let item = items.iter().find(|item| item.get("pk") == Some(&key));
                StockLevel {
                    available: number(item, "available"),
                    held: number(item, "held"),
                    sold: number(item, "sold"),
                    received: number(item, "received"),
                }
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
        // `available` and `received` move together on both items, so each keeps
        // `available + held + sold == received`.
        let from = Update::builder()
            .table_name(&self.table)
            .key("pk", sku_key(sku, from_shard))
            .update_expression("SET available = available - :q, received = received - :q")
            .condition_expression("available >= :q")
            .expression_attribute_values(":q", n(units))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| InventoryError::Store(e.to_string()))?;
        let to = self.arrival(sku, to_shard, units)?;
        let items = vec![
            TransactWriteItem::builder().update(from).build(),
            TransactWriteItem::builder().update(to).build(),
        ];
        let Some(reasons) = self
            .transact_contended(sku, items, "rebalancing stock")
            .await?
        else {
            return Ok(());
        };
        match reasons.first() {
            Some(reason) if reason.code() == Some("ConditionalCheckFailed") => {
                Err(InventoryError::OutOfStock {
                    sku: sku.clone(),
                    available: number(reason.item(), "available"),
                })
            }
            _ => Err(InventoryError::Store(format!(
                "stock not rebalanced: {reasons:?}"
            ))),
        }
    }
}
