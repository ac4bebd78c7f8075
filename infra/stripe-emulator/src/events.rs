//! Events: the state changes Stripe announces (`checkout.session.completed`, `.expired`,
//! `.async_payment_succeeded`, `.async_payment_failed`).
//!
//! The store keeps every event with a snapshot of its session, for `GET /v1/events` and for
//! webhook delivery; new events wait in the store's outbox until [`crate::webhooks::publish`]
//! hands them to the delivery workers. The snapshot is canonical: each reader (the account's
//! API version for `/v1/events`, the endpoint's version for a webhook) renders it in its own
//! dialect.

use crate::dialect::ApiVersion;
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::form::Params;
use crate::objects::{render_list, Page};
use crate::sessions;
use crate::store::Store;

pub use crate::model::{Event, EventType, RequestRef};
use serde_json::{json, Value};

/// The event object, with `data.object` in `version`'s dialect and line items not expanded.
pub fn render(event: &Event, store: &Store, version: &ApiVersion) -> Value {
    let object = sessions::render(&event.session, store, version.dialect(), &Expand::default());
    let (request_id, idempotency_key) = match &event.request {
        Some(r) => (Some(r.id.as_str()), r.idempotency_key.as_deref()),
        None => (None, None),
    };
    json!({
        "id": event.id,
        "object": "event",
        "api_version": version.raw,
        "created": event.created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": event.pending.len(),
        // Stripe sends the object with null members, not null, for automatic changes.
        "request": { "id": request_id, "idempotency_key": idempotency_key },
        "type": event.kind.as_str(),
    })
}

/// `GET /v1/events/:id`.
pub fn retrieve(store: &Store, id: &str, p: Params) -> Result<Value, ApiError> {
    p.finish()?;
    let event = store
        .events
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| ApiError::no_such("event", id, "id", 404))?;
    Ok(render(event, store, &event.api_version))
}

/// `created` as an exact time or a `{gt, gte, lt, lte}` range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CreatedFilter {
    gt: Option<i64>,
    gte: Option<i64>,
    lt: Option<i64>,
    lte: Option<i64>,
}

impl CreatedFilter {
    fn take(p: &mut Params) -> Result<Option<Self>, ApiError> {
        if !p.is_object("created") {
            return Ok(p.integer("created")?.map(|at| Self {
                gte: Some(at),
                lte: Some(at),
                ..Self::default()
            }));
        }
        let Some(mut range) = p.object("created")? else {
            return Ok(None);
        };
        let filter = Self {
            gt: range.integer("gt")?,
            gte: range.integer("gte")?,
            lt: range.integer("lt")?,
            lte: range.integer("lte")?,
        };
        range.finish()?;
        Ok(Some(filter))
    }

    fn matches(&self, t: i64) -> bool {
        self.gt.is_none_or(|v| t > v)
            && self.gte.is_none_or(|v| t >= v)
            && self.lt.is_none_or(|v| t < v)
            && self.lte.is_none_or(|v| t <= v)
    }
}

/// Stripe's `type` filter: exact, or a trailing `*` wildcard (`checkout.session.*`).
fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

/// `GET /v1/events`: newest first; `type` or `types[]`, `created`, cursor pagination.
pub fn list(store: &Store, mut p: Params) -> Result<Value, ApiError> {
    let kind = p.nonempty_string("type")?;
    let kinds = p.string_list("types")?;
    if kind.is_some() && kinds.is_some() {
        return Err(ApiError::exclusive("type", "types", "type"));
    }
    let created = CreatedFilter::take(&mut p)?;
    let page = Page::take(&mut p)?;
    p.finish()?;
    let mut events: Vec<&Event> = store
        .events
        .iter()
        .filter(|e| {
            kind.as_deref()
                .is_none_or(|k| type_matches(k, e.kind.as_str()))
        })
        .filter(|e| {
            kinds
                .as_ref()
                .is_none_or(|ks| ks.iter().any(|k| k == e.kind.as_str()))
        })
        .filter(|e| created.is_none_or(|c| c.matches(e.created)))
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let (range, has_more) = page.slice(&ids, "event")?;
    let data = events[range]
        .iter()
        .map(|e| render(e, store, &e.api_version))
        .collect();
    Ok(render_list(data, has_more, "/v1/events"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filter_wildcards() {
        assert!(type_matches(
            "checkout.session.*",
            "checkout.session.completed"
        ));
        assert!(type_matches("*", "checkout.session.expired"));
        assert!(!type_matches(
            "checkout.session.completed",
            "checkout.session.expired"
        ));
    }

    #[test]
    fn created_ranges() {
        let f = CreatedFilter {
            gte: Some(10),
            lt: Some(20),
            ..CreatedFilter::default()
        };
        assert!(f.matches(10) && f.matches(19));
        assert!(!f.matches(9) && !f.matches(20));
    }
}
