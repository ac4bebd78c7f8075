//! Raw text for bodies that need not parse: JSON text spliced into a body, a field dropped or
//! renamed, quoting, short case names, and base64 as API Gateway encodes binary bodies.

use serde_json::Value;
use std::fmt::Write as _;

const PLACEHOLDER: &str = "\u{1}hostile\u{1}";

/// `body` with the value at `pointer` replaced by the raw JSON text `raw` (which need not parse).
pub(super) fn splice(body: &Value, pointer: &str, raw: &str) -> String {
    let mut copy = body.clone();
    if let Some(slot) = copy.pointer_mut(pointer) {
        *slot = Value::String(PLACEHOLDER.into());
    } else if let Some((parent, name)) = pointer.rsplit_once('/') {
        if let Some(Value::Object(map)) = copy.pointer_mut(parent) {
            map.insert(name.to_owned(), Value::String(PLACEHOLDER.into()));
        }
    }
    let quoted = serde_json::to_string(PLACEHOLDER).unwrap_or_default();
    copy.to_string().replacen(&quoted, raw, 1)
}

/// `body` without the field at `pointer`, or with it renamed to `rename`.
pub(super) fn without(body: &Value, pointer: &str, rename: Option<&str>) -> String {
    let mut copy = body.clone();
    if let Some((parent, name)) = pointer.rsplit_once('/') {
        match copy.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                if let Some(value) = map.remove(name) {
                    if let Some(new_name) = rename {
                        map.insert(new_name.to_owned(), value);
                    }
                }
            }
            Some(Value::Array(items)) => {
                if let Some(n) = name.parse::<usize>().ok().filter(|n| *n < items.len()) {
                    items.remove(n);
                }
            }
            _ => {}
        }
    }
    copy.to_string()
}

pub(crate) fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        let _ = write!(short, "…({} chars)", text.chars().count());
    }
    short.escape_debug().to_string()
}

pub(super) fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Standard base64 with padding, as API Gateway encodes binary bodies.
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let index = usize::try_from((n >> shift) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"{}"), "e30=");
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn splicing_puts_raw_text_where_the_field_was() {
        let body = json!({ "a": { "b": 1 }, "c": "x" });
        assert_eq!(
            splice(&body, "/a/b", "1e400"),
            r#"{"a":{"b":1e400},"c":"x"}"#
        );
        assert_eq!(
            splice(&body, "/d", "NaN"),
            r#"{"a":{"b":1},"c":"x","d":NaN}"#
        );
        assert_eq!(without(&body, "/c", None), r#"{"a":{"b":1}}"#);
        assert_eq!(without(&body, "/c", Some("C")), r#"{"C":"x","a":{"b":1}}"#);
    }
}
