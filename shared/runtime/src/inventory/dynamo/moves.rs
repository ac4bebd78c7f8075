//! How holds move on the table: the stock and hold updates of one move, and the one transaction
//! per attempt that [`ShardedStore`] asks of the store, with its cancellation reasons told apart.

use super::table::{hold_key, n, number, on_shard, s, sku_key, DynamoInventory, HELD, RECEIVE};
use crate::inventory::shards::{ShardMove, ShardedStore};
use crate::inventory::store::InventoryError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use cart_domain::{Sku, StockChange};

/// What an item of a move's transaction checks, to tell from the cancellation reasons which
/// condition failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `available >= :d` on the shard units are taken from.
    Take,
    /// `held >= :d` on the shard units go back to.
    Give,
    /// The hold at its quantity and shard.
    Hold,
}

impl DynamoInventory {
    /// `units` of the shard move between `available` and `held` by `expression`, if `condition`
    /// holds (the item's old values come back when it does not, so a short shard says how short).
    fn stock_update(
        &self,
        sku: &Sku,
        shard: u16,
        units: u64,
        expression: &str,
        condition: &str,
    ) -> Result<Update, InventoryError> {
        Update::builder()
            .table_name(&self.table)
            .key("pk", sku_key(sku, shard))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_values(":d", n(units))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| InventoryError::Store(e.to_string()))
    }

    /// A hold takes `units` of the shard's stock: that many must be available.
    fn take(&self, sku: &Sku, shard: u16, units: u64) -> Result<Update, InventoryError> {
        self.stock_update(
            sku,
            shard,
            units,
            "SET available = available - :d, held = held + :d",
            "available >= :d",
        )
    }

    /// `units` arrive on the shard (`available` and `received` together); the item is created
    /// at zero if it does not exist yet.
    pub(super) fn arrival(
        &self,
        sku: &Sku,
        shard: u16,
        units: u64,
    ) -> Result<Update, InventoryError> {
        Update::builder()
            .table_name(&self.table)
            .key("pk", sku_key(sku, shard))
            .update_expression(RECEIVE)
            .expression_attribute_values(":q", n(units))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(|e| InventoryError::Store(e.to_string()))
    }

    /// A hold gives `units` back to the shard: that many must be held there.
    fn give(&self, sku: &Sku, shard: u16, units: u64) -> Result<Update, InventoryError> {
        self.stock_update(
            sku,
            shard,
            units,
            "SET available = available + :d, held = held - :d",
            "held >= :d",
        )
    }

    /// The hold moves only from the quantity and shard the caller saw, and records where its
    /// units now are.
    fn hold_update(
        &self,
        reservation: &str,
        shard_move: &ShardMove,
        expires_at_s: u64,
        session: Option<&str>,
    ) -> Result<Update, InventoryError> {
        let change = &shard_move.change;
        let mut set = vec![
            "quantity = :to",
            "#shard = :shard",
            "#state = :held",
            "sku = :sku",
            "reservation = :reservation",
            "expires_at = :expires",
        ];
        if session.is_some() {
            set.push("session_id = :session");
        }
        // Only holds that hold something are listed for the sweeper.
        let expression = if change.to > 0 {
            set.push("sweep = :held");
            format!("SET {}", set.join(", "))
        } else {
            format!("SET {} REMOVE sweep", set.join(", "))
        };
        // A new hold may start on any shard; an existing one is where it was.
        let condition = if change.from == 0 {
            "attribute_not_exists(pk) OR (#state = :held AND quantity = :from)".to_owned()
        } else {
            format!(
                "#state = :held AND quantity = :from AND {}",
                on_shard(shard_move.from_shard)
            )
        };
        let mut builder = Update::builder()
            .table_name(&self.table)
            .key("pk", hold_key(reservation, &change.sku))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#shard", "shard")
            .expression_attribute_values(":to", n(change.to))
            .expression_attribute_values(":from", n(change.from))
            .expression_attribute_values(":shard", n(u64::from(shard_move.to_shard)))
            .expression_attribute_values(":held", s(HELD))
            .expression_attribute_values(":sku", s(change.sku.as_str()))
            .expression_attribute_values(":reservation", s(reservation))
            .expression_attribute_values(":expires", n(expires_at_s));
        if change.from > 0 {
            builder = builder
                .expression_attribute_values(":from_shard", n(u64::from(shard_move.from_shard)));
        }
        if let Some(session) = session {
            builder = builder.expression_attribute_values(":session", s(session));
        }
        builder
            .build()
            .map_err(|e| InventoryError::Store(e.to_string()))
    }
}

impl ShardedStore for DynamoInventory {
    fn shards(&self, sku: &Sku) -> u16 {
        self.shards.get(sku).copied().unwrap_or(1)
    }

    async fn attempt(
        &self,
        reservation: &str,
        moves: &[ShardMove],
        expires_at_s: u64,
        session: Option<&str>,
    ) -> Result<(), InventoryError> {
        let mut roles: Vec<(&Sku, Role)> = Vec::new();
        let mut items = Vec::new();
        for shard_move in moves {
            let StockChange { sku, from, to } = &shard_move.change;
            // A relocating hold leaves one item and lands on another: three distinct items.
            let stock = if shard_move.relocates() {
                vec![
                    (Role::Give, self.give(sku, shard_move.from_shard, *from)?),
                    (Role::Take, self.take(sku, shard_move.to_shard, *to)?),
                ]
            } else if to > from {
                vec![(Role::Take, self.take(sku, shard_move.to_shard, to - from)?)]
            } else {
                vec![(Role::Give, self.give(sku, shard_move.to_shard, from - to)?)]
            };
            let hold = self.hold_update(reservation, shard_move, expires_at_s, session)?;
            for (role, update) in stock.into_iter().chain([(Role::Hold, hold)]) {
                roles.push((sku, role));
                items.push(TransactWriteItem::builder().update(update).build());
            }
        }
        let Some(reasons) = self.transact(items, "moving holds").await? else {
            return Ok(());
        };
        let failed = |wanted: &[Role]| {
            reasons.iter().zip(&roles).find(|(reason, (_, role))| {
                reason.code() == Some("ConditionalCheckFailed") && wanted.contains(role)
            })
        };
        // A hold not where the move expects it (or a shard that does not hold it) first: the
        // reconciliation re-reads it. Then a short shard: the caller falls over to the next.
        if let Some((_, (sku, _))) = failed(&[Role::Hold, Role::Give]) {
            return Err(InventoryError::HoldMismatch {
                sku: (*sku).clone(),
            });
        }
        if let Some((reason, (sku, _))) = failed(&[Role::Take]) {
            return Err(InventoryError::OutOfStock {
                sku: (*sku).clone(),
                available: number(reason.item(), "available"),
            });
        }
        // Another transaction was writing one of the items (under load, a hot SKU's stock item):
        // not a verdict on the move, which is retried.
        if let Some((_, (sku, _))) = reasons
            .iter()
            .zip(&roles)
            .find(|(reason, _)| reason.code() == Some("TransactionConflict"))
        {
            return Err(InventoryError::Contended {
                sku: (*sku).clone(),
            });
        }
        Err(InventoryError::Store(format!(
            "holds not moved: {reasons:?}"
        )))
    }
}
