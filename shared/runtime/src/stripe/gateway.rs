//! What the pipeline asks of Stripe, [`StripeGateway`], and the types it speaks: the errors (with
//! where a failed write stands), a session to create, a created session, a checkout event.

use cart_domain::{CartPlan, CheckoutSessionId, SessionSnapshot};
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
    #[error("Stripe unavailable after {attempts} attempt(s) ({state:?}): {cause}")]
    Unavailable {
        attempts: u32,
        cause: String,
        state: WriteState,
    },
    /// A 2xx whose body does not have the fields the planner needs.
    #[error("unexpected Stripe response: {0}")]
    Malformed(String),
}

/// Where a keyed write that Stripe did not accept stands, which decides how it may be retried.
///
/// Stripe saves the status and body of the first request made with an `Idempotency-Key` once its
/// endpoint began executing, failures included: a retry with the same key gets the same 500
/// back, answered with `Stripe-Should-Retry: false` (API reference, "Idempotent requests";
/// stripe-python `_http_client.py` `_should_retry`). Requests refused before the endpoint ran
/// (429, a concurrent request with the same key) save nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteState {
    /// No answer came (timeout, connection lost) for at least one attempt, and no later answer
    /// settled it: Stripe may still apply the write. Only the same key recognises it.
    InFlight,
    /// Stripe answered a failure it keeps under the key (a 5xx, or `Stripe-Should-Retry:
    /// false`): the write is over, and a retry needs a new key to run at all.
    Saved,
    /// Refused before it ran (429, 409 `idempotency_key_in_use`, `Stripe-Should-Retry: true`),
    /// or a read: the same key may run again.
    NotRun,
}

impl StripeError {
    /// Whether a write that failed this way may still be applied later.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Unavailable {
                state: WriteState::InFlight,
                ..
            }
        )
    }

    /// Whether Stripe keeps this failure under the key, so the next attempt needs another key.
    pub fn saved_under_key(&self) -> bool {
        matches!(
            self,
            Self::Unavailable {
                state: WriteState::Saved,
                ..
            }
        )
    }
}

/// A Checkout Session to create, in the configured API dialect.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub mode: cart_domain::SessionMode,
    pub line_items: &'a [(cart_domain::PriceId, u64)],
    pub reservation: &'a str,
    pub return_url: &'a str,
    /// Unix seconds; `None` keeps Stripe's default (24 h after creation).
    pub expires_at: Option<i64>,
}

/// A created session: what the browser needs to mount Elements, and the snapshot.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    pub session: SessionSnapshot,
    pub client_secret: Option<String>,
}

/// A `checkout.session.*` event as Stripe keeps it (30 days): what happened to which session, and
/// the reservation that session carries.
///
/// [`CheckoutEvent::from_json`] reads one a webhook delivers; it is in `events`, beside the
/// listing, since both read Stripe's JSON through `wire`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutEvent {
    pub id: String,
    pub kind: String,
    pub session: String,
    pub reservation: Option<String>,
    pub created: i64,
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

    /// Stripe's `checkout.session.*` events of the given types created at or after
    /// `created_since_s`, newest first (a bounded number of pages). How the sweeper learns what
    /// a lost webhook would have said.
    fn checkout_events(
        &self,
        types: &[&str],
        created_since_s: i64,
    ) -> impl Future<Output = Result<Vec<CheckoutEvent>, StripeError>> + Send;

    /// Creates an Elements session (`ui_mode` and permissions per the configured version) whose
    /// metadata names `reservation`.
    fn create_session(
        &self,
        session: &NewSession<'_>,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<CreatedSession, StripeError>> + Send;
}
