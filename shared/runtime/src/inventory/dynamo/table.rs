//! The inventory table as the DynamoDB store sees it: the store's handle, the keys of stock and
//! hold items, the hold states, and the helpers that read and write their attributes.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use cart_domain::Sku;
use std::collections::{BTreeMap, HashMap};

pub(super) const HELD: &str = "HELD";
/// A hold of a session that completed unpaid: its units wait for the delayed payment. It keeps
/// `sweep = HELD`, so the sweeper finds it again at its `expires_at` (the recheck time).
pub(super) const AWAITING: &str = "AWAITING_PAYMENT";
/// Reads of a batch before its unprocessed keys count as a failure.
pub(super) const BATCH_READ_ATTEMPTS: u32 = 4;
/// Sparse index of live holds by expiry (partition `sweep`, sort `expires_at`), in template.yaml.
pub(super) const SWEEP_INDEX: &str = "holds-by-expiry";
/// Starts a stock item that does not exist yet at zero (a new shard) and adds `:q` units.
pub(super) const RECEIVE: &str = "SET available = if_not_exists(available, :zero) + :q, \
                       received = if_not_exists(received, :zero) + :q, \
                       held = if_not_exists(held, :zero), sold = if_not_exists(sold, :zero)";

pub(super) type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoInventory {
    pub(super) client: Client,
    pub(super) table: String,
    /// Shards per SKU (the catalog's `inventory_shards`); 1 when absent.
    pub(super) shards: BTreeMap<Sku, u16>,
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
}

pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// Shard 0 keeps the key the SKU always had, so existing stock and unsharded SKUs are untouched.
pub(super) fn sku_key(sku: &Sku, shard: u16) -> AttributeValue {
    if shard == 0 {
        s(&format!("sku#{sku}"))
    } else {
        s(&format!("sku#{sku}#{shard}"))
    }
}

pub(super) fn hold_key(reservation: &str, sku: &Sku) -> AttributeValue {
    s(&format!("hold#{reservation}#{sku}"))
}

pub(super) fn number(item: Option<&Item>, name: &str) -> u64 {
    item.and_then(|i| i.get(name))
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The shard a hold item records; none (a hold from before shards) is shard 0.
pub(super) fn shard_of(item: &Item) -> u16 {
    u16::try_from(number(Some(item), "shard")).unwrap_or(0)
}

/// The condition that a hold is on `shard`, bound as `:from_shard` (`shard` is a reserved word,
/// hence `#shard`); a hold without the attribute is on shard 0.
pub(super) fn on_shard(shard: u16) -> &'static str {
    if shard == 0 {
        "(attribute_not_exists(#shard) OR #shard = :from_shard)"
    } else {
        "#shard = :from_shard"
    }
}
