//! Inventory holds that never oversell.
//!
//! Stock per SKU (`available`, `held`, `sold`, `received`) and one hold per (reservation, SKU). A
//! reservation is created with the Checkout Session and written into its metadata
//! (`cart_reservation`), so every later handler, the webhook and the sweeper find the holds of a
//! session from the session itself. Every move is one DynamoDB transaction whose conditions keep
//! `available >= 0` and `available + held + sold == received` at every moment.
//!
//! A hot SKU's stock may be split over N items, its shards (the catalog's `inventory_shards`),
//! so that concurrent holds do not all write one item (docs/hot-sku.md). Each shard keeps the
//! invariant on its own; a hold's units all sit on one shard, which the hold records, and every
//! later move, sale or release of the hold goes to that shard. With one shard (the default)
//! nothing differs from an unsharded store.

mod dynamo;
#[cfg(test)]
pub(crate) mod memory;
mod reconcile;
mod shards;
mod store;

pub use dynamo::DynamoInventory;
pub use reconcile::{move_holds_reconciled, reversed, Reconcile, Reconciled};
pub use shards::{primary_shard, shard_counts, spread};
pub use store::{
    Held, HoldRecord, InventoryError, InventoryStore, Settlement, StockAdmin, StockLevel,
};

/// Metadata key on a Checkout Session naming its reservation (and marking it as this app's).
pub const RESERVATION_METADATA_KEY: &str = "cart_reservation";

#[cfg(test)]
mod tests;
