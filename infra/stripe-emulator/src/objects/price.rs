//! Prices: their JSON (the stored form is [`crate::model::Price`]).

use super::product::render_product;
use crate::model::Price;
use crate::store::Store;
use serde_json::{json, Value};

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
