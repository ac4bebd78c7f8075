//! Bodies that are not a JSON object of a size the functions read: broken JSON, other JSON
//! values, empty bodies, bodies over the limit and deep nesting.

use super::case::Case;
use super::fields::fields;
use super::text::{quoted, splice};
use crate::Endpoint;
use serde_json::Value;

pub(super) fn invalid_json_cases(endpoint: Endpoint, text: &str) -> Vec<Case> {
    let cut = |n: usize| text.get(..n).unwrap_or(text).to_owned();
    let first_value = |raw: &str| text.replacen(':', &format!(":{raw},\"x\":"), 1);
    let open = cut(text.len().saturating_sub(1));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", cut(text.len() / 2).into_bytes()),
        ("only the opening brace", b"{".to_vec()),
        (
            "unterminated string",
            br#"{"checkout_session_id":"cs_test_a"#.to_vec(),
        ),
        ("trailing garbage", format!("{text} x").into_bytes()),
        ("two objects", format!("{text}{text}").into_bytes()),
        ("trailing comma", format!("{open},}}").into_bytes()),
        ("NaN", first_value("NaN").into_bytes()),
        ("Infinity", first_value("Infinity").into_bytes()),
        ("-Infinity", first_value("-Infinity").into_bytes()),
        ("hex number", first_value("0x10").into_bytes()),
        ("leading zero", first_value("007").into_bytes()),
        ("number 1e400", first_value("1e400").into_bytes()),
        ("lone surrogate", first_value(r#""\ud800""#).into_bytes()),
        ("bad escape", first_value(r#""\q""#).into_bytes()),
        (
            "raw control char in a string",
            first_value("\"a\u{1}b\"").into_bytes(),
        ),
        (
            "raw newline in a string",
            first_value("\"a\nb\"").into_bytes(),
        ),
        ("block comment", format!("/* c */{text}").into_bytes()),
        ("line comment", format!("// c\n{text}").into_bytes()),
        ("single quotes", text.replace('"', "'").into_bytes()),
        (
            "unquoted keys",
            text.replace("\":", ":")
                .replacen("{\"", "{", 1)
                .into_bytes(),
        ),
        ("byte order mark", format!("\u{feff}{text}").into_bytes()),
        (
            "UTF-16",
            text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
    ];
    bodies
        .into_iter()
        .map(|(name, body)| {
            Case::post(endpoint, "invalid-json", name)
                .body(body)
                .exactly(400, "invalid_json")
        })
        .collect()
}

pub(super) fn shape_cases(endpoint: Endpoint, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, body) in [
        ("array", "[]".to_owned()),
        ("array holding the body", format!("[{text}]")),
        ("string", "\"x\"".into()),
        ("the body as a JSON string", quoted(text)),
        ("number", "42".into()),
        ("negative number", "-1".into()),
        ("null", "null".into()),
        ("true", "true".into()),
    ] {
        cases.push(
            Case::post(endpoint, "non-object", name)
                .body(body)
                .exactly(400, "invalid_json"),
        );
    }
    for (name, body) in [("empty", ""), ("whitespace", " \n\t "), ("NUL", "\u{0}")] {
        cases.push(
            Case::post(endpoint, "empty", name)
                .body(body)
                .exactly(400, "invalid_json"),
        );
    }
    cases
}

pub(super) fn size_cases(endpoint: Endpoint, base: &Value) -> Vec<Case> {
    let limit = endpoint.body_limit();
    let padded = |size: usize| {
        let mut body = base.clone();
        body["pad"] = Value::String(String::new());
        let bare = body.to_string().len();
        body["pad"] = Value::String("x".repeat(size.saturating_sub(bare)));
        body.to_string()
    };
    let mut cases = vec![
        Case::post(
            endpoint,
            "too-large",
            "the valid body padded to the limit + 1",
        )
        .body(padded(limit + 1))
        .exactly(413, "payload_too_large"),
        Case::post(endpoint, "too-large", "1 MiB of garbage")
            .body(vec![b'a'; 1 << 20])
            .exactly(413, "payload_too_large"),
        Case::post(endpoint, "too-large", "limit + 1 of `[`")
            .body(vec![b'['; limit + 1])
            .exactly(413, "payload_too_large"),
    ];
    if endpoint != Endpoint::StripeWebhook {
        let at_limit = format!(r#"{{"pad":"{}"}}"#, "x".repeat(limit - 10));
        cases.push(
            Case::post(
                endpoint,
                "too-large",
                "exactly at the limit, fields missing",
            )
            .body(at_limit)
            .exactly(400, "invalid_request"),
        );
    }
    let deep = |depth: usize| "[".repeat(depth);
    cases.extend([
        Case::post(endpoint, "deep-nesting", "10,000 `[`")
            .body(deep(10_000))
            .exactly(400, "invalid_json"),
        Case::post(endpoint, "deep-nesting", "10,000 closed `[]`")
            .body(format!("{}{}", deep(5_000), "]".repeat(5_000)))
            .exactly(400, "invalid_json"),
        Case::post(endpoint, "deep-nesting", "3,000 nested objects")
            .body(r#"{"a":"#.repeat(3_000))
            .exactly(400, "invalid_json"),
    ]);
    if let Some(first) = fields(endpoint).first() {
        cases.push(
            Case::post(
                endpoint,
                "deep-nesting",
                format!("5,000 `[` in {}", first.pointer),
            )
            .body(splice(base, first.pointer, &deep(5_000)))
            .exactly(400, "invalid_json"),
        );
    }
    cases
}
