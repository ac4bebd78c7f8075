//! Expiry: on access once `expires_at` has passed, by the background sweep, and on request
//! (`POST /v1/checkout/sessions/:id/expire`).

use super::render::{render_by_id, SESSION_EXPANSIONS};
use crate::dialect::Dialect;
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::form::Params;
use crate::model::{EventType, Session, Status};
use crate::store::Store;
use serde_json::Value;

/// Looks a session up, expiring it first if its `expires_at` has passed (Stripe does this
/// asynchronously; doing it on access is indistinguishable for a client).
pub fn get_mut<'a>(store: &'a mut Store, id: &str, now: i64) -> Result<&'a mut Session, ApiError> {
    let expired_now = match store.sessions.get_mut(id) {
        None => return Err(ApiError::no_such("checkout.session", id, "id", 404)),
        Some(session) if session.status == Status::Open && now >= session.expires_at => {
            session.status = Status::Expired;
            true
        }
        Some(_) => false,
    };
    if expired_now {
        store.record_event(EventType::CheckoutSessionExpired, id, now, false);
    }
    store
        .sessions
        .get_mut(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "id", 404))
}

/// Expires every open session whose `expires_at` has passed, oldest deadline first, so the
/// `checkout.session.expired` webhook goes out on time even if nobody reads the session.
/// Returns how many expired.
pub fn expire_due(store: &mut Store, now: i64) -> usize {
    let mut due: Vec<(i64, String)> = store
        .sessions
        .values()
        .filter(|s| s.status == Status::Open && now >= s.expires_at)
        .map(|s| (s.expires_at, s.id.clone()))
        .collect();
    due.sort();
    for (_, id) in &due {
        // Cannot fail: the id was just read from the store.
        let _ = get_mut(store, id, now);
    }
    due.len()
}

/// `POST /v1/checkout/sessions/:id/expire`.
pub fn expire(
    store: &mut Store,
    id: &str,
    mut p: Params,
    dialect: Dialect,
    now: i64,
) -> Result<Value, ApiError> {
    let expand = Expand::take(&mut p, SESSION_EXPANSIONS)?;
    p.finish()?;
    let session = get_mut(store, id, now)?;
    if session.status != Status::Open {
        return Err(ApiError::invalid(format!(
            "Only Checkout Sessions with a status of `open` can be expired. This session's status is `{}`.",
            session.status.as_str()
        )));
    }
    session.status = Status::Expired;
    store.record_event(EventType::CheckoutSessionExpired, id, now, true);
    render_by_id(store, id, dialect, &expand)
}
