//! Where the store ships, what it charges for it, and the tax rate of each destination: the
//! catalog's `shipping` and `tax_rates`, checked as a whole when the catalog loads.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// Stripe allows at most this many shipping options on a Checkout Session.
pub const MAX_SHIPPING_OPTIONS: usize = 5;

/// Where the store ships and what it charges for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shipping {
    /// ISO 3166-1 alpha-2 codes of the countries the store ships to.
    pub countries: Vec<String>,
    /// Shipping options by paid subtotal; every tier whose band holds the subtotal is offered,
    /// in this order (Stripe preselects the first).
    #[serde(default)]
    pub tiers: Vec<ShippingTier>,
}

/// One shipping option, offered while the cart's paid subtotal is in `[from, below)`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingTier {
    pub id: String,
    pub display_name: String,
    /// Minor units.
    pub amount: i64,
    /// Lowercase ISO 4217; when given, the tier applies only to sessions in that currency,
    /// otherwise it is charged in the session's currency.
    #[serde(default)]
    pub currency: Option<String>,
    /// Offered when the paid subtotal is at least this (inclusive).
    #[serde(default)]
    pub from: Option<i64>,
    /// Offered when the paid subtotal is below this (exclusive).
    #[serde(default)]
    pub below: Option<i64>,
    /// Delivery estimate in business days.
    #[serde(default)]
    pub min_days: Option<u32>,
    #[serde(default)]
    pub max_days: Option<u32>,
}

impl ShippingTier {
    /// True when the tier is offered for this paid subtotal.
    pub fn applies_to(&self, paid_subtotal: i64) -> bool {
        self.from.is_none_or(|from| paid_subtotal >= from)
            && self.below.is_none_or(|below| paid_subtotal < below)
    }
}

/// The tax rate for a destination: `state` narrows it to one state or province.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRateRule {
    pub country: String,
    #[serde(default)]
    pub state: Option<String>,
    /// A Stripe Tax Rate id (`txr_…`).
    pub tax_rate: String,
}

/// Two uppercase ASCII letters, the shape of an ISO 3166-1 alpha-2 code.
pub fn is_country_code(raw: &str) -> bool {
    raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase())
}

/// The tax rate for a destination: its state's rule, else its country's, else none.
pub(super) fn tax_rate_for<'a>(
    rules: &'a [TaxRateRule],
    country: &str,
    state: Option<&str>,
) -> Option<&'a str> {
    let rule = |wanted: Option<&str>| {
        rules
            .iter()
            .find(|r| r.country == country && r.state.as_deref() == wanted)
    };
    state
        .and_then(|s| rule(Some(s)))
        .or_else(|| rule(None))
        .map(|r| r.tax_rate.as_str())
}

/// Every rule well-formed and at most one per country and state; the error names the rule's index.
pub(super) fn check_tax_rates(rules: &[TaxRateRule]) -> Result<(), (usize, String)> {
    let mut seen = HashSet::new();
    for (index, rule) in rules.iter().enumerate() {
        let bad = |reason: String| (index, reason);
        if !is_country_code(&rule.country) {
            return Err(bad(format!(
                "country `{}` must be 2 uppercase letters (ISO 3166-1 alpha-2)",
                rule.country
            )));
        }
        if rule
            .state
            .as_ref()
            .is_some_and(|s| s.trim().is_empty() || s.len() > 64)
        {
            return Err(bad("state must be 1 to 64 characters".into()));
        }
        let id_ok = rule.tax_rate.len() <= 255
            && rule.tax_rate.strip_prefix("txr_").is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if !id_ok {
            return Err(bad(format!(
                "`{}` is not a tax rate id (txr_…)",
                rule.tax_rate
            )));
        }
        if !seen.insert((rule.country.as_str(), rule.state.as_deref())) {
            return Err(bad("another rule has the same country and state".into()));
        }
    }
    Ok(())
}

/// Every tier well-formed, ids unique, and never more than Stripe's 5 options at once.
pub(super) fn check_shipping(shipping: &Shipping) -> Result<(), String> {
    if shipping.countries.is_empty() {
        return Err("`countries` must list at least one country".into());
    }
    let mut countries = HashSet::new();
    for country in &shipping.countries {
        if !is_country_code(country) {
            return Err(format!(
                "country `{country}` must be 2 uppercase letters (ISO 3166-1 alpha-2)"
            ));
        }
        if !countries.insert(country) {
            return Err(format!("country `{country}` appears more than once"));
        }
    }
    let mut ids = HashSet::new();
    for tier in &shipping.tiers {
        let id = &tier.id;
        if id.trim().is_empty() || !ids.insert(id.as_str()) {
            return Err(format!("tier id `{id}` is empty or appears more than once"));
        }
        if tier.display_name.trim().is_empty() || tier.display_name.chars().count() > 100 {
            return Err(format!(
                "tier `{id}`: display_name must be 1 to 100 characters"
            ));
        }
        if !(0..=99_999_999).contains(&tier.amount) {
            return Err(format!("tier `{id}`: amount must be 0 to 99999999"));
        }
        if tier
            .currency
            .as_ref()
            .is_some_and(|c| c.len() != 3 || !c.bytes().all(|b| b.is_ascii_lowercase()))
        {
            return Err(format!("tier `{id}`: currency must be 3 lowercase letters"));
        }
        if tier.from.is_some_and(|f| f < 0) || tier.below.is_some_and(|b| b < 1) {
            return Err(format!("tier `{id}`: from must be >= 0 and below >= 1"));
        }
        if let (Some(from), Some(below)) = (tier.from, tier.below) {
            if from >= below {
                return Err(format!("tier `{id}`: from must be less than below"));
            }
        }
        if tier.min_days == Some(0) || tier.max_days == Some(0) {
            return Err(format!("tier `{id}`: delivery days must be at least 1"));
        }
        if let (Some(min), Some(max)) = (tier.min_days, tier.max_days) {
            if min > max {
                return Err(format!("tier `{id}`: min_days must not exceed max_days"));
            }
        }
    }
    // The set of applicable tiers only changes at a band edge, so checking every edge (and 0)
    // checks every subtotal. Tiers of different currencies never apply to the same session.
    let edges = std::iter::once(0).chain(
        shipping
            .tiers
            .iter()
            .flat_map(|t| [t.from, t.below])
            .flatten(),
    );
    for subtotal in edges {
        let mut by_currency: HashMap<Option<&str>, usize> = HashMap::new();
        for tier in shipping.tiers.iter().filter(|t| t.applies_to(subtotal)) {
            *by_currency.entry(tier.currency.as_deref()).or_default() += 1;
        }
        let untagged = by_currency.get(&None).copied().unwrap_or(0);
        let worst = by_currency
            .iter()
            .map(|(currency, n)| if currency.is_some() { n + untagged } else { *n })
            .max()
            .unwrap_or(0);
        if worst > MAX_SHIPPING_OPTIONS {
            return Err(format!(
                "{worst} tiers apply to a paid subtotal of {subtotal}; Stripe allows at most {MAX_SHIPPING_OPTIONS} shipping options"
            ));
        }
    }
    Ok(())
}
