//! The price parameters `POST /v1/prices` and a session's `line_items[N][price_data]` share, and
//! the price (and inline product) they build.

use super::fields::{check_range, new_id, parse_currency, ID_LEN, MAX_UNIT_AMOUNT};
use crate::errors::ApiError;
use crate::form::{invalid_choice, MetadataUpdate, Params};
use crate::model::{Interval, Price, Product, Recurring};
use crate::store::Store;
use std::collections::BTreeMap;

/// Where a price's product comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductRef {
    Id(String),
    Data {
        name: String,
        description: Option<String>,
        metadata: Option<MetadataUpdate>,
    },
}

/// The price fields shared by `POST /v1/prices` and `line_items[N][price_data]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceData {
    pub currency: String,
    pub unit_amount: i64,
    pub product: ProductRef,
    pub recurring: Option<Recurring>,
    pub tax_behavior: Option<String>,
}

const TAX_BEHAVIORS: [&str; 3] = ["exclusive", "inclusive", "unspecified"];

impl PriceData {
    /// Reads the shared fields from `p` (the rest is left for the caller / `finish`).
    pub fn take(p: &mut Params) -> Result<Self, ApiError> {
        let currency_raw = p.required_string("currency")?;
        let currency = parse_currency(&currency_raw, &p.path("currency"))?;
        let unit_amount = match (p.integer("unit_amount")?, p.has("unit_amount_decimal")) {
            (Some(_), true) => {
                return Err(ApiError::exclusive(
                    "unit_amount",
                    "unit_amount_decimal",
                    p.path("unit_amount"),
                ))
            }
            (Some(amount), false) => amount,
            (None, true) => {
                // Only whole minor units are modelled; fractional amounts are refused plainly.
                let path = p.path("unit_amount_decimal");
                let raw = p.required_string("unit_amount_decimal")?;
                raw.parse::<i64>().map_err(|_| {
                    ApiError::invalid(format!(
                        "The emulator only supports whole-number unit_amount_decimal values, got {raw}."
                    ))
                    .with_param(path)
                })?
            }
            (None, false) => return Err(ApiError::missing(p.path("unit_amount"))),
        };
        check_range(unit_amount, 0, MAX_UNIT_AMOUNT, &p.path("unit_amount"))?;
        let product = match (p.nonempty_string("product")?, p.object("product_data")?) {
            (Some(_), Some(_)) => {
                return Err(ApiError::exclusive(
                    "product",
                    "product_data",
                    p.path("product"),
                ))
            }
            (Some(id), None) => ProductRef::Id(id),
            (None, Some(mut data)) => {
                let name = data.required_string("name")?;
                let description = data.nonempty_string("description")?;
                let metadata = data.metadata("metadata")?;
                data.finish()?;
                ProductRef::Data {
                    name,
                    description,
                    metadata,
                }
            }
            (None, None) => return Err(ApiError::missing(p.path("product"))),
        };
        let recurring = match p.object("recurring")? {
            None => None,
            Some(mut r) => {
                let interval_path = r.path("interval");
                let interval_raw = r.required_string("interval")?;
                let interval = Interval::parse(&interval_raw)
                    .ok_or_else(|| invalid_choice(&interval_path, &Interval::NAMES))?;
                let count_path = r.path("interval_count");
                let interval_count = r.integer("interval_count")?.unwrap_or(1);
                if interval_count < 1 {
                    check_range(interval_count, 1, i64::MAX, &count_path)?;
                }
                if interval_count > interval.max_count() {
                    return Err(ApiError::invalid(format!(
                        "The maximum billing period is one year: {interval_count} {}s is too long.",
                        interval.as_str()
                    ))
                    .with_param(count_path));
                }
                r.finish()?;
                Some(Recurring {
                    interval,
                    interval_count,
                })
            }
        };
        let tax_behavior = p.choice("tax_behavior", &TAX_BEHAVIORS)?;
        Ok(Self {
            currency,
            unit_amount,
            product,
            recurring,
            tax_behavior,
        })
    }

    /// Builds the price (and inline product) without storing anything, so a rejected request
    /// leaves no trace. `param` names the field that referenced the product.
    pub fn build(
        &self,
        store: &Store,
        now: i64,
        active: bool,
        param: &str,
    ) -> Result<(Price, Option<Product>), ApiError> {
        let (product_id, new_product) = match &self.product {
            ProductRef::Id(id) => {
                if !store.products.contains_key(id) {
                    return Err(ApiError::no_such("product", id, param, 400));
                }
                (id.clone(), None)
            }
            ProductRef::Data {
                name,
                description,
                metadata,
            } => {
                let mut product = Product {
                    id: new_id("prod_", ID_LEN),
                    name: name.clone(),
                    active,
                    description: description.clone(),
                    metadata: BTreeMap::new(),
                    created: now,
                    updated: now,
                };
                if let Some(update) = metadata {
                    update.apply(&mut product.metadata)?;
                }
                (product.id.clone(), Some(product))
            }
        };
        let price = Price {
            id: new_id("price_", ID_LEN),
            seq: 0,
            active,
            created: now,
            currency: self.currency.clone(),
            unit_amount: self.unit_amount,
            product: product_id,
            recurring: self.recurring,
            lookup_key: None,
            nickname: None,
            metadata: BTreeMap::new(),
            tax_behavior: self
                .tax_behavior
                .clone()
                .unwrap_or_else(|| "unspecified".to_owned()),
        };
        Ok((price, new_product))
    }
}
