//! Shipping rates: their JSON (the stored form is [`crate::model::ShippingRate`]; sessions create
//! them from `shipping_options[N][shipping_rate_data]`).

use crate::model::ShippingRate;
use serde_json::{json, Value};

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
