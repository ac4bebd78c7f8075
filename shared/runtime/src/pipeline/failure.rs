//! Every way a request can fail once it reached the pipeline, and the answer each one gets.

use crate::http::{ApiError, ErrorCode};
use crate::inventory::InventoryError;
use crate::stripe::StripeError;
use cart_domain::Rejection;

#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error("method {0} not allowed")]
    Method(String),
    #[error("content type {0:?} is not JSON")]
    MediaType(String),
    #[error("invalid Idempotency-Key header")]
    BadIdempotencyKey,
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("retrieving the session: {0}")]
    Retrieve(StripeError),
    #[error("updating the session: {0}")]
    Update(StripeError),
    #[error("creating the session: {0}")]
    Create(StripeError),
    #[error("{0} is not configured")]
    Unconfigured(&'static str),
    #[error("webhook signature: {0}")]
    Signature(super::signature::SignatureError),
    #[error(transparent)]
    Store(#[from] crate::claims::StoreError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl Failure {
    /// Stripe keeps this failure under the write's key: the next attempt must use another.
    pub(super) fn saved_under_key(&self) -> bool {
        matches!(self, Self::Update(e) | Self::Create(e) if e.saved_under_key())
    }

    pub(super) fn to_api_error(&self) -> ApiError {
        match self {
            Self::Method(_) => ApiError::new(ErrorCode::MethodNotAllowed),
            Self::MediaType(_) => ApiError::new(ErrorCode::UnsupportedMediaType),
            Self::BadIdempotencyKey => ApiError::new(ErrorCode::InvalidRequest)
                .with_message(
                    "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
                )
                .with_param("Idempotency-Key"),
            Self::Rejected(rejection) => ApiError::from(rejection.clone()),
            Self::Unconfigured(_) => ApiError::new(ErrorCode::InternalError),
            Self::Signature(_) => ApiError::new(ErrorCode::InvalidSignature),
            Self::Retrieve(e) | Self::Update(e) | Self::Create(e) => match e {
                StripeError::NotFound => ApiError::new(ErrorCode::SessionNotFound),
                StripeError::Unavailable { .. } => {
                    ApiError::new(ErrorCode::PaymentProviderUnavailable)
                }
                StripeError::Refused { .. } | StripeError::Malformed(_) => {
                    ApiError::new(ErrorCode::InternalError)
                }
            },
            Self::Store(_) => ApiError::new(ErrorCode::InternalError),
            Self::Inventory(InventoryError::OutOfStock { available, .. }) => {
                let mut error = ApiError::new(ErrorCode::OutOfStock);
                error.available = Some(*available);
                error
            }
            // A hold that keeps moving under us: only a concurrent writer outside the lease does that.
            Self::Inventory(InventoryError::HoldMismatch { .. }) => {
                ApiError::new(ErrorCode::SessionBusy).with_retry_after(1)
            }
            // Other carts kept holding the same product at that moment, beyond the retries.
            Self::Inventory(InventoryError::Contended { .. }) => {
                ApiError::new(ErrorCode::StockBusy).with_retry_after(1)
            }
            Self::Inventory(InventoryError::Store(_)) => ApiError::new(ErrorCode::InternalError),
        }
    }
}
