//! [`ClaimStore`] on one DynamoDB table (partition key `pk`, TTL attribute `expiration`) holding
//! both kinds of item: `idem#<function>#<session>#<key>` records and `lease#<session>` leases.
//! Claims are one TransactWriteItems (or one PutItem without a client key) whose condition
//! failures return the existing item, so a conflict costs no second read.

use super::store::{
    Claim, ClaimOutcome, ClaimStore, LeaseEnd, Record, RecordEnd, RecordStatus, StoreError,
    StoredResponse,
};
use crate::telemetry::error_chain as chain;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";
const FAILED: &str = "FAILED";
/// Leases are checked by `lease_until`; the TTL only tidies them away an hour later.
const LEASE_TIDY_SECONDS: u64 = 3600;

#[derive(Debug, Clone)]
pub struct DynamoClaimStore {
    client: Client,
    table: String,
}

impl DynamoClaimStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn record_put(&self, claim: &Claim, now_ms: u64) -> Result<Option<Put>, StoreError> {
        let Some(record) = &claim.record else {
            return Ok(None);
        };
        Put::builder()
            .table_name(&self.table)
            .item("pk", s(&record.pk))
            .item("kind", s("idempotency"))
            .item("status", s(IN_PROGRESS))
            .item("holder", s(&claim.holder))
            .item("body_hash", s(&record.body_hash))
            .item("expiration", n(record.expiration_s))
            .item("in_progress_until", n(record.in_progress_until_ms))
            .item("stripe_generation", n(u64::from(record.stripe_generation)))
            // Absent, past its TTL, an in-progress record whose owner ran out of time, or a
            // failed one whose Stripe key generation this claim took over.
            .condition_expression(
                "attribute_not_exists(pk) OR expiration <= :now_s \
                 OR (#status = :in_progress AND in_progress_until <= :now_ms) \
                 OR (#status = :failed AND stripe_generation = :generation)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now_s", n(now_ms / 1000))
            .expression_attribute_values(":now_ms", n(now_ms))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":failed", s(FAILED))
            .expression_attribute_values(":generation", n(u64::from(record.stripe_generation)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map(Some)
            .map_err(store_error)
    }

    fn lease_put(&self, claim: &Claim, now_ms: u64) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .item("pk", s(&claim.lease_pk))
            .item("kind", s("lease"))
            .item("holder", s(&claim.holder))
            .item("lease_until", n(claim.lease_until_ms))
            .item(
                "expiration",
                n(claim.lease_until_ms / 1000 + LEASE_TIDY_SECONDS),
            )
            .condition_expression("attribute_not_exists(pk) OR lease_until <= :now_ms")
            .expression_attribute_values(":now_ms", n(now_ms))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(store_error)
    }

    /// Deletes the lease, or moves its end to when a late Stripe write can no longer land.
    fn lease_end(&self, claim: &Claim, lease: LeaseEnd) -> Result<TransactWriteItem, StoreError> {
        let item = match lease {
            LeaseEnd::Release => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(&claim.lease_pk))
                    .condition_expression("holder = :me")
                    .expression_attribute_values(":me", s(&claim.holder))
                    .build()
                    .map_err(store_error)?,
            ),
            LeaseEnd::KeepUntil(until_ms) => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(&claim.lease_pk))
                    .update_expression("SET lease_until = :until, expiration = :tidy")
                    .condition_expression("holder = :me")
                    .expression_attribute_values(":until", n(until_ms))
                    .expression_attribute_values(":tidy", n(until_ms / 1000 + LEASE_TIDY_SECONDS))
                    .expression_attribute_values(":me", s(&claim.holder))
                    .build()
                    .map_err(store_error)?,
            ),
        };
        Ok(item.build())
    }

    /// Completes the record with a response, marks it failed, or deletes it.
    fn record_finish(
        &self,
        claim: &Claim,
        end: RecordEnd<'_>,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(record) = &claim.record else {
            return Ok(None);
        };
        let item = match end {
            RecordEnd::Failed { next_generation } => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(&record.pk))
                    .update_expression("SET #status = :failed, stripe_generation = :generation")
                    .condition_expression("holder = :me")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":failed", s(FAILED))
                    .expression_attribute_values(":generation", n(u64::from(next_generation)))
                    .expression_attribute_values(":me", s(&claim.holder))
                    .build()
                    .map_err(store_error)?,
            ),
            RecordEnd::Store(response) => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(&record.pk))
                    .update_expression(
                        "SET #status = :completed, response_status = :code, response_body = :body",
                    )
                    .condition_expression("holder = :me")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":completed", s(COMPLETED))
                    .expression_attribute_values(":code", n(u64::from(response.status)))
                    .expression_attribute_values(":body", s(&response.body))
                    .expression_attribute_values(":me", s(&claim.holder))
                    .build()
                    .map_err(store_error)?,
            ),
            RecordEnd::Forget => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(&record.pk))
                    .condition_expression("holder = :me")
                    .expression_attribute_values(":me", s(&claim.holder))
                    .build()
                    .map_err(store_error)?,
            ),
        };
        Ok(Some(item.build()))
    }
}

impl ClaimStore for DynamoClaimStore {
    async fn try_claim(&self, claim: &Claim, now_ms: u64) -> Result<ClaimOutcome, StoreError> {
        let lease = self.lease_put(claim, now_ms)?;
        let Some(record) = self.record_put(claim, now_ms)? else {
            return match self
                .client
                .put_item()
                .set_table_name(Some(lease.table_name().to_owned()))
                .set_item(Some(lease.item().clone()))
                .set_condition_expression(lease.condition_expression().map(str::to_owned))
                .set_expression_attribute_values(lease.expression_attribute_values().cloned())
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
            {
                Ok(_) => Ok(ClaimOutcome::Claimed),
                Err(SdkError::ServiceError(e)) => match e.into_err() {
                    PutItemError::ConditionalCheckFailedException(failed) => {
                        Ok(ClaimOutcome::LeaseHeld {
                            until_ms: failed.item().map_or(0, |i| number(i, "lease_until")),
                        })
                    }
                    other => Err(StoreError(format!("claiming the lease: {other}"))),
                },
                Err(other) => Err(StoreError(format!("claiming the lease: {}", chain(&other)))),
            };
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(record).build())
            .transact_items(TransactWriteItem::builder().put(lease).build())
            .send()
            .await;
        let cancelled = match result {
            Ok(_) => return Ok(ClaimOutcome::Claimed),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => c,
                other => return Err(StoreError(format!("claiming: {other}"))),
            },
            Err(other) => return Err(StoreError(format!("claiming: {}", chain(&other)))),
        };
        let reasons = cancelled.cancellation_reasons();
        let failed =
            |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(0) {
            let item = reasons.first().and_then(|r| r.item());
            return item
                .map(record_from)
                .transpose()?
                .map(ClaimOutcome::RecordExists)
                .ok_or_else(|| StoreError("conflicting record was not returned".into()));
        }
        if failed(1) {
            let until_ms = reasons
                .get(1)
                .and_then(|r| r.item())
                .map_or(0, |i| number(i, "lease_until"));
            return Ok(ClaimOutcome::LeaseHeld { until_ms });
        }
        // A concurrent transaction touched the same items: as good as a busy lease, try again.
        if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            return Ok(ClaimOutcome::LeaseHeld { until_ms: now_ms });
        }
        Err(StoreError(format!("claim cancelled: {reasons:?}")))
    }

    async fn read_record(&self, pk: &str) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError(format!("reading {pk}: {}", chain(&e))))?;
        output.item().map(record_from).transpose()
    }

    async fn finish(
        &self,
        claim: &Claim,
        end: RecordEnd<'_>,
        lease: LeaseEnd,
    ) -> Result<(), StoreError> {
        let release = self.lease_end(claim, lease)?;
        let Some(record) = self.record_finish(claim, end)? else {
            return match self.write(vec![release]).await {
                // A lease that expired and was taken over is no longer ours to release.
                Ok(()) | Err(Finish::NotOurs) => Ok(()),
                Err(Finish::Failed(e)) => Err(StoreError(format!("ending the lease: {e}"))),
            };
        };
        match self.write(vec![record.clone(), release.clone()]).await {
            Ok(()) => Ok(()),
            // One side is no longer ours (our time ran out and another request took over):
            // finish whichever side still is, one at a time.
            Err(Finish::NotOurs) => {
                for item in [record, release] {
                    if let Err(Finish::Failed(e)) = self.write(vec![item]).await {
                        return Err(StoreError(format!("finishing: {e}")));
                    }
                }
                Ok(())
            }
            Err(Finish::Failed(e)) => Err(StoreError(format!("finishing: {e}"))),
        }
    }
}

/// Why a finishing write did not apply.
enum Finish {
    /// A `holder = :me` condition failed: that item belongs to another request now.
    NotOurs,
    /// Throttling, an internal error, the network: nothing says whose the items are.
    Failed(String),
}

impl DynamoClaimStore {
    async fn write(&self, items: Vec<TransactWriteItem>) -> Result<(), Finish> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c)
                    if c.cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Err(Finish::NotOurs)
                }
                other => Err(Finish::Failed(chain(&other))),
            },
            Err(other) => Err(Finish::Failed(chain(&other))),
        }
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn record_from(item: &Item) -> Result<Record, StoreError> {
    let status = match string(item, "status") {
        Some(IN_PROGRESS) => RecordStatus::InProgress,
        Some(COMPLETED) => RecordStatus::Completed,
        Some(FAILED) => RecordStatus::Failed,
        other => return Err(StoreError(format!("record with status {other:?}"))),
    };
    let response = match (item.get("response_status"), string(item, "response_body")) {
        (Some(_), Some(body)) => Some(StoredResponse {
            status: u16::try_from(number(item, "response_status")).unwrap_or(500),
            body: body.to_owned(),
        }),
        _ => None,
    };
    Ok(Record {
        status,
        body_hash: string(item, "body_hash").unwrap_or_default().to_owned(),
        expiration_s: number(item, "expiration"),
        in_progress_until_ms: number(item, "in_progress_until"),
        response,
        stripe_generation: u32::try_from(number(item, "stripe_generation")).unwrap_or(u32::MAX),
    })
}

fn store_error(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}
