//! How holds end: settled (sold or released) and parked while a delayed payment is pending, in
//! transactions DynamoDB accepts (at most 100 actions).

use super::{hold_key, n, on_shard, s, sku_key, DynamoInventory, AWAITING, HELD};
use crate::inventory::{Held, InventoryError, Settlement};
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use cart_validation::Sku;

/// Settlements per transaction: each is two actions (stock and hold) and DynamoDB allows 100.
pub(super) const SETTLEMENTS_PER_TRANSACTION: usize = 50;
const SOLD: &str = "SOLD";
const RELEASED: &str = "RELEASED";

impl DynamoInventory {
    /// One transaction of at most [`SETTLEMENTS_PER_TRANSACTION`] settlements.
    pub(super) async fn settle_chunk(
        &self,
        reservation: &str,
        settlements: &[Settlement],
    ) -> Result<(), InventoryError> {
        let mut items = Vec::new();
        for settlement in settlements {
            let sold = settlement.sold.min(settlement.held);
            let stock = Update::builder()
                .table_name(&self.table)
                .key("pk", sku_key(&settlement.sku, settlement.shard))
                .update_expression(
                    "SET held = held - :held, sold = sold + :sold, available = available + :back",
                )
                .condition_expression("held >= :held")
                .expression_attribute_values(":held", n(settlement.held))
                .expression_attribute_values(":sold", n(sold))
                .expression_attribute_values(":back", n(settlement.held - sold))
                .build()
                .map_err(|e| InventoryError::Store(e.to_string()))?;
            let hold = Update::builder()
                .table_name(&self.table)
                .key("pk", hold_key(reservation, &settlement.sku))
                .update_expression("SET #state = :end, sold = :sold REMOVE sweep")
                .condition_expression(format!(
                    "#state IN (:held, :awaiting) AND quantity = :quantity AND {}",
                    on_shard(settlement.shard)
                ))
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#shard", "shard")
                .expression_attribute_values(":end", s(if sold > 0 { SOLD } else { RELEASED }))
                .expression_attribute_values(":sold", n(sold))
                .expression_attribute_values(":held", s(HELD))
                .expression_attribute_values(":awaiting", s(AWAITING))
                .expression_attribute_values(":quantity", n(settlement.held))
                .expression_attribute_values(":from_shard", n(u64::from(settlement.shard)))
                .build()
                .map_err(|e| InventoryError::Store(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(stock).build());
            items.push(TransactWriteItem::builder().update(hold).build());
        }
        if settlements.is_empty() {
            return Ok(());
        }
        let Some(reasons) = self.transact(items, "settling holds").await? else {
            return Ok(());
        };
        let index = reasons
            .iter()
            .position(|r| r.code() != Some("None"))
            .unwrap_or(0);
        Err(InventoryError::HoldMismatch {
            sku: settlements
                .get(index / 2)
                .map_or_else(|| settlements[0].sku.clone(), |s| s.sku.clone()),
        })
    }

    /// [`crate::inventory::InventoryStore::await_payment`], a transaction per 100 holds.
    pub(super) async fn mark_awaiting_payment(
        &self,
        reservation: &str,
        holds: &[(Sku, Held)],
        recheck_at_s: u64,
    ) -> Result<(), InventoryError> {
        for chunk in holds.chunks(2 * SETTLEMENTS_PER_TRANSACTION) {
            let mut items = Vec::new();
            for (sku, held) in chunk {
                let hold = Update::builder()
                    .table_name(&self.table)
                    .key("pk", hold_key(reservation, sku))
                    .update_expression("SET #state = :awaiting, expires_at = :recheck")
                    .condition_expression(format!(
                        "#state IN (:held, :awaiting) AND quantity = :quantity AND {}",
                        on_shard(held.shard)
                    ))
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_names("#shard", "shard")
                    .expression_attribute_values(":awaiting", s(AWAITING))
                    .expression_attribute_values(":held", s(HELD))
                    .expression_attribute_values(":recheck", n(recheck_at_s))
                    .expression_attribute_values(":quantity", n(held.quantity))
                    .expression_attribute_values(":from_shard", n(u64::from(held.shard)))
                    .build()
                    .map_err(|e| InventoryError::Store(e.to_string()))?;
                items.push(TransactWriteItem::builder().update(hold).build());
            }
            if let Some(reasons) = self
                .transact(items, "marking holds as awaiting payment")
                .await?
            {
                let index = reasons
                    .iter()
                    .position(|r| r.code() != Some("None"))
                    .unwrap_or(0);
                let sku = chunk
                    .get(index)
                    .map_or_else(|| chunk[0].0.clone(), |h| h.0.clone());
                return Err(InventoryError::HoldMismatch { sku });
            }
        }
        Ok(())
    }
}
