//! `/v1/prices`: create, update (the mutable fields) and list.

use super::list::{render_list, Page};
use super::price::render_price;
use super::price_data::PriceData;
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::form::{Emptyable, Params};
use crate::model::Price;
use crate::store::Store;
use serde_json::Value;

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
    let expand = Expand::take(&mut p, &["data.product"])?;
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
