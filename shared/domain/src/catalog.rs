//! The catalog: what this store sells and which changes it allows. Loaded once at cold start from a
//! documented JSON file (format: `shared/domain/catalog.schema.json`) and validated as a whole, so
//! a bad file stops the function at start-up instead of failing a shopper's request.
//!
//! Plans, products, offers, the gift and stock shards live here; where the store ships and the tax
//! rate of each destination in [`shipping`].

mod shipping;

pub use shipping::{is_country_code, Shipping, ShippingTier, TaxRateRule, MAX_SHIPPING_OPTIONS};

use crate::ids::PriceId;
use crate::terms::{Interval, Sku};
use serde::Deserialize;
use shipping::{check_shipping, check_tax_rates, tax_rate_for};
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

    /// Splits the stock of hot SKUs over several items (1 to `MAX_INVENTORY_SHARDS` each);
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
        check_tax_rates(&tax_rates)
            .map_err(|(index, reason)| CatalogError::BadTaxRate { index, reason })?;
        self.shipping = shipping;
        self.tax_rates = tax_rates;
        Ok(self)
    }

    pub fn shipping(&self) -> Option<&Shipping> {
        self.shipping.as_ref()
    }

    /// The tax rate for a destination: its state's rule, else its country's, else none.
    pub fn tax_rate_for(&self, country: &str, state: Option<&str>) -> Option<&str> {
        tax_rate_for(&self.tax_rates, country, state)
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

#[cfg(test)]
mod tests;
