//! The judge: an answer must be a 4xx `{"type":"error","code":…,"message":…}` with a code of the
//! taxonomy and its status, a message free of internals and no secret; and, when the case names
//! them, the exact status and code.

use super::send::Answer;
use crate::hostile::corpus::{shorten, Case, Expect};
use crate::{SECRET_KEY, WEBHOOK_SECRET};
use cart_runtime::http::ErrorCode;
use serde_json::Value;

/// Fragments an error message must never carry: runtime and library internals, Stripe's own
/// texts, secrets, and the hostile inputs themselves echoed back.
const FORBIDDEN_IN_MESSAGES: [&str; 27] = [
    "panicked",
    "backtrace",
    ".rs:",
    "src/",
    "Stripe",
    "stripe",
    "sk_test",
    "rk_",
    "whsec",
    "_secret_",
    "No such",
    "resource_missing",
    "invalid_request_error",
    "Dynamo",
    "ConditionalCheck",
    "Traceback",
    "Error {",
    "Error(",
    "at line",
    "column",
    "OR 1=1",
    "${",
    "{{",
    "<script",
    "$ne",
    "__proto__",
    "\u{0}",
];

/// Every way `answer` falls short of what `case` must get.
pub(super) fn judge(case: &Case, answer: &Answer) -> (Vec<String>, Option<String>) {
    let mut problems = Vec::new();
    if let Some(error) = &answer.function_error {
        problems.push(format!("the function failed: {error}"));
        return (problems, None);
    }
    let status = answer.status;
    match status {
        500..=599 => problems.push(format!("server error {status}")),
        200..=299 => problems.push(format!("{status}: a hostile request was carried out")),
        400..=499 => {}
        _ => problems.push(format!("status {status} is not an error")),
    }
    if !answer
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/json"))
    {
        problems.push(format!("content type {:?}", answer.content_type));
    }
    for secret in [SECRET_KEY, WEBHOOK_SECRET, "_secret_"] {
        if answer.body.contains(secret) {
            problems.push("the answer holds a secret".into());
        }
    }
    let body: Value = match serde_json::from_str(&answer.body) {
        Ok(body) => body,
        Err(_) => {
            problems.push(format!("not JSON: {}", shorten(&answer.body)));
            return (problems, None);
        }
    };
    let code = body["code"].as_str().map(str::to_owned);
    let fields_ok = body.as_object().is_some_and(|fields| {
        fields.keys().all(|k| {
            matches!(
                k.as_str(),
                "type" | "code" | "message" | "param" | "available"
            )
        })
    });
    if body["type"] != "error" || !fields_ok {
        problems.push(format!("not an error body: {}", shorten(&answer.body)));
    }
    match code
        .as_deref()
        .and_then(|c| ErrorCode::ALL.iter().find(|known| known.as_str() == c))
    {
        None => problems.push(format!("code {:?} is not in the taxonomy", body["code"])),
        Some(c) if c.status() != status => {
            problems.push(format!(
                "code {} answered with {status}, not {}",
                c.as_str(),
                c.status()
            ));
        }
        Some(_) => {}
    }
    match body["message"].as_str() {
        Some(message) if !message.trim().is_empty() => {
            for fragment in FORBIDDEN_IN_MESSAGES {
                if message.contains(fragment) {
                    problems.push(format!("message holds {fragment:?}: {message:?}"));
                }
            }
        }
        _ => problems.push("no message".into()),
    }
    if body.get("param").is_some_and(|p| !p.is_string())
        || body.get("available").is_some_and(|a| !a.is_u64())
    {
        problems.push(format!("bad param or available: {}", shorten(&answer.body)));
    }
    if let Expect::Exactly(want_status, want_code) = case.expect {
        if status != want_status || code.as_deref() != Some(want_code) {
            problems.push(format!(
                "answered {status} {}, expected {want_status} {want_code}",
                code.as_deref().unwrap_or("-")
            ));
        }
    }
    (problems, code)
}
