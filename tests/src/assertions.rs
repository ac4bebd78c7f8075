//! Assertions on the functions' answers.

use crate::Reply;
use serde_json::Value;

/// Asserts an answer is the API's error `{type: "error", code, message}` with this status and
/// code, and a message to show.
#[track_caller]
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(
        (status, body["code"].as_str()),
        (want_status, Some(want_code)),
        "wanted {want_status} {want_code}, got {status} {body}"
    );
    assert_eq!(body["type"], "error", "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "an error without a message: {body}"
    );
}

impl Reply {
    /// [`assert_error`] on this reply.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_error(self.status, &self.body, status, code);
    }
}
