//! Products as the store keeps them.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
    pub updated: i64,
}
