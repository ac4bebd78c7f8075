//! Prices as the store keeps them, with their billing interval.

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
    pub fn max_count(self) -> i64 {
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
