//! JSON responses. The one place an [`ApiError`] becomes an HTTP response; `error` decides each
//! failure's status, code and message.

mod error;

pub use error::{ApiError, ErrorCode};

/// Largest Stripe event the webhook accepts (413 above it): an event carries a whole Checkout
/// Session, which with many line items, metadata and addresses passes 16 KiB.
pub const MAX_WEBHOOK_BODY_BYTES: usize = 256 * 1024;

/// Whether a `Content-Type` value is JSON: `application/json`, in any case, optionally with
/// parameters (`; charset=utf-8`). A charset other than UTF-8 is not JSON (RFC 8259 §8.1).
///
/// Requiring it is also a CORS control: a browser sends a cross-origin `text/plain` (or form)
/// POST without a preflight, but `application/json` only after one, which the API's CORS
/// allow-list answers.
pub fn is_json_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|parameter| {
        let parameter = parameter.trim();
        match parameter.split_once('=') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
            }
            Some((name, _)) => !name.trim().is_empty(),
            // `application/json;` (an empty parameter) is harmless; a bare word is not a parameter.
            None => parameter.is_empty(),
        }
    })
}

use cart_domain::SessionSummary;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};

/// A response body and status, as produced and (for idempotent requests) stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<u32>,
}

impl Reply {
    /// `200 {"type":"success","session":{…}}`.
    pub fn success(session: &SessionSummary) -> Self {
        Self {
            status: 200,
            body: serde_json::json!({ "type": "success", "session": session }).to_string(),
            retry_after: None,
        }
    }

    /// `200 {"type":"success","session":{…,"client_secret":…}}` for a new session.
    pub fn created(session: &SessionSummary, client_secret: Option<&str>) -> Self {
        let mut body = serde_json::json!({ "type": "success", "session": session });
        body["session"]["client_secret"] = client_secret.into();
        Self {
            status: 200,
            body: body.to_string(),
            retry_after: None,
        }
    }

    /// `4xx/5xx {"type":"error","code":…,"message":…}`.
    pub fn error(error: &ApiError) -> Self {
        Self {
            status: error.status(),
            body: error.to_body().to_string(),
            retry_after: error.retry_after,
        }
    }

    pub fn into_response(self, replayed: bool) -> Response<Body> {
        let mut response = Response::new(Body::Text(self.body));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        // Cart state is per shopper and changes on every call.
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert("retry-after", HeaderValue::from(seconds));
        }
        if replayed {
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_content_types_are_json() {
        for json in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json ; charset=\"utf-8\"",
            "application/json;",
            "  application/json  ",
            "application/json; boundary=x",
        ] {
            assert!(is_json_content_type(json), "{json:?}");
        }
        for other in [
            "",
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "application/json-patch+json",
            "application/vnd.api+json",
            "application/json, text/plain",
            "application/json; charset=iso-8859-1",
            "application/json; utf-8",
            "application/ json",
            "json",
            "*/*",
        ] {
            assert!(!is_json_content_type(other), "{other:?}");
        }
    }
}
