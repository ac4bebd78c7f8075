//! Tax rates as the store keeps them.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    pub id: String,
    /// Creation order, for newest-first lists.
    pub seq: u64,
    pub active: bool,
    pub created: i64,
    pub display_name: String,
    pub description: Option<String>,
    pub inclusive: bool,
    /// Ten-thousandths of a percent.
    pub percentage: i64,
    pub country: Option<String>,
    pub state: Option<String>,
    pub jurisdiction: Option<String>,
    pub tax_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
}
