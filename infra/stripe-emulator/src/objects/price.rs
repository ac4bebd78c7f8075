//! Prices: their stored form, their billing interval and their JSON.

use super::product::render_product;
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    pub const NAMES: [&'static str; 4] = ["day", "week", "month", "year"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// Stripe caps a billing period at one year.
    pub(super) fn max_count(self) -> i64 {
        match self {
            Self::Day => 365,
            Self::Week => 52,
            Self::Month => 12,
            Self::Year => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recurring {
    pub interval: Interval,
    pub interval_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub id: String,
    /// Creation order, for newest-first lists.
    pub seq: u64,
    pub active: bool,
    pub created: i64,
    pub currency: String,
    pub unit_amount: i64,
    pub product: String,
    pub recurring: Option<Recurring>,
    pub lookup_key: Option<String>,
    pub nickname: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub tax_behavior: String,
}

/// `expand_product` renders the product object instead of its id (`expand[]=product`).
pub fn render_price(price: &Price, store: &Store, expand_product: bool) -> Value {
    let product = match store.products.get(&price.product) {
        Some(product) if expand_product => render_product(product),
        _ => json!(price.product),
    };
    let recurring = price.recurring.map(|r| {
        json!({
            "interval": r.interval.as_str(),
            "interval_count": r.interval_count,
            "meter": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        })
    });
    json!({
        "id": price.id,
        "object": "price",
        "active": price.active,
        "billing_scheme": "per_unit",
        "created": price.created,
        "currency": price.currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": price.lookup_key,
        "metadata": price.metadata,
        "nickname": price.nickname,
        "product": product,
        "recurring": recurring,
        "tax_behavior": price.tax_behavior,
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if price.recurring.is_some() { "recurring" } else { "one_time" },
        "unit_amount": price.unit_amount,
        "unit_amount_decimal": price.unit_amount.to_string(),
    })
}
