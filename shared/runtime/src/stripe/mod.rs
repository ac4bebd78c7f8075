//! The Stripe gateway: the two calls every cart change needs, behind a small trait so handlers can be
//! tested in-process, and one implementation over async-stripe's typed requests.

mod client;
mod version;
mod wire;

pub use client::HttpStripe;
pub use version::{ApiVersion, DEFAULT_API_VERSION};

use cart_validation::{CheckoutSessionId, PlannedLineItem, SessionSnapshot};
use std::future::Future;

/// What can go wrong talking to Stripe.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe has no such checkout session")]
    NotFound,
    /// Stripe answered with a client error that retrying will not fix.
    #[error("Stripe refused the request: HTTP {status} {error_type} code={code:?} param={param:?}: {message}")]
    Refused {
        status: u16,
        error_type: String,
        code: Option<String>,
        param: Option<String>,
        message: String,
    },
    /// 5xx, 429, timeouts and connection failures, after the bounded retries.
    #[error("Stripe unavailable after {attempts} attempt(s): {cause}")]
    Unavailable { attempts: u32, cause: String },
    /// A 2xx whose body does not have the fields the planner needs.
    #[error("unexpected Stripe response: {0}")]
    Malformed(String),
}

/// The Stripe operations the pipeline performs.
pub trait StripeGateway: Send + Sync {
    /// The session with EVERY line item (paging past Stripe's first ten when needed).
    fn retrieve_session(
        &self,
        id: &CheckoutSessionId,
    ) -> impl Future<Output = Result<SessionSnapshot, StripeError>> + Send;

    /// Replaces the session's line items with `line_items` (the entire array) and returns the
    /// updated session. `idempotency_key` makes a retried update converge instead of applying twice.
    fn update_line_items(
        &self,
        id: &CheckoutSessionId,
        line_items: &[PlannedLineItem],
        idempotency_key: &str,
    ) -> impl Future<Output = Result<SessionSnapshot, StripeError>> + Send;
}
