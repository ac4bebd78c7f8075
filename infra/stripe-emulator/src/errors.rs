//! Stripe's error envelope: `{"error":{type, code?, message, param?, doc_url?, request_log_url}}`.
//!
//! Every rejection the emulator produces is an [`ApiError`]; it carries the HTTP status so that
//! handlers stay plain `Result`-returning functions.

use serde_json::{json, Map, Value};

/// The `type` field. `authentication_error`/`rate_limit_error` are SDK classes chosen by HTTP
/// status, not API types, so they do not appear here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Api,
    Idempotency,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Api => "api_error",
            Self::Idempotency => "idempotency_error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {message}", kind.as_str())]
pub struct ApiError {
    pub status: u16,
    pub kind: ErrorType,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            message: message.into(),
            param: None,
        }
    }

    /// A 400 `invalid_request_error` without a code.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, ErrorType::InvalidRequest, message)
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn missing(param: impl Into<String>) -> Self {
        let param = param.into();
        Self::invalid(format!("Missing required param: {param}."))
            .with_code("parameter_missing")
            .with_param(param)
    }

    pub fn unknown(param: impl Into<String>) -> Self {
        let param = param.into();
        Self::invalid(format!("Received unknown parameter: {param}"))
            .with_code("parameter_unknown")
            .with_param(param)
    }

    /// `No such <object>: '<id>'`, 404 for the object addressed by the URL, 400 for a reference in a
    /// parameter (Stripe answers both ways).
    pub fn no_such(object: &str, id: &str, param: impl Into<String>, status: u16) -> Self {
        Self::invalid(format!("No such {object}: '{id}'"))
            .with_code("resource_missing")
            .with_param(param)
            .with_status(status)
    }

    pub fn exclusive(a: &str, b: &str, param: impl Into<String>) -> Self {
        Self::invalid(format!(
            "You may only specify one of these parameters: {a}, {b}."
        ))
        .with_code("parameters_exclusive")
        .with_param(param)
    }

    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::invalid(format!(
            "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
        ))
        .with_status(404)
    }

    /// The JSON body, as Stripe renders it.
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind.as_str()));
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        error.insert(
            "request_log_url".into(),
            json!(format!(
                "https://dashboard.stripe.com/test/logs/{request_id}?t={}",
                crate::clock::now()
            )),
        );
        json!({ "error": Value::Object(error) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_doc_url_only_with_code() {
        let with = ApiError::missing("line_items[0][quantity]").body("req_1");
        assert_eq!(with["error"]["code"], "parameter_missing");
        assert_eq!(
            with["error"]["doc_url"],
            "https://stripe.com/docs/error-codes/parameter-missing"
        );
        assert_eq!(with["error"]["param"], "line_items[0][quantity]");
        let without = ApiError::invalid("nope").body("req_1");
        assert!(without["error"].get("code").is_none());
        assert!(without["error"].get("doc_url").is_none());
        assert!(without["error"].get("param").is_none());
    }
}
