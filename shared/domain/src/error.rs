//! How the cart rules refuse: every refusal the request parser and the planner can decide, in the
//! domain's terms. What each one becomes on the wire is the runtime's business (`cart-runtime`'s
//! `http` module).

/// Why a session may not be changed by this app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotUpdatableReason {
    NotOpen,
    NotElementsSession,
    LineItemsNotServerOnly,
    NotCreatedHere,
    EmptyCart,
}

impl NotUpdatableReason {
    /// What the shopper is told.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotOpen => "This checkout session is no longer open.",
            Self::NotElementsSession
            | Self::LineItemsNotServerOnly
            | Self::NotCreatedHere
            | Self::EmptyCart => "This checkout session cannot be changed from here.",
        }
    }
}

/// A refusal decided by the cart rules (pure): the planner's and the parser's error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("request body is not a JSON object: {detail}")]
    InvalidJson { detail: String },
    #[error("request body of {size} bytes exceeds the limit of {limit}")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("invalid field `{param}`: {message}")]
    InvalidField { param: String, message: String },
    #[error("session is not updatable: {0:?}")]
    NotUpdatable(NotUpdatableReason),
    #[error("offer not available: {reason}")]
    OfferNotAvailable { reason: String },
    #[error("line item `{param}` is not in the session")]
    LineItemNotFound { param: String },
    #[error("quantity must be within {min}..={max}")]
    QuantityOutOfRange { param: String, min: u64, max: u64 },
    #[error("the last item (or the subscription plan) cannot be removed")]
    CannotRemoveLastItem,
    #[error("the store does not ship to {country}")]
    DestinationNotSupported { country: String },
    /// Beyond what Stripe accepts in one session (see `planner::limits::check_stripe_limits`).
    #[error("the cart would hold {count} {kind} line items; Stripe allows {limit}")]
    CartTooLarge {
        kind: &'static str,
        count: usize,
        limit: usize,
    },
}

impl Rejection {
    pub fn invalid_field(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidField {
            param: param.into(),
            message: message.into(),
        }
    }
}
