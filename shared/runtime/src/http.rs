//! JSON responses. The one place an [`ApiError`] becomes an HTTP response.

use cart_validation::{ApiError, SessionSummary};
use lambda_http::{Body, Response};

fn json(status: u16, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    // Cart state is per shopper and changes on every call.
    headers.insert(
        "cache-control",
        lambda_http::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// `200 {"type":"success","session":{…}}`.
pub fn success(session: &SessionSummary) -> Response<Body> {
    json(
        200,
        &serde_json::json!({ "type": "success", "session": session }),
    )
}

/// `4xx/5xx {"type":"error","code":…,"message":…}`.
pub fn error_response(error: &ApiError) -> Response<Body> {
    json(error.status(), &error.to_body())
}
