//! Stripe's events: one delivered to the webhook endpoint, and listing them (`GET /v1/events`, API
//! reference "List all events": `types[]`, `created[gte]`, `limit` up to 100, `starting_after`;
//! events are kept for 30 days).

use super::client::HttpStripe;
use super::gateway::{CheckoutEvent, StripeError};
use super::wire;
use stripe_client_core::{RequestBuilder, StripeMethod};

/// At most this many pages of 100 events per listing: a sweep must end, and the windows it asks
/// about are short.
const MAX_EVENT_PAGES: usize = 10;

impl CheckoutEvent {
    /// An event as Stripe delivers it to a webhook endpoint (any type, its object any object
    /// with an id: what the event means is for the caller to decide).
    pub fn from_json(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<wire::Event>(payload).map(wire::Event::into_checkout_event)
    }
}

#[derive(Debug, serde::Serialize)]
struct ListEvents<'a> {
    types: &'a [&'a str],
    created: Since,
    limit: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    starting_after: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct Since {
    gte: i64,
}

impl HttpStripe {
    pub(super) async fn list_checkout_events(
        &self,
        types: &[&str],
        created_since_s: i64,
    ) -> Result<Vec<CheckoutEvent>, StripeError> {
        let mut found = Vec::new();
        let mut starting_after = None;
        for _ in 0..MAX_EVENT_PAGES {
            let params = ListEvents {
                types,
                created: Since {
                    gte: created_since_s,
                },
                limit: 100,
                starting_after: starting_after.take(),
            };
            let req = RequestBuilder::new(StripeMethod::Get, "/events").query(&params);
            let page: wire::List<wire::Event> =
                serde_json::from_slice(&self.send(req, None).await?)
                    .map_err(|e| StripeError::Malformed(format!("event list: {e}")))?;
            starting_after = page.data.last().map(|e| e.id.clone());
            let more = page.has_more && starting_after.is_some();
            found.extend(page.data.into_iter().map(wire::Event::into_checkout_event));
            if !more {
                return Ok(found);
            }
        }
        tracing::warn!(
            pages = MAX_EVENT_PAGES,
            "more events than one listing reads; the oldest were not looked at"
        );
        Ok(found)
    }
}
