//! The error taxonomy: every way a request can fail, each with one HTTP status, one `code` and one
//! message that is safe to show an end user. This is the only place those three are decided.

use cart_domain::Rejection;
use serde::Serialize;

/// The seed's safe message for failures the shopper can do nothing about but retry.
const SOMETHING_WENT_WRONG: &str = "Something went wrong on our end. Please try again.";

/// Every error code the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidRequest,
    InvalidSignature,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    SessionNotFound,
    LineItemNotFound,
    SessionNotUpdatable,
    OutOfStock,
    SessionBusy,
    StockBusy,
    RequestInProgress,
    OfferNotAvailable,
    QuantityOutOfRange,
    CannotRemoveLastItem,
    DestinationNotSupported,
    CartTooLarge,
    IdempotencyKeyReused,
    PaymentProviderUnavailable,
    InternalError,
}

impl ErrorCode {
    /// Every code, for tests and documentation that must cover them all.
    pub const ALL: [Self; 21] = [
        Self::InvalidJson,
        Self::InvalidRequest,
        Self::InvalidSignature,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::SessionNotFound,
        Self::LineItemNotFound,
        Self::SessionNotUpdatable,
        Self::OutOfStock,
        Self::SessionBusy,
        Self::StockBusy,
        Self::RequestInProgress,
        Self::OfferNotAvailable,
        Self::QuantityOutOfRange,
        Self::CannotRemoveLastItem,
        Self::DestinationNotSupported,
        Self::CartTooLarge,
        Self::IdempotencyKeyReused,
        Self::PaymentProviderUnavailable,
        Self::InternalError,
    ];

    pub fn status(self) -> u16 {
        match self {
            Self::InvalidJson | Self::InvalidRequest | Self::InvalidSignature => 400,
            Self::SessionNotFound | Self::LineItemNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::SessionNotUpdatable
            | Self::OutOfStock
            | Self::SessionBusy
            | Self::StockBusy
            | Self::RequestInProgress => 409,
            Self::OfferNotAvailable
            | Self::QuantityOutOfRange
            | Self::CannotRemoveLastItem
            | Self::DestinationNotSupported
            | Self::CartTooLarge
            | Self::IdempotencyKeyReused => 422,
            Self::PaymentProviderUnavailable => 502,
            Self::InternalError => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidSignature => "invalid_signature",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::SessionNotFound => "session_not_found",
            Self::LineItemNotFound => "line_item_not_found",
            Self::SessionNotUpdatable => "session_not_updatable",
            Self::OutOfStock => "out_of_stock",
            Self::SessionBusy => "session_busy",
            Self::StockBusy => "stock_busy",
            Self::RequestInProgress => "request_in_progress",
            Self::OfferNotAvailable => "offer_not_available",
            Self::QuantityOutOfRange => "quantity_out_of_range",
            Self::CannotRemoveLastItem => "cannot_remove_last_item",
            Self::DestinationNotSupported => "destination_not_supported",
            Self::CartTooLarge => "cart_too_large",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::PaymentProviderUnavailable => "payment_provider_unavailable",
            Self::InternalError => "internal_error",
        }
    }

    /// The message shown when the failure has nothing more specific (and safe) to say.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::InvalidJson => "The request body must be a JSON object.",
            Self::InvalidRequest => "The request is invalid.",
            Self::InvalidSignature => "The webhook signature could not be verified.",
            Self::MethodNotAllowed => "Use POST for this endpoint.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::UnsupportedMediaType => {
                "Send the request body as JSON, with Content-Type: application/json."
            }
            Self::SessionNotFound => "This checkout session does not exist.",
            Self::LineItemNotFound => "That item is not in this cart.",
            Self::SessionNotUpdatable => "This checkout session can no longer be changed.",
            Self::OutOfStock => "There is not enough stock for this change.",
            Self::SessionBusy => {
                "This checkout session is being updated by another request. Please try again."
            }
            Self::StockBusy => "This product is in high demand. Please try again.",
            Self::RequestInProgress => {
                "An identical request is still being processed. Please try again shortly."
            }
            Self::OfferNotAvailable => "That option is not available for this cart.",
            Self::QuantityOutOfRange => "That quantity is not allowed for this item.",
            Self::CannotRemoveLastItem => "The last item in the cart cannot be removed.",
            Self::DestinationNotSupported => "We do not ship to that country.",
            Self::CartTooLarge => "This cart cannot hold any more items.",
            Self::IdempotencyKeyReused => {
                "This Idempotency-Key was already used with a different request."
            }
            // The seed's safe wording; the code tells a retryable outage from a fault of ours.
            Self::PaymentProviderUnavailable | Self::InternalError => SOMETHING_WENT_WRONG,
        }
    }
}

/// The client-facing error: what the HTTP layer renders as
/// `{"type":"error","code":…,"message":…,"param"?:…,"available"?:…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<u64>,
    /// Seconds after which a retry may succeed (sent as the `Retry-After` header).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.default_message().to_owned(),
            param: None,
            available: None,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body of the error response.
    pub fn to_body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": "error",
            "code": self.code.as_str(),
            "message": self.message,
        });
        if let Some(param) = &self.param {
            body["param"] = param.clone().into();
        }
        if let Some(available) = self.available {
            body["available"] = available.into();
        }
        body
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        match rejection {
            // The parser's detail can echo fragments of the input, so it stays in the logs.
            Rejection::InvalidJson { .. } => Self::new(ErrorCode::InvalidJson),
            Rejection::PayloadTooLarge { .. } => Self::new(ErrorCode::PayloadTooLarge),
            Rejection::InvalidField { param, message } => Self::new(ErrorCode::InvalidRequest)
                .with_message(message)
                .with_param(param),
            Rejection::NotUpdatable(reason) => {
                Self::new(ErrorCode::SessionNotUpdatable).with_message(reason.message())
            }
            Rejection::OfferNotAvailable { .. } => Self::new(ErrorCode::OfferNotAvailable),
            Rejection::LineItemNotFound { param } => {
                Self::new(ErrorCode::LineItemNotFound).with_param(param)
            }
            Rejection::QuantityOutOfRange { param, min, max } => {
                Self::new(ErrorCode::QuantityOutOfRange)
                    .with_message(format!("Choose a quantity from {min} to {max}."))
                    .with_param(param)
            }
            Rejection::CannotRemoveLastItem => Self::new(ErrorCode::CannotRemoveLastItem),
            Rejection::DestinationNotSupported { .. } => {
                Self::new(ErrorCode::DestinationNotSupported)
                    .with_param("shipping_details.address.country")
            }
            Rejection::CartTooLarge { .. } => Self::new(ErrorCode::CartTooLarge),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_code_once() {
        // Exhaustive: a new variant does not compile until it is given a place here, and then
        // this test fails until it is in `ALL` too.
        let position = |code: ErrorCode| match code {
            ErrorCode::InvalidJson => 0,
            ErrorCode::InvalidRequest => 1,
            ErrorCode::InvalidSignature => 2,
            ErrorCode::MethodNotAllowed => 3,
            ErrorCode::PayloadTooLarge => 4,
            ErrorCode::UnsupportedMediaType => 5,
            ErrorCode::SessionNotFound => 6,
            ErrorCode::LineItemNotFound => 7,
            ErrorCode::SessionNotUpdatable => 8,
            ErrorCode::OutOfStock => 9,
            ErrorCode::SessionBusy => 10,
            ErrorCode::StockBusy => 11,
            ErrorCode::RequestInProgress => 12,
            ErrorCode::OfferNotAvailable => 13,
            ErrorCode::QuantityOutOfRange => 14,
            ErrorCode::CannotRemoveLastItem => 15,
            ErrorCode::DestinationNotSupported => 16,
            ErrorCode::CartTooLarge => 17,
            ErrorCode::IdempotencyKeyReused => 18,
            ErrorCode::PaymentProviderUnavailable => 19,
            ErrorCode::InternalError => 20,
        };
        for (n, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(position(*code), n, "{code:?}");
        }
    }

    #[test]
    fn every_code_has_a_4xx_or_5xx_status_and_a_snake_case_name() {
        for code in ErrorCode::ALL {
            assert!((400..600).contains(&code.status()), "{code:?}");
            let serialized = serde_json::to_value(code).unwrap();
            assert_eq!(serialized, code.as_str(), "serde and as_str agree");
            assert!(code
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!code.default_message().is_empty());
        }
    }

    #[test]
    fn body_has_type_code_message_and_optional_param() {
        let err = ApiError::from(Rejection::invalid_field(
            "interval",
            "must be monthly or yearly",
        ));
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_body(),
            serde_json::json!({
                "type": "error",
                "code": "invalid_request",
                "message": "must be monthly or yearly",
                "param": "interval",
            })
        );
    }

    #[test]
    fn an_unserved_destination_is_422_naming_the_country_field() {
        let err = ApiError::from(Rejection::DestinationNotSupported {
            country: "FR".into(),
        });
        assert_eq!(err.status(), 422);
        assert_eq!(err.code.as_str(), "destination_not_supported");
        assert_eq!(
            err.param.as_deref(),
            Some("shipping_details.address.country")
        );
    }

    #[test]
    fn a_body_too_large_is_413_and_a_body_not_json_is_415() {
        let too_large = ApiError::from(Rejection::PayloadTooLarge {
            size: 20_000,
            limit: 16_384,
        });
        assert_eq!(too_large.status(), 413);
        assert_eq!(too_large.code.as_str(), "payload_too_large");
        assert!(!too_large.message.contains("16"), "no limits echoed");
        let media = ApiError::new(ErrorCode::UnsupportedMediaType);
        assert_eq!(media.status(), 415);
        assert_eq!(media.code.as_str(), "unsupported_media_type");
        assert!(media.message.contains("application/json"));
    }

    #[test]
    fn json_parser_detail_never_reaches_the_client() {
        let err = ApiError::from(Rejection::InvalidJson {
            detail: "expected value at line 1 column 1 <secret>".into(),
        });
        assert_eq!(err.status(), 400);
        assert!(!err.message.contains("secret"));
    }

    #[test]
    fn every_code_becomes_a_json_response_through_the_one_mapping() {
        for code in ErrorCode::ALL {
            let response = crate::http::Reply::error(&ApiError::new(code)).into_response(false);
            assert_eq!(response.status().as_u16(), code.status(), "{code:?}");
            assert_eq!(
                response.headers().get("content-type").unwrap(),
                "application/json"
            );
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body["type"], "error");
            assert_eq!(body["code"], code.as_str());
            assert_eq!(body["message"], code.default_message());
        }
    }

    #[test]
    fn every_rejection_is_a_4xx_with_its_own_code() {
        use cart_domain::NotUpdatableReason;
        // Exhaustive: a new rejection does not compile until it is listed here.
        let all = |r: &Rejection| match r {
            Rejection::InvalidJson { .. }
            | Rejection::PayloadTooLarge { .. }
            | Rejection::InvalidField { .. }
            | Rejection::NotUpdatable(_)
            | Rejection::OfferNotAvailable { .. }
            | Rejection::LineItemNotFound { .. }
            | Rejection::QuantityOutOfRange { .. }
            | Rejection::CannotRemoveLastItem
            | Rejection::DestinationNotSupported { .. }
            | Rejection::CartTooLarge { .. } => (),
        };
        let rejections = [
            Rejection::InvalidJson { detail: "x".into() },
            Rejection::PayloadTooLarge { size: 2, limit: 1 },
            Rejection::invalid_field("a", "b"),
            Rejection::NotUpdatable(NotUpdatableReason::NotOpen),
            Rejection::OfferNotAvailable { reason: "x".into() },
            Rejection::LineItemNotFound { param: "x".into() },
            Rejection::QuantityOutOfRange {
                param: "q".into(),
                min: 1,
                max: 2,
            },
            Rejection::CannotRemoveLastItem,
            Rejection::DestinationNotSupported {
                country: "FR".into(),
            },
            Rejection::CartTooLarge {
                kind: "one-time",
                count: 21,
                limit: 20,
            },
        ];
        let mut codes = std::collections::BTreeSet::new();
        for rejection in rejections {
            all(&rejection);
            let error = ApiError::from(rejection.clone());
            assert!((400..500).contains(&error.status()), "{rejection:?}");
            assert!(!error.message.is_empty());
            codes.insert(error.code.as_str());
        }
        assert_eq!(codes.len(), 10, "each rejection its own code: {codes:?}");
    }
}
