//! Stripe values the tests read and make: a session's line item ids, webhook signatures.

use crate::Result;
use serde_json::Value;
use std::process::Command;

/// The ids of a session's line items, in order.
pub fn line_item_ids(session: &Value) -> Vec<String> {
    session["line_items"]["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|li| li["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// `Stripe-Signature` for `payload` at time `t`, computed with Python's hmac (an implementation
/// independent of the one the webhook function verifies with).
pub fn stripe_signature(payload: &str, secret: &str, t: i64) -> Result<String> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), \
             (sys.argv[2] + '.' + sys.argv[3]).encode(), hashlib.sha256).hexdigest())",
            secret,
            &t.to_string(),
            payload,
        ])
        .output()?;
    Ok(format!(
        "t={t},v1={}",
        String::from_utf8(output.stdout)?.trim()
    ))
}
