//! [`InventoryStore`] on the inventory table (partition key `pk`):
//! `sku#<SKU>` (shard 0, the only one of an unsharded SKU) and `sku#<SKU>#<i>` (shard i > 0)
//! {available, held, sold, received}, and `hold#<reservation>#<SKU>` {quantity, shard, state,
//! expires_at, session_id, sweep}. A hold without `shard` (written before shards existed) is on
//! shard 0. `sweep` exists only while a hold holds stock, so the sparse index the sweeper reads
//! lists exactly the live holds.

use super::{
    check_rebalance, move_on_shards, spread, Held, HoldRecord, InventoryError, InventoryStore,
    Settlement, ShardMove, ShardedStore, StockLevel,
};
use crate::telemetry::error_chain;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use cart_validation::{Sku, StockChange};
use std::collections::{BTreeMap, HashMap};

mod calls;
mod endings;
use endings::SETTLEMENTS_PER_TRANSACTION;

const HELD: &str = "HELD";
/// A hold of a session that completed unpaid: its units wait for the delayed payment. It keeps
/// `sweep = HELD`, so the sweeper finds it again at its `expires_at` (the recheck time).
const AWAITING: &str = "AWAITING_PAYMENT";
/// Reads of a batch before its unprocessed keys count as a failure.
const BATCH_READ_ATTEMPTS: u32 = 4;
/// Sparse index of live holds by expiry (partition `sweep`, sort `expires_at`), in template.yaml.
pub const SWEEP_INDEX: &str = "holds-by-expiry";
/// Starts a stock item that does not exist yet at zero (a new shard) and adds `:q` units.
const RECEIVE: &str = "SET available = if_not_exists(available, :zero) + :q, \
                       received = if_not_exists(received, :zero) + :q, \
                       held = if_not_exists(held, :zero), sold = if_not_exists(sold, :zero)";

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoInventory {
    client: Client,
    table: String,
    /// Shards per SKU (the catalog's `inventory_shards`); 1 when absent.
    shards: BTreeMap<Sku, u16>,
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// Shard 0 keeps the key the SKU always had, so existing stock and unsharded SKUs are untouched.
fn sku_key(sku: &Sku, shard: u16) -> AttributeValue {
    if shard == 0 {
        s(&format!("sku#{sku}"))
    } else {
        s(&format!("sku#{sku}#{shard}"))
    }
}

fn hold_key(reservation: &str, sku: &Sku) -> AttributeValue {
    s(&format!("hold#{reservation}#{sku}"))
}

fn number(item: Option<&Item>, name: &str) -> u64 {
    item.and_then(|i| i.get(name))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The shard a hold item records; none (a hold from before shards) is shard 0.
fn shard_of(item: &Item) -> u16 {
    u16::try_from(number(Some(item), "shard")).unwrap_or(0)
}

/// The condition that a hold is on `shard`, bound as `:from_shard` (`shard` is a reserved word,
/// hence `#shard`); a hold without the attribute is on shard 0.
fn on_shard(shard: u16) -> &'static str {
    if shard == 0 {
        "(attribute_not_exists(#shard) OR #shard = :from_shard)"
    } else {
        "#shard = :from_shard"
    }
}

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
    /// `shards`: how many stock items each SKU is split over (from the catalog); 1 when absent.
    pub fn new(client: Client, table: impl Into<String>, shards: BTreeMap<Sku, u16>) -> Self {
        Self {
            client,
            table: table.into(),
            shards,
        }
    }

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
    fn arrival(&self, sku: &Sku, shard: u16, units: u64) -> Result<Update, InventoryError> {
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

    /// In chunks of [`SETTLEMENTS_PER_TRANSACTION`]: each hold settles once on its own
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
