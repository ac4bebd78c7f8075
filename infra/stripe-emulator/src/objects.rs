//! Products, prices and shipping rates: their stored form, their parameters and their JSON.

use crate::errors::ApiError;
use crate::form::{invalid_choice, Emptyable, MetadataUpdate, Params};
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `prefix` + `len` random alphanumerics, like Stripe's ids.
pub fn new_id(prefix: &str, len: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(len));
    id
}

pub const ID_LEN: usize = 24;

/// Stripe's ceiling for one `unit_amount` (eight digits of minor units); also keeps every total
/// far from overflowing.
pub const MAX_UNIT_AMOUNT: i64 = 99_999_999;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
    pub updated: i64,
}

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
    fn max_count(self) -> i64 {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRate {
    pub id: String,
    pub active: bool,
    pub created: i64,
    pub display_name: String,
    pub amount: i64,
    pub currency: String,
    pub delivery_estimate: Value,
    pub metadata: BTreeMap<String, String>,
    pub tax_behavior: String,
}

pub fn render_product(product: &Product) -> Value {
    json!({
        "id": product.id,
        "object": "product",
        "active": product.active,
        "created": product.created,
        "default_price": null,
        "description": product.description,
        "images": [],
        "livemode": false,
        "marketing_features": [],
        "metadata": product.metadata,
        "name": product.name,
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": null,
        "tax_code": null,
        "type": "service",
        "unit_label": null,
        "updated": product.updated,
        "url": null,
    })
}

/// `expand_product` renders the product object instead of its id (`expand[]=product`).
pub fn render_price(price: &Price, store: &Store, expand_product: bool) -> Value {
    let product = match store.products.get(&price.product) {
        Some(product) if expand_product => render_product(product),
        _ => json!(price.product),
    };
    let recurring = price.recurring.map(|r| {
        json!({
            "interval": r.interval.as_str(),
            "interval_count": r.interval_count,
            "meter": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        })
    });
    json!({
        "id": price.id,
        "object": "price",
        "active": price.active,
        "billing_scheme": "per_unit",
        "created": price.created,
        "currency": price.currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": price.lookup_key,
        "metadata": price.metadata,
        "nickname": price.nickname,
        "product": product,
        "recurring": recurring,
        "tax_behavior": price.tax_behavior,
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if price.recurring.is_some() { "recurring" } else { "one_time" },
        "unit_amount": price.unit_amount,
        "unit_amount_decimal": price.unit_amount.to_string(),
    })
}

pub fn render_shipping_rate(rate: &ShippingRate) -> Value {
    json!({
        "id": rate.id,
        "object": "shipping_rate",
        "active": rate.active,
        "created": rate.created,
        "delivery_estimate": rate.delivery_estimate,
        "display_name": rate.display_name,
        "fixed_amount": { "amount": rate.amount, "currency": rate.currency },
        "livemode": false,
        "metadata": rate.metadata,
        "tax_behavior": rate.tax_behavior,
        "tax_code": null,
        "type": "fixed_amount",
    })
}

pub fn render_list(data: Vec<Value>, has_more: bool, url: &str) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// Lowercase three-letter ISO code.
pub fn parse_currency(raw: &str, param: &str) -> Result<String, ApiError> {
    let currency = raw.to_ascii_lowercase();
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(currency)
    } else {
        Err(ApiError::invalid(format!("Invalid currency: {raw}. Stripe currently supports these currencies: usd, eur, gbp, ... (three-letter ISO codes).")).with_param(param))
    }
}

pub fn check_range(value: i64, min: i64, max: i64, param: &str) -> Result<i64, ApiError> {
    if value < min {
        Err(ApiError::invalid(format!(
            "This value must be greater than or equal to {min}."
        ))
        .with_param(param))
    } else if value > max {
        Err(
            ApiError::invalid(format!("This value must be less than or equal to {max}."))
                .with_param(param),
        )
    } else {
        Ok(value)
    }
}

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

/// `POST /v1/products`.
pub fn create_product(store: &mut Store, mut p: Params, now: i64) -> Result<Product, ApiError> {
    let name = p.required_string("name")?;
    let id = p.nonempty_string("id")?;
    let active = p.boolean("active")?.unwrap_or(true);
    let description = p.nonempty_string("description")?;
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    let id = match id {
        Some(id) if store.products.contains_key(&id) => {
            return Err(ApiError::invalid("Product already exists.")
                .with_code("resource_already_exists")
                .with_param("id"))
        }
        Some(id) => id,
        None => new_id("prod_", ID_LEN),
    };
    let mut product = Product {
        id,
        name,
        active,
        description,
        metadata: BTreeMap::new(),
        created: now,
        updated: now,
    };
    if let Some(update) = metadata {
        update.apply(&mut product.metadata)?;
    }
    store.products.insert(product.id.clone(), product.clone());
    Ok(product)
}

/// `POST /v1/products/:id`.
pub fn update_product(
    store: &mut Store,
    id: &str,
    mut p: Params,
    now: i64,
) -> Result<Product, ApiError> {
    let name = p.nonempty_string("name")?;
    let active = p.boolean("active")?;
    let description = p.emptyable_string("description")?;
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    let mut product = store
        .products
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::no_such("product", id, "id", 404))?;
    if let Some(name) = name {
        product.name = name;
    }
    if let Some(active) = active {
        product.active = active;
    }
    match description {
        Some(Emptyable::Set(d)) => product.description = Some(d),
        Some(Emptyable::Clear) => product.description = None,
        None => {}
    }
    if let Some(update) = metadata {
        update.apply(&mut product.metadata)?;
    }
    product.updated = now;
    store.products.insert(product.id.clone(), product.clone());
    Ok(product)
}

/// `POST /v1/prices`.
pub fn create_price(store: &mut Store, mut p: Params, now: i64) -> Result<Price, ApiError> {
    let data = PriceData::take(&mut p)?;
    let lookup_key = p.nonempty_string("lookup_key")?;
    let transfer = p.boolean("transfer_lookup_key")?.unwrap_or(false);
    let nickname = p.nonempty_string("nickname")?;
    let active = p.boolean("active")?.unwrap_or(true);
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    let (mut price, product) = data.build(store, now, true, "product")?;
    price.active = active;
    price.nickname = nickname;
    if let Some(update) = metadata {
        update.apply(&mut price.metadata)?;
    }
    if let Some(key) = &lookup_key {
        claim_lookup_key(store, key, transfer, None)?;
    }
    price.lookup_key = lookup_key;
    price.seq = store.next_seq();
    if let Some(product) = product {
        store.products.insert(product.id.clone(), product);
    }
    store.prices.insert(price.id.clone(), price.clone());
    Ok(price)
}

/// `POST /v1/prices/:id` (the mutable fields only; amounts are immutable in Stripe).
pub fn update_price(store: &mut Store, id: &str, mut p: Params) -> Result<Price, ApiError> {
    let active = p.boolean("active")?;
    let nickname = p.emptyable_string("nickname")?;
    let lookup_key = p.emptyable_string("lookup_key")?;
    let transfer = p.boolean("transfer_lookup_key")?.unwrap_or(false);
    let metadata = p.metadata("metadata")?;
    p.finish()?;
    let mut price = store
        .prices
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::no_such("price", id, "id", 404))?;
    if let Some(active) = active {
        price.active = active;
    }
    match nickname {
        Some(Emptyable::Set(n)) => price.nickname = Some(n),
        Some(Emptyable::Clear) => price.nickname = None,
        None => {}
    }
    if let Some(update) = metadata {
        update.apply(&mut price.metadata)?;
    }
    match lookup_key {
        Some(Emptyable::Set(key)) => {
            claim_lookup_key(store, &key, transfer, Some(id))?;
            price.lookup_key = Some(key);
        }
        Some(Emptyable::Clear) => price.lookup_key = None,
        None => {}
    }
    store.prices.insert(price.id.clone(), price.clone());
    Ok(price)
}

/// Lookup keys are unique per account unless moved with `transfer_lookup_key=true`.
fn claim_lookup_key(
    store: &mut Store,
    key: &str,
    transfer: bool,
    claimant: Option<&str>,
) -> Result<(), ApiError> {
    let holder = store
        .prices
        .values()
        .find(|p| p.lookup_key.as_deref() == Some(key) && Some(p.id.as_str()) != claimant)
        .map(|p| p.id.clone());
    match holder {
        None => Ok(()),
        Some(holder) if transfer => {
            if let Some(price) = store.prices.get_mut(&holder) {
                price.lookup_key = None;
            }
            Ok(())
        }
        Some(holder) => Err(ApiError::invalid(format!(
            "A price (`{holder}`) already uses that lookup key."
        ))
        .with_param("lookup_key")),
    }
}

/// `GET /v1/prices`: newest first, filtered by `active`, `product`, `currency`, `type`,
/// `lookup_keys[]`; paginated by `limit`/`starting_after`/`ending_before`.
pub fn list_prices(store: &Store, mut p: Params) -> Result<Value, ApiError> {
    let active = p.boolean("active")?;
    let product = p.nonempty_string("product")?;
    let currency = p.nonempty_string("currency")?;
    let kind = p.choice("type", &["one_time", "recurring"])?;
    let lookup_keys = p.string_list("lookup_keys")?;
    let page = Page::take(&mut p)?;
    let expand = crate::expand::Expand::take(&mut p, &["data.product"])?;
    p.finish()?;
    let mut prices: Vec<&Price> = store
        .prices
        .values()
        .filter(|price| active.is_none_or(|a| price.active == a))
        .filter(|price| product.as_ref().is_none_or(|id| &price.product == id))
        .filter(|price| currency.as_ref().is_none_or(|c| &price.currency == c))
        .filter(|price| {
            kind.as_deref()
                .is_none_or(|k| (k == "recurring") == price.recurring.is_some())
        })
        .filter(|price| {
            lookup_keys.as_ref().is_none_or(|keys| {
                price
                    .lookup_key
                    .as_ref()
                    .is_some_and(|key| keys.contains(key))
            })
        })
        .collect();
    prices.sort_by_key(|price| std::cmp::Reverse(price.seq));
    let ids: Vec<&str> = prices.iter().map(|p| p.id.as_str()).collect();
    let (range, has_more) = page.slice(&ids, "price")?;
    let data = prices[range]
        .iter()
        .map(|price| render_price(price, store, expand.has("data.product")))
        .collect();
    Ok(render_list(data, has_more, "/v1/prices"))
}

/// Cursor pagination over an ordered list of ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

impl Page {
    pub fn take(p: &mut Params) -> Result<Self, ApiError> {
        let limit_path = p.path("limit");
        let limit = p.integer("limit")?.unwrap_or(10);
        let limit = check_range(limit, 1, 100, &limit_path)?;
        let starting_after = p.nonempty_string("starting_after")?;
        let ending_before = p.nonempty_string("ending_before")?;
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::exclusive(
                "starting_after",
                "ending_before",
                "starting_after",
            ));
        }
        Ok(Self {
            limit: usize::try_from(limit).unwrap_or(10),
            starting_after,
            ending_before,
        })
    }

    /// The index range to return and `has_more`. An unknown cursor is `resource_missing`.
    pub fn slice(
        &self,
        ids: &[&str],
        object: &str,
    ) -> Result<(std::ops::Range<usize>, bool), ApiError> {
        let position = |cursor: &str, param: &str| {
            ids.iter()
                .position(|id| *id == cursor)
                .ok_or_else(|| ApiError::no_such(object, cursor, param, 400))
        };
        if let Some(cursor) = &self.starting_after {
            let start = position(cursor, "starting_after")? + 1;
            let end = (start + self.limit).min(ids.len());
            Ok((start..end, end < ids.len()))
        } else if let Some(cursor) = &self.ending_before {
            let end = position(cursor, "ending_before")?;
            let start = end.saturating_sub(self.limit);
            Ok((start..end, start > 0))
        } else {
            let end = self.limit.min(ids.len());
            Ok((0..end, end < ids.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("li_", ID_LEN);
        assert!(id.starts_with("li_"));
        assert_eq!(id.len(), 3 + ID_LEN);
        assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn page_slices() {
        let ids = ["a", "b", "c", "d", "e"];
        let page = |limit, after: Option<&str>, before: Option<&str>| Page {
            limit,
            starting_after: after.map(str::to_owned),
            ending_before: before.map(str::to_owned),
        };
        assert_eq!(
            page(2, None, None).slice(&ids, "x").expect("ok"),
            (0..2, true)
        );
        assert_eq!(
            page(2, Some("b"), None).slice(&ids, "x").expect("ok"),
            (2..4, true)
        );
        assert_eq!(
            page(2, Some("d"), None).slice(&ids, "x").expect("ok"),
            (4..5, false)
        );
        assert_eq!(
            page(2, None, Some("d")).slice(&ids, "x").expect("ok"),
            (1..3, true)
        );
        assert_eq!(
            page(5, None, Some("b")).slice(&ids, "x").expect("ok"),
            (0..1, false)
        );
        assert!(page(2, Some("zz"), None).slice(&ids, "x").is_err());
    }
}
