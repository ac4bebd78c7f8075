//! How holds end: settled (sold or released) and parked while a delayed payment is pending, in
//! transactions DynamoDB accepts (at most 100 actions).

use super::table::{hold_key, n, on_shard, s, sku_key, DynamoInventory, AWAITING, HELD};
use crate::inventory::store::{Held, InventoryError, Settlement};
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use cart_domain::Sku;

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
            let hold = self
                .live_hold(
                    reservation,
                    &settlement.sku,
                    settlement.held,
                    settlement.shard,
                )
                .update_expression("SET #state = :end, sold = :sold REMOVE sweep")
                .expression_attribute_values(":end", s(if sold > 0 { SOLD } else { RELEASED }))
                .expression_attribute_values(":sold", n(sold))
                .build()
                .map_err(|e| InventoryError::Store(e.to_string()))?;
            items.push((settlement.sku.clone(), stock));
            items.push((settlement.sku.clone(), hold));
        }
        self.transact_on_holds(items, "settling holds").await
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
                let hold = self
                    .live_hold(reservation, sku, held.quantity, held.shard)
                    .update_expression("SET #state = :awaiting, expires_at = :recheck")
                    .expression_attribute_values(":recheck", n(recheck_at_s))
                    .build()
                    .map_err(|e| InventoryError::Store(e.to_string()))?;
                items.push((sku.clone(), hold));
            }
            self.transact_on_holds(items, "marking holds as awaiting payment")
                .await?;
        }
        Ok(())
    }

    /// An update of the hold of `sku` that applies only while it is live (held, or awaiting a
    /// payment) at `quantity` units on `shard`, so each ending applies once.
    fn live_hold(&self, reservation: &str, sku: &Sku, quantity: u64, shard: u16) -> UpdateBuilder {
        Update::builder()
            .table_name(&self.table)
            .key("pk", hold_key(reservation, sku))
            .condition_expression(format!(
                "#state IN (:held, :awaiting) AND quantity = :quantity AND {}",
                on_shard(shard)
            ))
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#shard", "shard")
            .expression_attribute_values(":held", s(HELD))
            .expression_attribute_values(":awaiting", s(AWAITING))
            .expression_attribute_values(":quantity", n(quantity))
            .expression_attribute_values(":from_shard", n(u64::from(shard)))
    }

    /// Runs `items` (each with the SKU it concerns) as one transaction; a cancellation names the
    /// SKU of the first item whose condition failed.
    async fn transact_on_holds(
        &self,
        items: Vec<(Sku, Update)>,
        what: &str,
    ) -> Result<(), InventoryError> {
        let Some(first) = items.first().map(|(sku, _)| sku.clone()) else {
            return Ok(());
        };
        let (skus, updates): (Vec<Sku>, Vec<TransactWriteItem>) = items
            .into_iter()
            .map(|(sku, update)| (sku, TransactWriteItem::builder().update(update).build()))
            .unzip();
        let Some(reasons) = self.transact(updates, what).await? else {
            return Ok(());
        };
        let failed = reasons.iter().position(|r| r.code() != Some("None"));
        Err(InventoryError::HoldMismatch {
            sku: failed.and_then(|i| skus.get(i).cloned()).unwrap_or(first),
        })
    }
}
