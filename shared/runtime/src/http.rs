//! JSON responses. The one place an [`ApiError`] becomes an HTTP response.

use cart_validation::{ApiError, SessionSummary};
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
