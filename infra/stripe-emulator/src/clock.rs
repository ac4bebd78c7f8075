//! The wall clock, in the Unix seconds every timestamp of the API uses. Its own file so the
//! error envelope and webhook delivery can read the time without depending on the store.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
