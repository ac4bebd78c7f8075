//! `GET /v1/checkout/sessions/:id` and its line items.

use super::expiry::get_mut;
use super::render::{render_by_id, LINE_ITEM_EXPANSIONS, SESSION_EXPANSIONS};
use crate::dialect::Dialect;
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::form::Params;
use crate::objects::{render_list, Page};
use crate::store::Store;
use serde_json::Value;

/// `GET /v1/checkout/sessions/:id`.
pub fn retrieve(
    store: &mut Store,
    id: &str,
    mut p: Params,
    dialect: Dialect,
    now: i64,
) -> Result<Value, ApiError> {
    let expand = Expand::take(&mut p, SESSION_EXPANSIONS)?;
    p.finish()?;
    get_mut(store, id, now)?;
    render_by_id(store, id, dialect, &expand)
}

/// `GET /v1/checkout/sessions/:id/line_items`.
pub fn list_line_items(
    store: &mut Store,
    id: &str,
    mut p: Params,
    now: i64,
) -> Result<Value, ApiError> {
    let page = Page::take(&mut p)?;
    let expand = Expand::take(&mut p, LINE_ITEM_EXPANSIONS)?;
    p.finish()?;
    get_mut(store, id, now)?;
    let session = store
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "id", 404))?;
    let ids: Vec<&str> = session.line_items.iter().map(|i| i.id.as_str()).collect();
    let (range, has_more) = page.slice(&ids, "line item")?;
    let data = session.line_items[range]
        .iter()
        .map(|item| item.render(store, &expand.under("data")))
        .collect();
    Ok(render_list(
        data,
        has_more,
        &format!("/v1/checkout/sessions/{id}/line_items"),
    ))
}
