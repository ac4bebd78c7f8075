//! Tax rates (`/v1/tax_rates`) and the tax they put on a line item.
//!
//! Percentages are kept as integers in ten-thousandths of a percent (`8.25` → `82_500`) so
//! amounts are computed exactly, in `i128`, and rounded once per line item and rate.

use crate::errors::ApiError;
use crate::form::{Emptyable, Params};
pub use crate::model::TaxRate;
use crate::objects::{new_id, render_list, Page, ID_LEN};
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Decimal places accepted in `percentage`.
const PERCENT_DECIMALS: u32 = 4;
/// 1 % in the stored unit.
const ONE_PERCENT: i64 = 10_i64.pow(PERCENT_DECIMALS);
/// 100 % in the stored unit.
const HUNDRED_PERCENT: i64 = 100 * ONE_PERCENT;
pub const MAX_TAX_RATES_PER_ITEM: usize = 5;

const TAX_TYPES: [&str; 14] = [
    "amusement_tax",
    "communications_tax",
    "gst",
    "hst",
    "igst",
    "jct",
    "lease_tax",
    "pst",
    "qst",
    "retail_delivery_fee",
    "rst",
    "sales_tax",
    "service_tax",
    "vat",
];

/// A percentage as JSON: whole numbers as integers (`19`), others as decimals (`8.25`).
fn percentage_json(value: i64) -> Value {
    if value % ONE_PERCENT == 0 {
        json!(value / ONE_PERCENT)
    } else {
        // Exact enough: at most 7 significant digits.
        json!(value as f64 / ONE_PERCENT as f64)
    }
}

pub fn render_tax_rate(rate: &TaxRate) -> Value {
    json!({
        "id": rate.id,
        "object": "tax_rate",
        "active": rate.active,
        "country": rate.country,
        "created": rate.created,
        "description": rate.description,
        "display_name": rate.display_name,
        // Manual rates apply in full, so the effective rate is the rate itself.
        "effective_percentage": percentage_json(rate.percentage),
        "flat_amount": null,
        "inclusive": rate.inclusive,
        "jurisdiction": rate.jurisdiction,
        "jurisdiction_level": null,
        "livemode": false,
        "metadata": rate.metadata,
        "percentage": percentage_json(rate.percentage),
        "rate_type": null,
        "state": rate.state,
        "tax_type": rate.tax_type,
    })
}

/// `"8.25"` → `82_500`. Only plain decimals from 0 to 100 with up to four places.
pub fn parse_percentage(raw: &str, param: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::invalid(format!(
            "Invalid percentage: {raw}. Use a decimal number from 0 to 100 with at most {PERCENT_DECIMALS} decimal places."
        ))
        .with_param(param)
    };
    let trimmed = raw.trim();
    let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || !digits(whole)
        || !digits(fraction)
        || fraction.len() > PERCENT_DECIMALS as usize
        || trimmed.ends_with('.')
    {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let mut fraction_value: i64 = 0;
    for (i, b) in fraction.bytes().enumerate() {
        let place = 10_i64.pow(PERCENT_DECIMALS - 1 - u32::try_from(i).unwrap_or(0));
        fraction_value += i64::from(b - b'0') * place;
    }
    let value = whole * ONE_PERCENT + fraction_value;
    if value > HUNDRED_PERCENT {
        return Err(invalid());
    }
    Ok(value)
}

/// Two-letter ISO country code, stored upper case.
fn parse_country(raw: String, param: &str) -> Result<String, ApiError> {
    if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(ApiError::invalid(format!(
            "Country '{raw}' is unknown. Try using a 2-character alphanumeric country code instead, such as 'US', 'EG', or 'GB'."
        ))
        .with_param(param))
    }
}

/// `POST /v1/tax_rates`.
pub fn create(store: &mut Store, mut p: Params, now: i64) -> Result<TaxRate, ApiError> {
    let display_name = p.required_string("display_name")?;
    let percentage_raw = p.required_string("percentage")?;
    let percentage = parse_percentage(&percentage_raw, "percentage")?;
    let inclusive = p
        .boolean("inclusive")?
        .ok_or_else(|| ApiError::missing("inclusive"))?;
    let active = p.boolean("active")?.unwrap_or(true);
    let country = p
        .nonempty_string("country")?
        .map(|c| parse_country(c, "country"))
        .transpose()?;
    let state = p.nonempty_string("state")?;
    let jurisdiction = p.nonempty_string("jurisdiction")?;
    let description = p.nonempty_string("description")?;
    let tax_type = p.choice("tax_type", &TAX_TYPES)?;
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    let mut rate = TaxRate {
        id: new_id("txr_", ID_LEN),
        seq: 0,
        active,
        created: now,
        display_name,
        description,
        inclusive,
        percentage,
        country,
        state,
        jurisdiction,
        tax_type,
        metadata: BTreeMap::new(),
    };
    if let Some(update) = metadata {
        update.apply(&mut rate.metadata)?;
    }
    rate.seq = store.next_seq();
    store.tax_rates.insert(rate.id.clone(), rate.clone());
    Ok(rate)
}

/// `POST /v1/tax_rates/:id`: percentage and inclusive are immutable, as in Stripe.
pub fn update(store: &mut Store, id: &str, mut p: Params) -> Result<TaxRate, ApiError> {
    let active = p.boolean("active")?;
    let display_name = p.nonempty_string("display_name")?;
    let description = p.emptyable_string("description")?;
    let country = p.emptyable_string("country")?;
    let state = p.emptyable_string("state")?;
    let jurisdiction = p.emptyable_string("jurisdiction")?;
    let tax_type = p.choice("tax_type", &TAX_TYPES)?;
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    let mut rate = store
        .tax_rates
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::no_such("tax_rate", id, "id", 404))?;
    if let Some(active) = active {
        rate.active = active;
    }
    if let Some(name) = display_name {
        rate.display_name = name;
    }
    let apply = |field: &mut Option<String>, value: Option<Emptyable<String>>| match value {
        Some(Emptyable::Set(v)) => *field = Some(v),
        Some(Emptyable::Clear) => *field = None,
        None => {}
    };
    let country = match country {
        Some(Emptyable::Set(c)) => Some(Emptyable::Set(parse_country(c, "country")?)),
        other => other,
    };
    apply(&mut rate.description, description);
    apply(&mut rate.country, country);
    apply(&mut rate.state, state);
    apply(&mut rate.jurisdiction, jurisdiction);
    if tax_type.is_some() {
        rate.tax_type = tax_type;
    }
    if let Some(update) = metadata {
        update.apply(&mut rate.metadata)?;
    }
    store.tax_rates.insert(rate.id.clone(), rate.clone());
    Ok(rate)
}

/// `GET /v1/tax_rates`: newest first, filtered by `active` and `inclusive`.
pub fn list(store: &Store, mut p: Params) -> Result<Value, ApiError> {
    let active = p.boolean("active")?;
    let inclusive = p.boolean("inclusive")?;
    let page = Page::take(&mut p)?;
    p.finish()?;
    let mut rates: Vec<&TaxRate> = store
        .tax_rates
        .values()
        .filter(|r| active.is_none_or(|a| r.active == a))
        .filter(|r| inclusive.is_none_or(|i| r.inclusive == i))
        .collect();
    rates.sort_by_key(|r| std::cmp::Reverse(r.seq));
    let ids: Vec<&str> = rates.iter().map(|r| r.id.as_str()).collect();
    let (range, has_more) = page.slice(&ids, "tax_rate")?;
    let data = rates[range].iter().map(|r| render_tax_rate(r)).collect();
    Ok(render_list(data, has_more, "/v1/tax_rates"))
}

/// `line_items[N][tax_rates]` as sent: `Some(vec![])` (from `tax_rates=`) clears the list.
pub fn take_item_rates(p: &mut Params) -> Result<Option<Vec<(String, String)>>, ApiError> {
    let path = p.path("tax_rates");
    let Some(entries) = p.list("tax_rates")? else {
        return Ok(None);
    };
    if entries.len() > MAX_TAX_RATES_PER_ITEM {
        return Err(ApiError::invalid(format!(
            "A line item can have at most {MAX_TAX_RATES_PER_ITEM} tax rates, but {} were given.",
            entries.len()
        ))
        .with_param(path));
    }
    entries
        .into_iter()
        .map(|(param, node)| match node {
            crate::form::Node::Leaf(id) if !id.is_empty() => Ok((param, id)),
            _ => Err(ApiError::invalid(format!(
                "Invalid string: {param} must be a tax rate id (txr_...)."
            ))
            .with_param(param)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Checks the rates a line item is given: each must exist, be active, and appear once.
pub fn check_item_rates(
    store: &Store,
    rates: &[(String, String)],
) -> Result<Vec<String>, ApiError> {
    let mut ids: Vec<String> = Vec::with_capacity(rates.len());
    for (param, id) in rates {
        let rate = store
            .tax_rates
            .get(id)
            .ok_or_else(|| ApiError::no_such("tax_rate", id, param.clone(), 400))?;
        if !rate.active {
            return Err(ApiError::invalid(format!(
                "The tax rate {id} is inactive. Only active tax rates can be added to a Checkout Session."
            ))
            .with_param(param.clone()));
        }
        if ids.contains(id) {
            return Err(ApiError::invalid(format!(
                "The tax rate {id} is given more than once for this line item."
            ))
            .with_param(param.clone()));
        }
        ids.push(id.clone());
    }
    Ok(ids)
}

/// One rate's share of a line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxLine {
    pub rate: String,
    pub inclusive: bool,
    pub amount: i64,
    pub taxable_amount: i64,
}

/// Tax on one line item, in the order of its rates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemTax {
    pub lines: Vec<TaxLine>,
}

impl ItemTax {
    /// All tax, inclusive and exclusive (`amount_tax`).
    pub fn total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| l.amount)
            .fold(0, i64::saturating_add)
    }

    /// Tax added on top of the subtotal (`amount_total - amount_subtotal`).
    pub fn exclusive(&self) -> i64 {
        self.lines
            .iter()
            .filter(|l| !l.inclusive)
            .map(|l| l.amount)
            .fold(0, i64::saturating_add)
    }
}

/// `n / d` rounded half up, for `n >= 0`, `d > 0`.
fn div_round(n: i128, d: i128) -> i128 {
    (2 * n + d) / (2 * d)
}

/// Inclusive rates are carved out of `subtotal` together: the net amount is
/// `subtotal / (1 + Σ inclusive %)` and each inclusive rate takes its share of the rest.
/// Exclusive rates then apply to that net amount (the whole subtotal when no rate is
/// inclusive). Each amount is rounded half up to a whole minor unit.
pub fn compute(subtotal: i64, rates: &[&TaxRate]) -> ItemTax {
    let subtotal = i128::from(subtotal.max(0));
    let inclusive_sum: i128 = rates
        .iter()
        .filter(|r| r.inclusive)
        .map(|r| i128::from(r.percentage))
        .sum();
    let hundred = i128::from(HUNDRED_PERCENT);
    let inclusive_amount =
        |r: &TaxRate| div_round(subtotal * i128::from(r.percentage), hundred + inclusive_sum);
    let carved: i128 = rates
        .iter()
        .filter(|r| r.inclusive)
        .map(|r| inclusive_amount(r))
        .sum();
    let net = (subtotal - carved).max(0);
    let to_i64 = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
    let lines = rates
        .iter()
        .map(|r| {
            let amount = if r.inclusive {
                inclusive_amount(r)
            } else {
                div_round(net * i128::from(r.percentage), hundred)
            };
            TaxLine {
                rate: r.id.clone(),
                inclusive: r.inclusive,
                amount: to_i64(amount),
                taxable_amount: to_i64(net),
            }
        })
        .collect();
    ItemTax { lines }
}

/// `taxes[]` entries as Checkout renders them (the rate expanded).
pub fn render_tax_lines(lines: &[TaxLine], store: &Store) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            json!({
                "amount": line.amount,
                "rate": store.tax_rates.get(&line.rate).map(render_tax_rate),
                "taxability_reason": null,
                "taxable_amount": line.taxable_amount,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::parse;

    fn rate(id: &str, percentage: &str, inclusive: bool) -> TaxRate {
        TaxRate {
            id: id.to_owned(),
            seq: 0,
            active: true,
            created: 0,
            display_name: "Tax".to_owned(),
            description: None,
            inclusive,
            percentage: parse_percentage(percentage, "percentage").expect("valid"),
            country: None,
            state: None,
            jurisdiction: None,
            tax_type: None,
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn percentages_parse_exactly() {
        assert_eq!(parse_percentage("8.25", "p").expect("ok"), 82_500);
        assert_eq!(parse_percentage("19", "p").expect("ok"), 190_000);
        assert_eq!(parse_percentage("0.0001", "p").expect("ok"), 1);
        assert_eq!(parse_percentage("100", "p").expect("ok"), HUNDRED_PERCENT);
        for bad in [
            "", "-1", "100.01", "1.23456", "abc", "1.", ".5", "1e2", "1000",
        ] {
            assert!(parse_percentage(bad, "p").is_err(), "{bad}");
        }
        assert_eq!(percentage_json(190_000), json!(19));
        assert_eq!(percentage_json(82_500), json!(8.25));
    }

    #[test]
    fn exclusive_tax_is_added_and_rounded_half_up() {
        let vat = rate("txr_a", "8.25", false);
        // 1000 * 8.25% = 82.5 → 83
        let tax = compute(1000, &[&vat]);
        assert_eq!(tax.total(), 83);
        assert_eq!(tax.exclusive(), 83);
        assert_eq!(tax.lines[0].taxable_amount, 1000);
        // 999 * 8.25% = 82.4175 → 82
        assert_eq!(compute(999, &[&vat]).total(), 82);
    }

    #[test]
    fn inclusive_tax_is_carved_out() {
        let vat = rate("txr_b", "20", true);
        let tax = compute(1200, &[&vat]);
        assert_eq!(tax.total(), 200);
        assert_eq!(tax.exclusive(), 0);
        assert_eq!(tax.lines[0].taxable_amount, 1000);
        // 1000 / 1.19 = 840.34 → tax 159.66 → 160, net 840
        let de = rate("txr_c", "19", true);
        let tax = compute(1000, &[&de]);
        assert_eq!(tax.total(), 160);
        assert_eq!(tax.lines[0].taxable_amount, 840);
    }

    #[test]
    fn mixed_rates_apply_exclusive_on_the_net() {
        let inc = rate("txr_i", "25", true);
        let exc = rate("txr_e", "10", false);
        let tax = compute(1250, &[&exc, &inc]);
        assert_eq!(tax.lines[0].amount, 100);
        assert_eq!(tax.lines[1].amount, 250);
        assert_eq!(tax.exclusive(), 100);
        assert_eq!(tax.total(), 350);
        assert!(compute(i64::MAX, &[&exc]).total() > 0, "no overflow");
    }

    #[test]
    fn create_validates() {
        let mut store = Store::default();
        let p = |s: &str| Params::root(parse(&[s.as_bytes()]).expect("parses"));
        let err =
            create(&mut store, p("display_name=VAT&percentage=19"), 0).expect_err("inclusive");
        assert_eq!(err.param.as_deref(), Some("inclusive"));
        let err = create(
            &mut store,
            p("display_name=VAT&percentage=19&inclusive=false&country=DEU"),
            0,
        )
        .expect_err("country");
        assert_eq!(err.param.as_deref(), Some("country"));
        let r = create(
            &mut store,
            p("display_name=VAT&percentage=19&inclusive=true&country=de&metadata[k]=v"),
            0,
        )
        .expect("created");
        let json = render_tax_rate(&r);
        assert_eq!(json["country"], "DE");
        assert_eq!(json["percentage"], 19);
        assert_eq!(json["tax_type"], Value::Null);
        assert_eq!(json["metadata"]["k"], "v");
        let r = update(&mut store, &r.id, p("active=false&country=")).expect("updated");
        assert!(!r.active);
        assert!(r.country.is_none());
    }
}
