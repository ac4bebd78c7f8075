//! Handing events to delivery: the outbox published after each request, redeliveries, and
//! removing an endpoint with the deliveries it still has.

use super::delivery::Job;
use crate::errors::ApiError;
use crate::events;
use crate::store::Store;
use crate::{lock, AppState};
use bytes::Bytes;
use std::sync::Arc;

/// Hands the store's new events to delivery: for each, every endpoint subscribed to its type
/// gets the event rendered in the endpoint's version, unless the endpoint is set to drop it.
/// Call with the store lock held, after anything that may record events.
pub fn publish(state: &Arc<AppState>, store: &mut Store) {
    let range = store.take_unpublished();
    if range.is_empty() {
        return;
    }
    let mut jobs = Vec::new();
    for index in range {
        let kind = store.events[index].kind;
        let targets: Vec<usize> = (0..store.webhook_endpoints.len())
            .filter(|&i| store.webhook_endpoints[i].wants(kind))
            .collect();
        // A dropped event stays pending: to Stripe it is simply undelivered.
        store.events[index].pending = targets
            .iter()
            .map(|&i| store.webhook_endpoints[i].id.clone())
            .collect();
        for i in targets {
            let endpoint = &mut store.webhook_endpoints[i];
            if endpoint.drop_next > 0 {
                endpoint.drop_next -= 1;
                tracing::info!(
                    event_id = %store.events[index].id,
                    endpoint_id = %endpoint.id,
                    "webhook dropped on purpose"
                );
                continue;
            }
            jobs.push(job_for(store, index, i, false));
        }
    }
    lock(&state.dispatcher).enqueue(state, jobs);
}

/// Builds the job sending event `index` to endpoint `endpoint`, rendering (and keeping) the
/// body unless one was already sent there.
fn job_for(store: &mut Store, index: usize, endpoint: usize, redelivery: bool) -> Job {
    let endpoint = store.webhook_endpoints[endpoint].clone();
    let event = &store.events[index];
    let body = match event.bodies.get(&endpoint.id) {
        Some(body) => body.clone(),
        None => Bytes::from(events::render(event, store, &endpoint.api_version).to_string()),
    };
    let event = &mut store.events[index];
    event.bodies.insert(endpoint.id.clone(), body.clone());
    event.pending.insert(endpoint.id.clone());
    Job {
        epoch: store.epoch,
        event_id: event.id.clone(),
        event_type: event.kind.as_str(),
        endpoint_id: endpoint.id,
        url: endpoint.url,
        uri: endpoint.uri,
        secret: endpoint.secret,
        body,
        redelivery,
    }
}

/// `POST /_emulator/events/:id/redeliver`: the same event again (same id and body, new
/// signature timestamp) to one endpoint, or to every endpoint subscribed to its type.
/// Redeliveries ignore `drop`. Returns the endpoint ids.
pub fn redeliver(
    state: &Arc<AppState>,
    store: &mut Store,
    event_id: &str,
    endpoint_id: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let index = store
        .events
        .iter()
        .position(|e| e.id == event_id)
        .ok_or_else(|| ApiError::no_such("event", event_id, "id", 404))?;
    let kind = store.events[index].kind;
    let targets: Vec<usize> = match endpoint_id {
        Some(id) => vec![store
            .webhook_endpoints
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| ApiError::no_such("webhook endpoint", id, "endpoint_id", 404))?],
        None => (0..store.webhook_endpoints.len())
            .filter(|&i| store.webhook_endpoints[i].wants(kind))
            .collect(),
    };
    let jobs: Vec<Job> = targets
        .into_iter()
        .map(|i| job_for(store, index, i, true))
        .collect();
    let ids = jobs.iter().map(|j| j.endpoint_id.clone()).collect();
    lock(&state.dispatcher).enqueue(state, jobs);
    Ok(ids)
}

/// Removes an endpoint and stops its deliveries (queued ones and retries included).
pub fn delete_endpoint(state: &AppState, store: &mut Store, id: &str) -> Result<(), ApiError> {
    let index = store
        .webhook_endpoints
        .iter()
        .position(|e| e.id == id)
        .ok_or_else(|| ApiError::no_such("webhook endpoint", id, "id", 404))?;
    store.webhook_endpoints.remove(index);
    for event in &mut store.events {
        event.pending.remove(id);
    }
    lock(&state.dispatcher).stop(id);
    Ok(())
}
