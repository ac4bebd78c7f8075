//! The words every other module speaks: stock-keeping units, billing intervals, stock changes.
//! Below the catalog, the request parser and the planner, so none of them imports another for them.

use serde::Deserialize;

/// A stock-keeping unit: letters, digits, `-` and `_`, at most 64.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Sku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).ok_or_else(|| {
            serde::de::Error::custom(format!("`{raw}` is not a SKU (1-64 of A-Z a-z 0-9 - _)"))
        })
    }
}

/// The billing interval a shopper can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    Monthly,
    Yearly,
}

impl Interval {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "monthly" => Some(Self::Monthly),
            "yearly" => Some(Self::Yearly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::Yearly => "yearly",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Monthly => Self::Yearly,
            Self::Yearly => Self::Monthly,
        }
    }
}

/// A SKU's total quantity in the cart before and after the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChange {
    pub sku: Sku,
    pub from: u64,
    pub to: u64,
}
