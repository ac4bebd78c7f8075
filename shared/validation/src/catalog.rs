//! The catalog: what this store sells and which changes it allows. Loaded once at cold start from a
//! documented JSON file (format: `shared/validation/catalog.schema.json`) and validated as a whole, so
//! a bad file stops the function at start-up instead of failing a shopper's request.

use crate::ids::PriceId;
use crate::terms::{Interval, Sku};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// A subscription plan sold at a monthly and a yearly price.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Stable name of the plan in this catalog (`pro`, `team`, …).
    pub id: String,
    pub monthly: PriceId,
    pub yearly: PriceId,
    /// Seats a cart may hold.
    #[serde(default)]
    pub quantity: QuantityBounds,
}

/// A one-time product the store sells, at one price.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub price: PriceId,
    /// The stock-keeping unit whose inventory this product draws on; untracked when absent.
    #[serde(default)]
    pub sku: Option<Sku>,
    #[serde(default)]
    pub quantity: QuantityBounds,
    /// Price per unit in minor units, as in Stripe; needed to know a cart's subtotal before Stripe
    /// has seen it (the complimentary rule).
    #[serde(default)]
    pub unit_amount: Option<i64>,
}

/// A cross-sell the shopper may add: a plan (recurring, follows the cart's interval) or a
/// product (one-time), offered only to carts holding one of the `requires` plans (any cart when
/// empty).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub price: Option<PriceId>,
    #[serde(default)]
    pub requires: Vec<String>,
}

/// The kind of cart a rule applies to (Checkout's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CartMode {
    Payment,
    Subscription,
}

/// A free item added while the paid subtotal of an eligible cart is at least `threshold`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complimentary {
    /// A product of this catalog (normally priced at 0).
    pub price: PriceId,
    /// Minor units of the cart's currency.
    pub threshold: i64,
    /// Which carts qualify; by default one-off purchases only, so a subscription plan priced over
    /// the threshold does not silently gain a one-time item.
    #[serde(default = "payment_only")]
    pub eligible_modes: Vec<CartMode>,
}

fn payment_only() -> Vec<CartMode> {
    vec![CartMode::Payment]
}

/// Inclusive bounds on a line item's quantity (0 always means "remove").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityBounds {
    pub min: u64,
    pub max: u64,
}

impl Default for QuantityBounds {
    fn default() -> Self {
        Self { min: 1, max: 99 }
    }
}

impl QuantityBounds {
    pub fn contains(self, quantity: u64) -> bool {
        (self.min..=self.max).contains(&quantity)
    }
}

/// What the catalog says about one price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogItem<'a> {
    Plan(PlanPrice<'a>),
    Product(&'a Product),
}

impl<'a> CatalogItem<'a> {
    pub fn bounds(self) -> QuantityBounds {
        match self {
            Self::Plan(p) => p.plan.quantity,
            Self::Product(p) => p.quantity,
        }
    }

    /// The inventory this item draws on (plans are never stock-tracked).
    pub fn sku(self) -> Option<&'a Sku> {
        match self {
            Self::Plan(_) => None,
            Self::Product(p) => p.sku.as_ref(),
        }
    }
}

impl Plan {
    pub fn price(&self, interval: Interval) -> &PriceId {
        match interval {
            Interval::Monthly => &self.monthly,
            Interval::Yearly => &self.yearly,
        }
    }
}

/// Where a price sits in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanPrice<'a> {
    pub plan: &'a Plan,
    pub interval: Interval,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    /// Lets editors point at the JSON Schema; ignored here.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    plans: Vec<Plan>,
    #[serde(default)]
    products: Vec<Product>,
    #[serde(default)]
    offers: Vec<Offer>,
    #[serde(default)]
    complimentary: Option<Complimentary>,
    #[serde(default)]
    shipping: Option<Shipping>,
    #[serde(default)]
    tax_rates: Vec<TaxRateRule>,
    #[serde(default)]
    inventory_shards: BTreeMap<Sku, u16>,
}

/// Most stock items one SKU may be split over (`inventory_shards`).
pub const MAX_INVENTORY_SHARDS: u16 = 64;

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

/// Why a catalog file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid JSON for the documented format: {0}")]
    Format(#[from] serde_json::Error),
    #[error("plan id `{0}` appears more than once")]
    DuplicatePlan(String),
    #[error("plan `{0}` must have an id")]
    EmptyPlanId(String),
    #[error("price `{0}` appears more than once in the catalog")]
    DuplicatePrice(PriceId),
    #[error("quantity bounds of `{0}` must satisfy 1 <= min <= max <= 999999")]
    BadBounds(String),
    #[error("offer #{index}: {reason}")]
    BadOffer { index: usize, reason: String },
    #[error("complimentary item: {0}")]
    BadComplimentary(String),
    #[error("shipping: {0}")]
    BadShipping(String),
    #[error("tax rate #{index}: {reason}")]
    BadTaxRate { index: usize, reason: String },
    #[error("inventory_shards of `{sku}`: {reason}")]
    BadInventoryShards { sku: Sku, reason: String },
}

/// The validated catalog with its lookup indexes.
#[derive(Debug, Clone)]
pub struct Catalog {
    plans: Vec<Plan>,
    products: Vec<Product>,
    plan_by_price: HashMap<PriceId, (usize, Interval)>,
    product_by_price: HashMap<PriceId, usize>,
    offers: Vec<Offer>,
    complimentary: Option<Complimentary>,
    shipping: Option<Shipping>,
    tax_rates: Vec<TaxRateRule>,
    /// SKUs whose stock is split over more than one item; every other SKU has one.
    inventory_shards: BTreeMap<Sku, u16>,
    /// Every SKU a product draws on, once each, sorted (derived from `products`).
    stock_skus: Vec<Sku>,
}

impl Catalog {
    pub fn from_json(json: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = serde_json::from_str(json)?;
        Self::new(file.plans, file.products)?
            .with_rules(file.offers, file.complimentary)?
            .with_shipping(file.shipping, file.tax_rates)?
            .with_inventory_shards(file.inventory_shards)
    }

    /// Splits the stock of hot SKUs over several items (1 to [`MAX_INVENTORY_SHARDS`] each);
    /// every SKU must be one a product draws on.
    pub fn with_inventory_shards(
        mut self,
        shards: BTreeMap<Sku, u16>,
    ) -> Result<Self, CatalogError> {
        let tracked = self.stock_skus();
        for (sku, &count) in &shards {
            let bad = |reason: String| CatalogError::BadInventoryShards {
                sku: sku.clone(),
                reason,
            };
            if !(1..=MAX_INVENTORY_SHARDS).contains(&count) {
                return Err(bad(format!(
                    "must be 1 to {MAX_INVENTORY_SHARDS}, not {count}"
                )));
            }
            if tracked.binary_search(sku).is_err() {
                return Err(bad("no product has this SKU".into()));
            }
        }
        self.inventory_shards = shards.into_iter().filter(|&(_, n)| n > 1).collect();
        Ok(self)
    }

    /// How many stock items the SKU's stock is split over (1 unless `inventory_shards` says).
    pub fn inventory_shards(&self, sku: &Sku) -> u16 {
        self.inventory_shards.get(sku).copied().unwrap_or(1)
    }

    /// Adds the shipping tiers and the tax rates by destination, checked as a whole.
    pub fn with_shipping(
        mut self,
        shipping: Option<Shipping>,
        tax_rates: Vec<TaxRateRule>,
    ) -> Result<Self, CatalogError> {
        if let Some(shipping) = &shipping {
            check_shipping(shipping).map_err(CatalogError::BadShipping)?;
        }
        let mut seen = std::collections::HashSet::new();
        for (index, rule) in tax_rates.iter().enumerate() {
            let bad = |reason: String| CatalogError::BadTaxRate { index, reason };
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
        self.shipping = shipping;
        self.tax_rates = tax_rates;
        Ok(self)
    }

    pub fn shipping(&self) -> Option<&Shipping> {
        self.shipping.as_ref()
    }

    /// The tax rate for a destination: its state's rule, else its country's, else none.
    pub fn tax_rate_for(&self, country: &str, state: Option<&str>) -> Option<&str> {
        let rule = |wanted: Option<&str>| {
            self.tax_rates
                .iter()
                .find(|r| r.country == country && r.state.as_deref() == wanted)
        };
        state
            .and_then(|s| rule(Some(s)))
            .or_else(|| rule(None))
            .map(|r| r.tax_rate.as_str())
    }

    /// Adds the cross-sell offers and the complimentary rule, checked against plans and products.
    pub fn with_rules(
        mut self,
        offers: Vec<Offer>,
        complimentary: Option<Complimentary>,
    ) -> Result<Self, CatalogError> {
        let plan_exists = |id: &str| self.plans.iter().any(|p| p.id == id);
        for (index, offer) in offers.iter().enumerate() {
            let bad = |reason: String| CatalogError::BadOffer { index, reason };
            match (&offer.plan, &offer.price) {
                (Some(plan), None) if !plan_exists(plan) => {
                    return Err(bad(format!("plan `{plan}` is not in `plans`")))
                }
                (None, Some(price)) if !self.product_by_price.contains_key(price) => {
                    return Err(bad(format!("price `{price}` is not in `products`")))
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => return Err(bad("give exactly one of `plan` or `price`".into())),
            }
            if let Some(missing) = offer.requires.iter().find(|r| !plan_exists(r)) {
                return Err(bad(format!("requires unknown plan `{missing}`")));
            }
        }
        if let Some(gift) = &complimentary {
            if !self.product_by_price.contains_key(&gift.price) {
                return Err(CatalogError::BadComplimentary(format!(
                    "price `{}` is not in `products`",
                    gift.price
                )));
            }
            if gift.threshold < 1 {
                return Err(CatalogError::BadComplimentary(
                    "threshold must be positive".into(),
                ));
            }
            if offers.iter().any(|o| o.price.as_ref() == Some(&gift.price)) {
                return Err(CatalogError::BadComplimentary(
                    "a gift cannot also be an offer".into(),
                ));
            }
        }
        self.offers = offers;
        self.complimentary = complimentary;
        Ok(self)
    }

    pub fn new(plans: Vec<Plan>, products: Vec<Product>) -> Result<Self, CatalogError> {
        let bounds_ok = |b: QuantityBounds| 1 <= b.min && b.min <= b.max && b.max <= 999_999;
        let mut plan_by_price = HashMap::new();
        let mut plan_ids = std::collections::HashSet::new();
        for (index, plan) in plans.iter().enumerate() {
            if plan.id.trim().is_empty() {
                return Err(CatalogError::EmptyPlanId(plan.monthly.to_string()));
            }
            if !plan_ids.insert(plan.id.as_str()) {
                return Err(CatalogError::DuplicatePlan(plan.id.clone()));
            }
            if !bounds_ok(plan.quantity) {
                return Err(CatalogError::BadBounds(plan.id.clone()));
            }
            for interval in [Interval::Monthly, Interval::Yearly] {
                let price = plan.price(interval).clone();
                if plan_by_price
                    .insert(price.clone(), (index, interval))
                    .is_some()
                {
                    return Err(CatalogError::DuplicatePrice(price));
                }
            }
        }
        let mut product_by_price = HashMap::new();
        for (index, product) in products.iter().enumerate() {
            if product.unit_amount.is_some_and(|a| a < 0) {
                return Err(CatalogError::BadBounds(product.price.to_string()));
            }
            if !bounds_ok(product.quantity) {
                return Err(CatalogError::BadBounds(product.price.to_string()));
            }
            if plan_by_price.contains_key(&product.price)
                || product_by_price
                    .insert(product.price.clone(), index)
                    .is_some()
            {
                return Err(CatalogError::DuplicatePrice(product.price.clone()));
            }
        }
        let stock_skus: std::collections::BTreeSet<Sku> =
            products.iter().filter_map(|p| p.sku.clone()).collect();
        Ok(Self {
            stock_skus: stock_skus.into_iter().collect(),
            plans,
            products,
            plan_by_price,
            product_by_price,
            offers: Vec::new(),
            complimentary: None,
            shipping: None,
            tax_rates: Vec::new(),
            inventory_shards: BTreeMap::new(),
        })
    }

    /// The offer that allows adding `price`, if any.
    pub fn offer_for(&self, price: &PriceId) -> Option<&Offer> {
        let plan = self.plan_price(price).map(|p| p.plan.id.as_str());
        self.offers
            .iter()
            .find(|offer| match (&offer.plan, &offer.price) {
                (Some(id), _) => Some(id.as_str()) == plan,
                (None, Some(p)) => p == price,
                (None, None) => false,
            })
    }

    pub fn complimentary(&self) -> Option<&Complimentary> {
        self.complimentary.as_ref()
    }

    /// The catalog's unit amount of a product price.
    pub fn unit_amount(&self, price: &PriceId) -> Option<i64> {
        let &index = self.product_by_price.get(price)?;
        self.products.get(index)?.unit_amount
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// Every SKU whose stock is tracked, once each, sorted: the holds a reservation can have.
    pub fn stock_skus(&self) -> &[Sku] {
        &self.stock_skus
    }

    /// What the catalog says about a price: a plan price, a product, or nothing (not for sale).
    pub fn item(&self, price: &PriceId) -> Option<CatalogItem<'_>> {
        if let Some(found) = self.plan_price(price) {
            return Some(CatalogItem::Plan(found));
        }
        let &index = self.product_by_price.get(price)?;
        self.products.get(index).map(CatalogItem::Product)
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan and interval a price belongs to, if it is a plan price.
    pub fn plan_price(&self, price: &PriceId) -> Option<PlanPrice<'_>> {
        let &(index, interval) = self.plan_by_price.get(price)?;
        Some(PlanPrice {
            plan: self.plans.get(index)?,
            interval,
        })
    }
}

/// Every tier well-formed, ids unique, and never more than Stripe's 5 options at once.
fn check_shipping(shipping: &Shipping) -> Result<(), String> {
    if shipping.countries.is_empty() {
        return Err("`countries` must list at least one country".into());
    }
    let mut countries = std::collections::HashSet::new();
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
    let mut ids = std::collections::HashSet::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
        "plans": [
            {"id": "pro", "monthly": "price_pro_m", "yearly": "price_pro_y"},
            {"id": "team", "monthly": "price_team_m", "yearly": "price_team_y"}
        ]
    }"#;

    #[test]
    fn a_price_knows_its_plan_and_interval() {
        let catalog = Catalog::from_json(GOOD).unwrap();
        let yearly = PriceId::parse("price_team_y").unwrap();
        let found = catalog.plan_price(&yearly).unwrap();
        assert_eq!(found.plan.id, "team");
        assert_eq!(found.interval, Interval::Yearly);
        assert_eq!(found.plan.price(Interval::Monthly).as_str(), "price_team_m");
        assert!(catalog
            .plan_price(&PriceId::parse("price_other").unwrap())
            .is_none());
    }

    #[test]
    fn a_price_may_belong_to_only_one_place() {
        let json = r#"{"plans":[{"id":"a","monthly":"price_1","yearly":"price_1"}]}"#;
        assert!(matches!(
            Catalog::from_json(json),
            Err(CatalogError::DuplicatePrice(_))
        ));
        let json = r#"{"plans":[{"id":"a","monthly":"price_1","yearly":"price_2"},
                                {"id":"a","monthly":"price_3","yearly":"price_4"}]}"#;
        assert!(matches!(
            Catalog::from_json(json),
            Err(CatalogError::DuplicatePlan(_))
        ));
    }

    #[test]
    fn products_carry_bounds_and_skus_and_plans_default_to_1_to_99_seats() {
        let json = r#"{"plans":[{"id":"pro","monthly":"price_m","yearly":"price_y"}],
            "products":[{"price":"price_tee","sku":"TEE-M","quantity":{"min":1,"max":3}},
                        {"price":"price_tee_gift","sku":"TEE-M"},
                        {"price":"price_pdf"}]}"#;
        let catalog = Catalog::from_json(json).unwrap();
        assert_eq!(catalog.stock_skus(), [Sku::parse("TEE-M").unwrap()]);
        let tee = catalog.item(&PriceId::parse("price_tee").unwrap()).unwrap();
        assert_eq!(tee.sku().map(Sku::as_str), Some("TEE-M"));
        assert!(tee.bounds().contains(3) && !tee.bounds().contains(4));
        let pdf = catalog.item(&PriceId::parse("price_pdf").unwrap()).unwrap();
        assert_eq!(pdf.sku(), None);
        let plan = catalog.item(&PriceId::parse("price_y").unwrap()).unwrap();
        assert_eq!(plan.bounds(), QuantityBounds { min: 1, max: 99 });
        assert!(catalog
            .item(&PriceId::parse("price_other").unwrap())
            .is_none());
    }

    #[test]
    fn products_are_checked_like_plans() {
        for json in [
            r#"{"plans":[],"products":[{"price":"price_a"},{"price":"price_a"}]}"#,
            r#"{"plans":[{"id":"p","monthly":"price_a","yearly":"price_b"}],"products":[{"price":"price_a"}]}"#,
            r#"{"plans":[],"products":[{"price":"price_a","quantity":{"min":0,"max":3}}]}"#,
            r#"{"plans":[],"products":[{"price":"price_a","quantity":{"min":4,"max":3}}]}"#,
            r#"{"plans":[],"products":[{"price":"price_a","sku":"has space"}]}"#,
        ] {
            assert!(Catalog::from_json(json).is_err(), "{json}");
        }
    }

    #[test]
    fn typos_and_bad_ids_are_refused() {
        for json in [
            r#"{"plan":[]}"#,
            r#"{"plans":[{"id":"a","monthly":"prod_1","yearly":"price_2"}]}"#,
            r#"{"plans":[{"id":"a","monthly":"price_1","yearly":"price_2","weekly":"price_3"}]}"#,
            r#"{"plans":[{"id":" ","monthly":"price_1","yearly":"price_2"}]}"#,
        ] {
            assert!(Catalog::from_json(json).is_err(), "{json}");
        }
    }

    const PLANS: &str = r#""plans":[{"id":"p","monthly":"price_m","yearly":"price_y"}]"#;

    fn with(extra: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_json(&format!("{{{PLANS},{extra}}}"))
    }

    #[test]
    fn shipping_tiers_and_tax_rates_load_and_match_the_most_specific_rule() {
        let catalog = with(
            r#""shipping":{"countries":["US","CA"],"tiers":[
                {"id":"std","display_name":"Standard","amount":500,"below":5000,"min_days":3,"max_days":5},
                {"id":"free","display_name":"Free","amount":0,"from":5000},
                {"id":"express","display_name":"Express","amount":1500,"currency":"usd","min_days":1,"max_days":1}]},
               "tax_rates":[{"country":"US","tax_rate":"txr_us"},
                            {"country":"US","state":"CA","tax_rate":"txr_us_ca"}]"#,
        )
        .unwrap();
        let shipping = catalog.shipping().unwrap();
        assert_eq!(shipping.countries, ["US", "CA"]);
        let ids = |subtotal| {
            shipping
                .tiers
                .iter()
                .filter(|t| t.applies_to(subtotal))
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(4999), ["std", "express"]);
        assert_eq!(ids(5000), ["free", "express"]);
        assert_eq!(catalog.tax_rate_for("US", Some("CA")), Some("txr_us_ca"));
        assert_eq!(catalog.tax_rate_for("US", Some("NY")), Some("txr_us"));
        assert_eq!(catalog.tax_rate_for("US", None), Some("txr_us"));
        assert_eq!(catalog.tax_rate_for("CA", Some("ON")), None);
    }

    #[test]
    fn bad_shipping_and_tax_rates_are_refused_with_a_reason() {
        let tier = |id: &str, extra: &str| {
            format!(r#"{{"id":"{id}","display_name":"Ship","amount":100{extra}}}"#)
        };
        let six: Vec<String> = (0..6).map(|n| tier(&format!("t{n}"), "")).collect();
        let cases = [
            (r#""shipping":{"countries":[],"tiers":[]}"#.to_owned(), "at least one"),
            (r#""shipping":{"countries":["us"]}"#.to_owned(), "uppercase"),
            (r#""shipping":{"countries":["USA"]}"#.to_owned(), "uppercase"),
            (r#""shipping":{"countries":["US","US"]}"#.to_owned(), "more than once"),
            (
                format!(r#""shipping":{{"countries":["US"],"tiers":[{},{}]}}"#, tier("a", ""), tier("a", "")),
                "more than once",
            ),
            (
                format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, tier("a", r#","from":500,"below":500"#)),
                "less than below",
            ),
            (
                format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, tier("a", r#","min_days":5,"max_days":2"#)),
                "min_days",
            ),
            (
                format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, tier("a", r#","currency":"USD""#)),
                "currency",
            ),
            (
                r#""shipping":{"countries":["US"],"tiers":[{"id":"a","display_name":" ","amount":1}]}"#.to_owned(),
                "display_name",
            ),
            (
                r#""shipping":{"countries":["US"],"tiers":[{"id":"a","display_name":"A","amount":-1}]}"#.to_owned(),
                "amount",
            ),
            (
                format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, six.join(",")),
                "at most 5",
            ),
            (r#""tax_rates":[{"country":"US","tax_rate":"tax_1"}]"#.to_owned(), "txr_"),
            (r#""tax_rates":[{"country":"usa","tax_rate":"txr_1"}]"#.to_owned(), "uppercase"),
            (r#""tax_rates":[{"country":"US","state":"","tax_rate":"txr_1"}]"#.to_owned(), "state"),
            (
                r#""tax_rates":[{"country":"US","tax_rate":"txr_1"},{"country":"US","tax_rate":"txr_2"}]"#.to_owned(),
                "same country",
            ),
        ];
        for (extra, why) in cases {
            let error = with(&extra).unwrap_err().to_string();
            assert!(error.contains(why), "{extra}: {error}");
        }
        // Six tiers are fine when their bands never overlap more than five at a time.
        let banded: Vec<String> = (0..6)
            .map(|n| {
                tier(
                    &format!("t{n}"),
                    &format!(r#","from":{},"below":{}"#, n * 100, n * 100 + 100),
                )
            })
            .collect();
        assert!(with(&format!(
            r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#,
            banded.join(",")
        ))
        .is_ok());
    }

    #[test]
    fn a_hot_sku_may_be_split_over_up_to_64_stock_items() {
        let products =
            r#""products":[{"price":"price_tee","sku":"TEE"},{"price":"price_mug","sku":"MUG"}]"#;
        let catalog = with(&format!(r#"{products},"inventory_shards":{{"TEE":16}}"#)).unwrap();
        let (tee, mug) = (Sku::parse("TEE").unwrap(), Sku::parse("MUG").unwrap());
        assert_eq!(catalog.inventory_shards(&tee), 16);
        assert_eq!(catalog.inventory_shards(&mug), 1, "absent = one item");
        assert_eq!(catalog.inventory_shards(&Sku::parse("OTHER").unwrap()), 1);
        assert_eq!(with(products).unwrap().inventory_shards(&tee), 1);
        let edges = with(&format!(
            r#"{products},"inventory_shards":{{"TEE":64,"MUG":1}}"#
        ))
        .unwrap();
        assert_eq!(
            (edges.inventory_shards(&tee), edges.inventory_shards(&mug)),
            (64, 1)
        );
    }

    #[test]
    fn bad_inventory_shards_are_refused_with_a_reason() {
        let products = r#""products":[{"price":"price_tee","sku":"TEE"},{"price":"price_pdf"}]"#;
        for (shards, why) in [
            (r#"{"TEE":0}"#, "1 to 64"),
            (r#"{"TEE":65}"#, "1 to 64"),
            (r#"{"MUG":2}"#, "no product"),
            (r#"{"TEE":-1}"#, "invalid value"),
            (r#"{"TEE":2.5}"#, "invalid type"),
            (r#"{"has space":2}"#, "not a SKU"),
            (r#"[2]"#, "invalid type"),
        ] {
            let error = with(&format!(r#"{products},"inventory_shards":{shards}"#))
                .unwrap_err()
                .to_string();
            assert!(error.contains(why), "{shards}: {error}");
        }
    }

    #[test]
    fn the_shipped_local_catalog_template_is_valid() {
        let json = include_str!("../../../infra/local/catalog.example.json");
        assert!(!Catalog::from_json(json).unwrap().plans().is_empty());
    }

    #[test]
    fn the_full_catalog_example_with_every_field_is_valid() {
        let json = include_str!("../../../infra/local/catalog.full.example.json");
        let catalog = Catalog::from_json(json).unwrap();
        assert_eq!(catalog.stock_skus().len(), 2);
        assert_eq!(catalog.inventory_shards(&Sku::parse("TEE").unwrap()), 4);
    }

    /// The fields the loader accepts for `T`, as its unknown-field error lists them.
    fn accepted_fields<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
        let error = serde_json::from_str::<T>(r#"{"probe-not-a-field": 0}"#)
            .unwrap_err()
            .to_string();
        let expected = error.split_once("expected").map_or("", |(_, rest)| rest);
        let mut fields: Vec<String> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        fields.sort();
        fields
    }

    #[test]
    fn the_json_schema_documents_every_field_the_loader_accepts_and_no_other() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../catalog.schema.json")).unwrap();
        let documented = |pointer: &str| -> Vec<String> {
            let properties = schema
                .pointer(&format!("{pointer}/properties"))
                .and_then(serde_json::Value::as_object)
                .unwrap_or_else(|| panic!("no properties at {pointer}"));
            let mut fields: Vec<String> = properties.keys().cloned().collect();
            fields.sort();
            fields
        };
        let pairs = [
            ("", accepted_fields::<CatalogFile>()),
            ("/properties/plans/items", accepted_fields::<Plan>()),
            ("/properties/products/items", accepted_fields::<Product>()),
            ("/properties/offers/items", accepted_fields::<Offer>()),
            (
                "/properties/complimentary",
                accepted_fields::<Complimentary>(),
            ),
            ("/properties/shipping", accepted_fields::<Shipping>()),
            (
                "/properties/shipping/properties/tiers/items",
                accepted_fields::<ShippingTier>(),
            ),
            (
                "/properties/tax_rates/items",
                accepted_fields::<TaxRateRule>(),
            ),
            ("/$defs/quantity", accepted_fields::<QuantityBounds>()),
        ];
        for (pointer, accepted) in pairs {
            assert!(accepted.len() >= 2, "{pointer}: {accepted:?}");
            assert_eq!(documented(pointer), accepted, "schema at `{pointer}`");
        }
    }
}
