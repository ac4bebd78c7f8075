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
}

/// The validated catalog with its lookup indexes.
#[derive(Debug, Clone)]
pub struct Catalog {
    plans: Vec<Plan>,
    plan_by_price: HashMap<PriceId, (usize, Interval)>,
}

impl Catalog {
    pub fn from_json(json: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = serde_json::from_str(json)?;
        Self::new(file.plans)
    }

    pub fn new(plans: Vec<Plan>) -> Result<Self, CatalogError> {
        let mut plan_by_price = HashMap::new();
        let mut plan_ids = std::collections::HashSet::new();
        for (index, plan) in plans.iter().enumerate() {
            if plan.id.trim().is_empty() {
                return Err(CatalogError::EmptyPlanId(plan.monthly.to_string()));
            }
            if !plan_ids.insert(plan.id.as_str()) {
                return Err(CatalogError::DuplicatePlan(plan.id.clone()));
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
        Ok(Self {
            plans,
            plan_by_price,
        })
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
