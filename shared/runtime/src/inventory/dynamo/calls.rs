//! The DynamoDB calls every inventory operation is made of: one transaction (with or without
//! the contention retry) and consistent batched reads.

use super::table::{DynamoInventory, Item, BATCH_READ_ATTEMPTS};
use crate::inventory::shards::Contention;
use crate::inventory::store::InventoryError;
use crate::telemetry::error_chain;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, TransactWriteItem,
};
use cart_domain::Sku;
use std::collections::HashMap;
use std::time::Duration;

impl DynamoInventory {
    /// Runs one transaction: `Ok(None)` when it applied, `Ok(Some(reasons))` when DynamoDB
    /// cancelled it (one reason per item, in order).
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        what: &str,
    ) -> Result<Option<Vec<CancellationReason>>, InventoryError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    Ok(Some(c.cancellation_reasons().to_vec()))
                }
                other => Err(InventoryError::Store(format!("{what}: {other}"))),
            },
            Err(other) => Err(InventoryError::Store(format!(
                "{what}: {}",
                error_chain(&other)
            ))),
        }
    }

    /// The items of `keys`, read consistently in batches (BatchGetItem takes up to 100
    /// keys and may hand some back unread under load); absent items are simply not returned.
    pub(super) async fn read_items(
        &self,
        keys: Vec<AttributeValue>,
        what: &str,
    ) -> Result<Vec<Item>, InventoryError> {
        let mut items = Vec::new();
        for chunk in keys.chunks(100) {
            let mut keys: Vec<_> = chunk
                .iter()
                .map(|key| HashMap::from([("pk".to_owned(), key.clone())]))
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
                    .map_err(|e| InventoryError::Store(format!("{what}: {e}")))?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| InventoryError::Store(format!("{what}: {}", error_chain(&e))))?;
                items.extend(
                    output
                        .responses()
                        .and_then(|r| r.get(&self.table))
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
                if let Some(unread) = output.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    keys = unread.keys().to_vec();
                }
            }
            if !keys.is_empty() {
                return Err(InventoryError::Store(format!(
                    "{what}: {} keys still unprocessed after {BATCH_READ_ATTEMPTS} attempts",
                    keys.len()
                )));
            }
        }
        Ok(items)
    }

    /// Runs a transaction on stock items only (receiving, rebalancing), retrying conflicts like
    /// a move does; `Ok(Some(reasons))` when it was cancelled for anything else (a failed
    /// condition).
    pub(super) async fn transact_contended(
        &self,
        sku: &Sku,
        items: Vec<TransactWriteItem>,
        what: &str,
    ) -> Result<Option<Vec<CancellationReason>>, InventoryError> {
        let mut contention = Contention::default();
        loop {
            let reasons = self.transact(items.clone(), what).await?;
            let conflicted = reasons.as_ref().is_some_and(|reasons| {
                reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"))
                    && !reasons
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed"))
            });
            if !conflicted {
                return Ok(reasons);
            }
            if !contention.backoff().await {
                return Err(InventoryError::Contended { sku: sku.clone() });
            }
        }
    }
}
