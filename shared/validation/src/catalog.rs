//! The catalog: what this store sells and which changes it allows. Loaded once at cold start from a
//! documented JSON file (format: `shared/validation/catalog.schema.json`) and validated as a whole, so
//! a bad file stops the function at start-up instead of failing a shopper's request.

use crate::ids::PriceId;
use crate::request::Interval;
use serde::Deserialize;
use std::collections::HashMap;

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
}

impl Catalog {
    pub fn from_json(json: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = serde_json::from_str(json)?;
        Self::new(file.plans, file.products)?.with_rules(file.offers, file.complimentary)
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
        Ok(Self {
            plans,
            products,
            plan_by_price,
            product_by_price,
            offers: Vec::new(),
            complimentary: None,
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
                        {"price":"price_pdf"}]}"#;
        let catalog = Catalog::from_json(json).unwrap();
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

    #[test]
    fn the_shipped_local_catalog_template_is_valid() {
        let json = include_str!("../../../infra/local/catalog.example.json");
        assert!(!Catalog::from_json(json).unwrap().plans().is_empty());
    }
}
