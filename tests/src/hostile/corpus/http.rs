//! The request around the body: the Idempotency-Key, the method, the Content-Type, and base64
//! bodies as only API Gateway sends them.

use super::case::{Case, Expect};
use super::fields::{harmless_answer, valid_body};
use super::fixtures::Fixtures;
use super::text::base64;
use crate::Endpoint;
use serde_json::Value;

pub(super) fn header_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let own = valid_body(endpoint, &f.own, f).to_string();
    let missing = valid_body(endpoint, &f.missing, f).to_string();
    let key = |name: &str, value: &[u8]| {
        Case::post(endpoint, "idempotency-key", name)
            .body(missing.clone())
            .header("Idempotency-Key", value)
            .exactly(400, "invalid_request")
    };
    let mut cases = vec![
        key("empty", b""),
        key("256 characters", &[b'k'; 256]),
        key("a space", b"a b"),
        key("a tab", b"a\tb"),
        key("non-ASCII", "clé".as_bytes()),
        // cargo-lambda keeps one of the two, API Gateway joins them with a comma (a well-formed
        // key): either way the function sees one, so only a refusal is certain.
        key("two keys", b"key-1")
            .header("Idempotency-Key", b"key-2".to_vec())
            .expect(Expect::Refused),
    ];
    for (name, value) in [
        ("NUL", "a\u{0}b"),
        ("newline", "a\nb"),
        ("DEL", "a\u{7f}b"),
        ("escape", "a\u{1b}b"),
    ] {
        // No HTTP request can carry these; only a hand-made event can.
        cases.push(
            key(name, value.as_bytes())
                .invoke(false)
                .expect(Expect::Refused),
        );
    }
    for method in ["GET", "DELETE"] {
        cases.push(
            Case::post(endpoint, "wrong-method", method)
                .method(method)
                .exactly(405, "method_not_allowed"),
        );
    }
    for method in ["PUT", "PATCH"] {
        cases.push(
            Case::post(
                endpoint,
                "wrong-method",
                format!("{method} with the valid body"),
            )
            .method(method)
            .body(own.clone())
            .exactly(405, "method_not_allowed"),
        );
    }
    cases.push(
        Case::post(endpoint, "wrong-method", "GET as an API Gateway event")
            .method("GET")
            .body(own.clone())
            .invoke(false)
            .exactly(405, "method_not_allowed"),
    );
    // The valid body with every content type a browser could send without a preflight (and
    // others): none may be read.
    let form = missing_form(&missing);
    for (name, content_type, body) in [
        ("no Content-Type", None, own.clone()),
        ("text/plain", Some("text/plain"), own.clone()),
        (
            "text/plain; charset=utf-8",
            Some("text/plain; charset=utf-8"),
            own.clone(),
        ),
        ("form", Some("application/x-www-form-urlencoded"), form),
        (
            "multipart",
            Some("multipart/form-data; boundary=x"),
            own.clone(),
        ),
        ("empty Content-Type", Some(""), own.clone()),
        ("*/*", Some("*/*"), own.clone()),
        ("text/json", Some("text/json"), own.clone()),
        ("application/jsonp", Some("application/jsonp"), own.clone()),
        (
            "application/json-patch+json",
            Some("application/json-patch+json"),
            own.clone(),
        ),
        (
            "application/vnd.api+json",
            Some("application/vnd.api+json"),
            own.clone(),
        ),
        (
            "application/javascript",
            Some("application/javascript"),
            own.clone(),
        ),
        (
            "JSON in Latin-1",
            Some("application/json; charset=iso-8859-1"),
            own.clone(),
        ),
        (
            "JSON, then text",
            Some("application/json, text/plain"),
            own.clone(),
        ),
    ] {
        cases.push(
            Case::post(endpoint, "content-type", name)
                .content_type(content_type.map(str::as_bytes))
                .body(body)
                .exactly(415, "unsupported_media_type"),
        );
    }
    cases.push(
        Case::post(
            endpoint,
            "content-type",
            "two Content-Types (API Gateway joins them)",
        )
        .content_type(Some(b"application/json,text/plain"))
        .body(own.clone())
        .invoke(false)
        .exactly(415, "unsupported_media_type"),
    );
    cases.push(
        Case::post(
            endpoint,
            "content-type",
            "no Content-Type, as an API Gateway event",
        )
        .content_type(None)
        .body(own)
        .invoke(false)
        .exactly(415, "unsupported_media_type"),
    );
    cases
}

fn missing_form(json_body: &str) -> String {
    let value: Value = serde_json::from_str(json_body).unwrap_or_default();
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(super) fn base64_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let webhook = endpoint == Endpoint::StripeWebhook;
    let (own, missing) = if webhook {
        (f.event.clone(), f.event.clone())
    } else {
        (
            valid_body(endpoint, &f.own, f).to_string(),
            valid_body(endpoint, &f.missing, f).to_string(),
        )
    };
    // Unsigned, the webhook refuses the signature before it reads the payload.
    let not_json = if webhook {
        Expect::Exactly(400, "invalid_signature")
    } else {
        Expect::Exactly(400, "invalid_json")
    };
    let encoded = |bytes: &[u8]| base64(bytes).into_bytes();
    let case = |name: &str, body: Vec<u8>, expect: Expect| {
        Case::post(endpoint, "base64", name)
            .body(body)
            .invoke(true)
            .expect(expect)
    };
    let mut cases = vec![
        case(
            "a well-formed body, decoded (control)",
            encoded(missing.as_bytes()),
            if webhook {
                not_json
            } else {
                harmless_answer(endpoint)
            },
        ),
        case("`{`", encoded(b"{"), not_json),
        case(
            "invalid UTF-8",
            encoded(b"{\"checkout_session_id\":\"\xff\xfe\"}"),
            not_json,
        ),
        case(
            "larger than the limit once decoded",
            encoded(&vec![b' '; endpoint.body_limit() + 1]),
            Expect::Exactly(413, "payload_too_large"),
        ),
        case(
            "invalid base64",
            b"!!! not base64 !!!".to_vec(),
            Expect::Refused,
        ),
        case(
            "base64 without its padding",
            encoded(own.as_bytes())
                .into_iter()
                .filter(|b| *b != b'=')
                .chain(*b"x")
                .collect(),
            Expect::Refused,
        ),
        case(
            "the JSON itself, not base64",
            own.clone().into_bytes(),
            Expect::Refused,
        ),
        case(
            "text/plain",
            encoded(own.as_bytes()),
            Expect::Exactly(415, "unsupported_media_type"),
        )
        .content_type(Some(b"text/plain")),
    ];
    if !webhook {
        cases.push(case(
            "a trailing byte of garbage",
            encoded(format!("{own}\u{0}").as_bytes()),
            Expect::Exactly(400, "invalid_json"),
        ));
    }
    cases
}
