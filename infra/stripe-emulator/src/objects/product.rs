//! Products: their JSON and `POST /v1/products[/:id]` (the stored form is
//! [`crate::model::Product`]).

use super::fields::{new_id, ID_LEN};
use crate::errors::ApiError;
use crate::form::{Emptyable, Params};
use crate::model::Product;
use crate::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;

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
