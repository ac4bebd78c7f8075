//! Webhook events, recorded but not delivered yet.
//!
//! State transitions that Stripe announces (`checkout.session.completed` / `.expired`) push a
//! [`PendingEvent`] into the store's outbox, so a later delivery worker (signing with
//! `Stripe-Signature: t=..,v1=..` and POSTing to a configured endpoint) only has to drain it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    CheckoutSessionCompleted,
    CheckoutSessionExpired,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckoutSessionCompleted => "checkout.session.completed",
            Self::CheckoutSessionExpired => "checkout.session.expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub id: String,
    pub kind: EventType,
    pub object_id: String,
    pub created: i64,
}
