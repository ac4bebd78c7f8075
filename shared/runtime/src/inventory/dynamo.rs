//! [`InventoryStore`] and [`StockAdmin`] on the inventory table (partition key `pk`):
//! `sku#<SKU>` (shard 0, the only one of an unsharded SKU) and `sku#<SKU>#<i>` (shard i > 0)
//! {available, held, sold, received}, and `hold#<reservation>#<SKU>` {quantity, shard, state,
//! expires_at, session_id, sweep}. A hold without `shard` (written before shards existed) is on
//! shard 0. `sweep` exists only while a hold holds stock, so the sparse index the sweeper reads
//! lists exactly the live holds.
//!
//! `table` holds the handle and the item keys; `moves`, `endings` and `calls` build on it, and
//! `store` and `stock` implement the traits with them.
//!
//! [`InventoryStore`]: super::InventoryStore
//! [`StockAdmin`]: super::StockAdmin

mod calls;
mod endings;
mod moves;
mod stock;
mod store;
mod table;

pub use table::DynamoInventory;
