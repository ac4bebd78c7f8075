//! Shipping rates as the store keeps them (sessions create them from
//! `shipping_options[N][shipping_rate_data]`).

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRate {
    pub id: String,
    pub active: bool,
    pub created: i64,
    pub display_name: String,
    pub amount: i64,
    pub currency: String,
    pub delivery_estimate: Value,
    pub metadata: BTreeMap<String, String>,
    pub tax_behavior: String,
}
