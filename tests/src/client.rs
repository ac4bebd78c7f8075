//! The HTTP client every helper sends with: statuses are answers, not errors.

use crate::Result;
use serde_json::Value;
use std::time::Duration;

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and body (JSON, or the text as a JSON string).
pub(crate) fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<(u16, Value)> {
    let status = response.status().as_u16();
    // Request logs of long benchmark runs exceed ureq's default 10 MB.
    let text = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}
