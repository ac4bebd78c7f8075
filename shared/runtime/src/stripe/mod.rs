//! The Stripe gateway: the two calls every cart change needs, behind a small trait so handlers can be
//! tested in-process, and one implementation over async-stripe's typed requests.

mod client;
mod version;
mod wire;

pub use client::HttpStripe;
pub use version::{ApiVersion, DEFAULT_API_VERSION};

use cart_validation::{CartPlan, CheckoutSessionId, SessionSnapshot};
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

impl StripeError {
    /// Whether a write that failed this way may still be applied: after a timeout, a 5xx or a
    /// 429 no answer says what Stripe did, and it may still be working on the request.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// A Checkout Session to create, in the configured API dialect.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub mode: cart_validation::SessionMode,
    pub line_items: &'a [(cart_validation::PriceId, u64)],
    pub reservation: &'a str,
    pub return_url: &'a str,
}

/// A created session: what the browser needs to mount Elements, and the snapshot.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    pub session: SessionSnapshot,
    pub client_secret: Option<String>,
}

/// The Stripe operations the pipeline performs.
pub trait StripeGateway: Send + Sync {
    /// The session with EVERY line item (paging past Stripe's first ten when needed).
    fn retrieve_session(
        &self,
        id: &CheckoutSessionId,
    ) -> impl Future<Output = Result<SessionSnapshot, StripeError>> + Send;

    /// Replaces the session's line items with the plan's (the entire array, each with the plan's
    /// tax rates when it has them), sets its shipping details and options when the plan says so,
    /// and returns the updated session. `idempotency_key` makes a retried update converge instead
    /// of applying twice.
    fn update_line_items(
        &self,
        id: &CheckoutSessionId,
        plan: &CartPlan,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<SessionSnapshot, StripeError>> + Send;

    /// Creates an Elements session (`ui_mode` and permissions per the configured version) whose
    /// metadata names `reservation`.
    fn create_session(
        &self,
        session: &NewSession<'_>,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<CreatedSession, StripeError>> + Send;
}
