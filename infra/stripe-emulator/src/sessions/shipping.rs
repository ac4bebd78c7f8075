//! `shipping_options` and `collected_information[shipping_details]` parameters.

use crate::errors::ApiError;
use crate::form::{invalid_choice, MetadataUpdate, Params};
use crate::model::{Address, Mode, ShippingDetails};
use crate::objects::{check_range, new_id, parse_currency, ShippingRate, ID_LEN, MAX_UNIT_AMOUNT};
use crate::store::Store;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const MAX_SHIPPING_OPTIONS: usize = 5;
const ESTIMATE_UNITS: [&str; 5] = ["business_day", "day", "hour", "month", "week"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateData {
    path: String,
    display_name: String,
    amount: i64,
    currency: String,
    delivery_estimate: Value,
    metadata: Option<MetadataUpdate>,
    tax_behavior: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionSpec {
    /// An existing `shr_` id, with the name of the parameter that gave it.
    Rate(String, String),
    Data(RateData),
}

/// Reads `shipping_options`; `Some(vec![])` (from `shipping_options=`) clears them.
pub fn take_options(p: &mut Params) -> Result<Option<Vec<OptionSpec>>, ApiError> {
    let Some(entries) = p.object_list("shipping_options")? else {
        return Ok(None);
    };
    if entries.len() > MAX_SHIPPING_OPTIONS {
        return Err(ApiError::invalid(format!(
            "You can specify up to {MAX_SHIPPING_OPTIONS} shipping options."
        ))
        .with_param("shipping_options"));
    }
    entries
        .into_iter()
        .map(parse_option)
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn parse_option(mut p: Params) -> Result<OptionSpec, ApiError> {
    let rate_path = p.path("shipping_rate");
    let rate = p.nonempty_string("shipping_rate")?;
    let data = p.object("shipping_rate_data")?;
    let spec = match (rate, data) {
        (Some(_), Some(_)) => {
            return Err(ApiError::exclusive(
                "shipping_rate",
                "shipping_rate_data",
                rate_path,
            ))
        }
        (Some(id), None) => OptionSpec::Rate(id, rate_path),
        (None, Some(data)) => OptionSpec::Data(parse_rate_data(data)?),
        (None, None) => return Err(ApiError::missing(rate_path)),
    };
    p.finish()?;
    Ok(spec)
}

fn parse_rate_data(mut d: Params) -> Result<RateData, ApiError> {
    let path = d.prefix().to_owned();
    let display_name = d.required_string("display_name")?;
    d.choice("type", &["fixed_amount"])?;
    let mut fixed = d
        .object("fixed_amount")?
        .ok_or_else(|| ApiError::missing(d.path("fixed_amount")))?;
    let amount_path = fixed.path("amount");
    let amount = fixed
        .integer("amount")?
        .ok_or_else(|| ApiError::missing(amount_path.clone()))?;
    check_range(amount, 0, MAX_UNIT_AMOUNT, &amount_path)?;
    let currency_path = fixed.path("currency");
    let currency = parse_currency(&fixed.required_string("currency")?, &currency_path)?;
    fixed.finish()?;
    let delivery_estimate = match d.object("delivery_estimate")? {
        None => Value::Null,
        Some(mut e) => {
            let mut out = Map::new();
            for bound in ["maximum", "minimum"] {
                let value = match e.object(bound)? {
                    None => Value::Null,
                    Some(mut b) => {
                        let unit_path = b.path("unit");
                        let unit = b.required_string("unit")?;
                        if !ESTIMATE_UNITS.contains(&unit.as_str()) {
                            return Err(invalid_choice(&unit_path, &ESTIMATE_UNITS));
                        }
                        let value_path = b.path("value");
                        let value = b
                            .integer("value")?
                            .ok_or_else(|| ApiError::missing(value_path.clone()))?;
                        check_range(value, 1, i64::MAX, &value_path)?;
                        b.finish()?;
                        json!({ "unit": unit, "value": value })
                    }
                };
                out.insert(bound.to_owned(), value);
            }
            e.finish()?;
            Value::Object(out)
        }
    };
    let metadata = d.metadata("metadata")?;
    let tax_behavior = d.choice("tax_behavior", &["exclusive", "inclusive", "unspecified"])?;
    d.finish()?;
    Ok(RateData {
        path,
        display_name,
        amount,
        currency,
        delivery_estimate,
        metadata,
        tax_behavior,
    })
}

/// Resolves options against the store without storing: returns the rate ids in order and the
/// rates to create.
pub fn plan_options(
    store: &Store,
    specs: Vec<OptionSpec>,
    mode: Mode,
    currency: Option<&str>,
    now: i64,
) -> Result<(Vec<String>, Vec<ShippingRate>), ApiError> {
    if !specs.is_empty() && mode != Mode::Payment {
        return Err(
            ApiError::invalid("shipping_options can only be used in `payment` mode.")
                .with_param("shipping_options"),
        );
    }
    let mut ids = Vec::with_capacity(specs.len());
    let mut created = Vec::new();
    for spec in specs {
        let (id, rate_currency, path) = match spec {
            OptionSpec::Rate(id, path) => {
                let rate = store
                    .shipping_rates
                    .get(&id)
                    .ok_or_else(|| ApiError::no_such("shipping_rate", &id, path.clone(), 400))?;
                (id, rate.currency.clone(), path)
            }
            OptionSpec::Data(data) => {
                let mut rate = ShippingRate {
                    id: new_id("shr_", ID_LEN),
                    active: true,
                    created: now,
                    display_name: data.display_name,
                    amount: data.amount,
                    currency: data.currency,
                    delivery_estimate: data.delivery_estimate,
                    metadata: BTreeMap::new(),
                    tax_behavior: data
                        .tax_behavior
                        .unwrap_or_else(|| "unspecified".to_owned()),
                };
                if let Some(update) = &data.metadata {
                    update.apply(&mut rate.metadata)?;
                }
                let out = (rate.id.clone(), rate.currency.clone(), data.path);
                created.push(rate);
                out
            }
        };
        if let Some(expected) = currency {
            if rate_currency != expected {
                return Err(ApiError::invalid(format!(
                    "The shipping rate currency `{rate_currency}` does not match the Checkout Session currency `{expected}`."
                ))
                .with_param(path));
            }
        }
        ids.push(id);
    }
    Ok((ids, created))
}

/// Reads `collected_information[shipping_details]`.
pub fn take_collected(p: &mut Params) -> Result<Option<ShippingDetails>, ApiError> {
    let Some(mut info) = p.object("collected_information")? else {
        return Ok(None);
    };
    let details = match info.object("shipping_details")? {
        None => None,
        Some(mut d) => {
            let name = d.required_string("name")?;
            let mut a = d
                .object("address")?
                .ok_or_else(|| ApiError::missing(d.path("address")))?;
            let address = Address {
                line1: Some(a.required_string("line1")?),
                country: Some(a.required_string("country")?),
                city: a.nonempty_string("city")?,
                line2: a.nonempty_string("line2")?,
                postal_code: a.nonempty_string("postal_code")?,
                state: a.nonempty_string("state")?,
            };
            a.finish()?;
            d.finish()?;
            Some(ShippingDetails { name, address })
        }
    };
    info.finish()?;
    Ok(details)
}
