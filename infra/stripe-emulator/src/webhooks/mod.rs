//! Webhook endpoints and the delivery of events to them, signed as Stripe signs them.
//!
//! Endpoints, the delivery log and per-endpoint drop counters live in the
//! [`Store`](crate::store::Store) (one lock, cleared by reset); the workers that POST live in the
//! [`Dispatcher`]. Lock order is always store, then dispatcher.

mod delivery;
mod publish;
mod signature;

pub use crate::model::{DeliveryAttempt, EndpointSpec, WebhookEndpoint, ALL_EVENTS};
pub use delivery::{DeliveryConfig, Dispatcher, Job};
pub use publish::{delete_endpoint, publish, redeliver};
pub use signature::{sign, signature_header};
