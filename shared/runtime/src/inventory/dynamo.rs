//! [`InventoryStore`] on the inventory table (partition key `pk`):
//! `sku#<SKU>` {available, held, sold, received} and `hold#<reservation>#<SKU>` {quantity, state,
//! expires_at, session_id, sweep}. `sweep` exists only while a hold holds stock, so the sparse
//! index the sweeper reads lists exactly the live holds.

use super::{Contention, HoldRecord, InventoryError, InventoryStore, Settlement, StockLevel};
use crate::error_chain;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use cart_validation::{Sku, StockChange};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const HELD: &str = "HELD";
/// Reads of a batch before its unprocessed keys count as a failure.
const BATCH_READ_ATTEMPTS: u32 = 4;
/// Sparse index of live holds by expiry (partition `sweep`, sort `expires_at`), in template.yaml.
pub const SWEEP_INDEX: &str = "holds-by-expiry";
const SOLD: &str = "SOLD";
const RELEASED: &str = "RELEASED";

#[derive(Debug, Clone)]
pub struct DynamoInventory {
    client: Client,
    table: String,
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn sku_key(sku: &Sku) -> AttributeValue {
    s(&format!("sku#{sku}"))
}

fn hold_key(reservation: &str, sku: &Sku) -> AttributeValue {
    s(&format!("hold#{reservation}#{sku}"))
}

fn number(item: Option<&HashMap<String, AttributeValue>>, name: &str) -> u64 {
    item.and_then(|i| i.get(name))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl DynamoInventory {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The SKU's counters move by the change: taking stock needs that much available, giving it
    /// back needs that much held.
    fn stock_update(&self, change: &StockChange) -> Result<Update, InventoryError> {
        let builder = Update::builder()
            .table_name(&self.table)
            .key("pk", sku_key(&change.sku));
        let builder = if change.to > change.from {
            builder
                .update_expression("SET available = available - :d, held = held + :d")
                .condition_expression("available >= :d")
                .expression_attribute_values(":d", n(change.to - change.from))
        } else {
            builder
                .update_expression("SET available = available + :d, held = held - :d")
                .condition_expression("held >= :d")
                .expression_attribute_values(":d", n(change.from - change.to))
        };
        builder
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| InventoryError::Store(e.to_string()))
    }

    /// The hold moves only from the quantity the caller saw.
    fn hold_update(
        &self,
        reservation: &str,
        change: &StockChange,
        expires_at_s: u64,
        session: Option<&str>,
    ) -> Result<Update, InventoryError> {
        let mut set = vec![
            "quantity = :to",
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
        let condition = if change.from == 0 {
            "attribute_not_exists(pk) OR (#state = :held AND quantity = :from)"
        } else {
            "#state = :held AND quantity = :from"
        };
        let mut builder = Update::builder()
            .table_name(&self.table)
            .key("pk", hold_key(reservation, &change.sku))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":to", n(change.to))
            .expression_attribute_values(":from", n(change.from))
            .expression_attribute_values(":held", s(HELD))
            .expression_attribute_values(":sku", s(change.sku.as_str()))
            .expression_attribute_values(":reservation", s(reservation))
            .expression_attribute_values(":expires", n(expires_at_s));
        if let Some(session) = session {
            builder = builder.expression_attribute_values(":session", s(session));
        }
        builder
            .build()
            .map_err(|e| InventoryError::Store(e.to_string()))
    }

    /// One attempt of [`InventoryStore::move_holds`].
    async fn try_move_holds(
        &self,
        reservation: &str,
        changes: &[StockChange],
        expires_at_s: u64,
        session: Option<&str>,
    ) -> Result<(), InventoryError> {
        let mut request = self.client.transact_write_items();
        for change in changes {
            request = request
                .transact_items(
                    TransactWriteItem::builder()
                        .update(self.stock_update(change)?)
                        .build(),
                )
                .transact_items(
                    TransactWriteItem::builder()
                        .update(self.hold_update(reservation, change, expires_at_s, session)?)
                        .build(),
                );
        }
        let cancelled = match request.send().await {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => c,
                other => return Err(InventoryError::Store(format!("moving holds: {other}"))),
            },
            Err(other) => {
                return Err(InventoryError::Store(format!(
                    "moving holds: {}",
                    error_chain(&other)
                )))
            }
        };
        // Items go in pairs (stock, hold) per change; the reasons say which condition failed.
        let reasons = cancelled.cancellation_reasons();
        for (index, reason) in reasons.iter().enumerate() {
            if reason.code() != Some("ConditionalCheckFailed") {
                continue;
            }
            let Some(change) = changes.get(index / 2) else {
                continue;
            };
            return Err(if index % 2 == 0 {
                InventoryError::OutOfStock {
                    sku: change.sku.clone(),
                    available: number(reason.item(), "available"),
                }
            } else {
                InventoryError::HoldMismatch {
                    sku: change.sku.clone(),
                }
            });
        }
        // Another transaction was writing one of the items (under load, a hot SKU's stock item):
        // not a verdict on the move, which is retried.
        if let Some(index) = reasons
            .iter()
            .position(|r| r.code() == Some("TransactionConflict"))
        {
            let change = changes.get(index / 2).unwrap_or(&changes[0]);
            return Err(InventoryError::Contended {
                sku: change.sku.clone(),
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
        expires_at_s: u64,
        session: Option<&str>,
    ) -> Result<(), InventoryError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut contention = Contention::default();
        loop {
            let moved = self
                .try_move_holds(reservation, changes, expires_at_s, session)
                .await;
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
        let mut request = self.client.transact_write_items();
        for settlement in settlements {
            let sold = settlement.sold.min(settlement.held);
            let stock = Update::builder()
                .table_name(&self.table)
                .key("pk", sku_key(&settlement.sku))
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
                .condition_expression("#state = :held AND quantity = :quantity")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":end", s(if sold > 0 { SOLD } else { RELEASED }))
                .expression_attribute_values(":sold", n(sold))
                .expression_attribute_values(":held", s(HELD))
                .expression_attribute_values(":quantity", n(settlement.held))
                .build()
                .map_err(|e| InventoryError::Store(e.to_string()))?;
            request = request
                .transact_items(TransactWriteItem::builder().update(stock).build())
                .transact_items(TransactWriteItem::builder().update(hold).build());
        }
        if settlements.is_empty() {
            return Ok(());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let index = c
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() != Some("None"))
                        .unwrap_or(0);
                    Err(InventoryError::HoldMismatch {
                        sku: settlements
                            .get(index / 2)
                            .map_or_else(|| settlements[0].sku.clone(), |s| s.sku.clone()),
                    })
                }
                other => Err(InventoryError::Store(format!("settling holds: {other}"))),
            },
            Err(other) => Err(InventoryError::Store(format!(
                "settling holds: {}",
                error_chain(&other)
            ))),
        }
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
                .condition_expression("attribute_exists(pk)")
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
        let text = |item: &HashMap<String, AttributeValue>, name: &str| {
            item.get(name).and_then(|v| v.as_s().ok()).cloned()
        };
        Ok(output
            .items()
            .iter()
            .filter_map(|item| {
                Some(HoldRecord {
                    reservation: text(item, "reservation")?,
                    sku: Sku::parse(&text(item, "sku")?)?,
                    quantity: number(Some(item), "quantity"),
                    session: text(item, "session_id"),
                    expires_at_s: number(Some(item), "expires_at"),
                })
            })
            .collect())
    }

    async fn holds(
        &self,
        reservation: &str,
        skus: &[Sku],
    ) -> Result<BTreeMap<Sku, u64>, InventoryError> {
        let mut held = BTreeMap::new();
        // BatchGetItem takes up to 100 keys and may hand some back unread under load.
        for chunk in skus.chunks(100) {
            let mut keys: Vec<_> = chunk
                .iter()
                .map(|sku| HashMap::from([("pk".to_owned(), hold_key(reservation, sku))]))
                .collect();
            for attempt in 0..BATCH_READ_ATTEMPTS {
                if keys.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| InventoryError::Store(format!("reading holds: {e}")))?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| {
                        InventoryError::Store(format!("reading holds: {}", error_chain(&e)))
                    })?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let live = item
                        .get("state")
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|s| s == HELD);
                    let sku = item
                        .get("sku")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|s| Sku::parse(s));
                    let quantity = number(Some(item), "quantity");
                    if let (true, Some(sku), 1..) = (live, sku, quantity) {
                        held.insert(sku, quantity);
                    }
                }
                if let Some(unread) = output.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    keys = unread.keys().to_vec();
                }
            }
            if !keys.is_empty() {
                return Err(InventoryError::Store(format!(
                    "reading holds: {} keys still unprocessed after {BATCH_READ_ATTEMPTS} attempts",
                    keys.len()
                )));
            }
        }
        Ok(held)
    }

    async fn receive(&self, sku: &Sku, quantity: u64) -> Result<(), InventoryError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", sku_key(sku))
            .update_expression(
                "SET available = if_not_exists(available, :zero) + :q, \
                 received = if_not_exists(received, :zero) + :q, \
                 held = if_not_exists(held, :zero), sold = if_not_exists(sold, :zero)",
            )
            .expression_attribute_values(":q", n(quantity))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| InventoryError::Store(format!("receiving stock: {}", error_chain(&e))))
    }

    async fn stock(&self, sku: &Sku) -> Result<StockLevel, InventoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", sku_key(sku))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| InventoryError::Store(format!("reading stock: {}", error_chain(&e))))?;
        let item = output.item();
        Ok(StockLevel {
            available: number(item, "available"),
            held: number(item, "held"),
            sold: number(item, "sold"),
            received: number(item, "received"),
        })
    }
}
