//! Field by field: values of the wrong type, missing or renamed fields, injections, malformed ids
//! and quantities; and keys that mean something to other stacks.

use super::case::{Case, Expect};
use super::fields::{field_case, fields, harmless_answer, valid_body, Field, Kind};
use super::fixtures::Fixtures;
use super::text::{quoted, splice, without};
use crate::Endpoint;
use serde_json::{json, Value};

/// The raw JSON values every field gets instead of its own.
const WRONG_TYPES: [&str; 12] = [
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    "1e300",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    r#"{"$ne":null}"#,
    r#"{"$gt":""}"#,
];

const INJECTIONS: [&str; 14] = [
    "' OR 1=1--",
    "\" OR \"\"=\"",
    "1; DROP TABLE sessions; --",
    "${7*7}",
    "{{7*7}}",
    "#{7*7}",
    "<%= 7*7 %>",
    "__proto__",
    "constructor",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "$where: function() { return true }",
    "%00",
    "\u{202e}evil",
];

pub(super) fn field_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let mut cases = Vec::new();
    let own = valid_body(endpoint, &f.own, f);
    let invalid_request = Expect::Exactly(400, "invalid_request");
    for field in fields(endpoint) {
        let valid = own.pointer(field.pointer).cloned().unwrap_or(Value::Null);
        let wrapped = format!("[{valid}]");
        for raw in WRONG_TYPES.iter().copied().chain([wrapped.as_str()]) {
            cases.push(field_case(
                endpoint,
                f,
                "wrong-type",
                field,
                raw,
                invalid_request,
            ));
        }
        if field.required {
            let name = field.pointer;
            cases.push(
                Case::post(endpoint, "missing-field", format!("{name} missing"))
                    .body(without(&own, name, None))
                    .expect(invalid_request),
            );
            let renamed = name.rsplit('/').next().unwrap_or_default().to_uppercase();
            cases.push(
                Case::post(
                    endpoint,
                    "missing-field",
                    format!("{name} renamed to {renamed}"),
                )
                .body(without(&own, name, Some(&renamed)))
                .expect(invalid_request),
            );
            let nulled = splice(&own, name, "null");
            cases.push(
                Case::post(endpoint, "missing-field", format!("{name} null"))
                    .body(nulled)
                    .expect(invalid_request),
            );
        }
        let prefix = match field.kind {
            Kind::SessionId => Some("cs_test_"),
            Kind::LineItemId => Some("li_"),
            Kind::PriceId => Some("price_"),
            _ => None,
        };
        if let Some(prefix) = prefix {
            cases.extend(id_cases(endpoint, f, field, prefix));
        }
        let is_string_field = !matches!(
            field.kind,
            Kind::Object | Kind::Items | Kind::Quantity { .. }
        );
        if is_string_field {
            for injection in INJECTIONS {
                let raw = quoted(injection);
                cases.push(field_case(
                    endpoint,
                    f,
                    "injection",
                    field,
                    &raw,
                    invalid_request,
                ));
                if let Some(prefix) = prefix {
                    let raw = quoted(&format!("{prefix}{injection}"));
                    cases.push(field_case(
                        endpoint,
                        f,
                        "injection",
                        field,
                        &raw,
                        invalid_request,
                    ));
                }
            }
        }
        if let Kind::Quantity { .. } = field.kind {
            cases.extend(quantity_cases(endpoint, f, field));
        }
    }
    // Keys that mean something to other stacks; ignored here, so aimed at nothing real.
    let missing = valid_body(endpoint, &f.missing, f);
    for (key, value) in [
        ("__proto__", json!({ "admin": true })),
        ("constructor", json!({ "prototype": { "admin": true } })),
        ("$where", json!("1 == 1")),
        ("$ne", Value::Null),
    ] {
        let mut body = missing.clone();
        body[key] = value;
        cases.push(
            Case::post(endpoint, "injection", format!("extra key {key}"))
                .body(body.to_string())
                .expect(harmless_answer(endpoint)),
        );
    }
    let text = own.to_string();
    cases.push(
        Case::post(endpoint, "injection", "the body inside __proto__ only")
            .body(format!(r#"{{"__proto__":{text}}}"#))
            .expect(invalid_request),
    );
    if let Some(first) = fields(endpoint).first() {
        // Duplicate keys: the last one counts, so the invalid one must be what is refused.
        let key = first.pointer.trim_start_matches('/');
        let open = text.get(..text.len().saturating_sub(1)).unwrap_or_default();
        cases.push(
            Case::post(
                endpoint,
                "injection",
                format!("{key} repeated with {{\"$ne\":null}}"),
            )
            .body(format!(r#"{open},"{key}":{{"$ne":null}}}}"#))
            .expect(invalid_request),
        );
    }
    cases
}

fn id_cases(endpoint: Endpoint, f: &Fixtures, field: &Field, prefix: &str) -> Vec<Case> {
    let mut raws: Vec<String> = [
        "\u{0}",
        "a\u{0}b",
        "é",
        "\u{202e}",
        "🛒",
        "a b",
        "a\n",
        "a\t",
        "../../v1/customers",
        "a/expire",
        "a?expand[]=customer",
        "a%2Fexpire",
        "a#fragment",
        "a\u{301}",
    ]
    .iter()
    .map(|rest| quoted(&format!("{prefix}{rest}")))
    .collect();
    raws.extend([
        quoted(&format!("{prefix}{}", "a".repeat(300))),
        quoted(&format!("{prefix}{}", "a".repeat(10_000))),
        quoted(&format!("{prefix}{}", "a".repeat(255 - prefix.len() + 1))),
        quoted(&prefix.to_uppercase()),
        quoted(&format!("{}a", prefix.to_uppercase())),
        quoted(&format!(" {prefix}a")),
        quoted(&format!("{prefix}a ")),
        quoted(prefix),
        quoted(prefix.trim_end_matches('_')),
        quoted("ｃｓ_test_a"),
        quoted("cs_a"),
        quoted("cs_prod_a"),
        quoted("li_a"),
        quoted("price_a"),
        quoted("prod_a"),
        quoted("sess_a"),
        quoted("pi_a"),
        r#""\u0000""#.to_owned(),
    ]);
    let mut cases: Vec<Case> = raws
        .iter()
        .map(|raw| {
            field_case(
                endpoint,
                f,
                "bad-id",
                field,
                raw,
                Expect::Exactly(400, "invalid_request"),
            )
        })
        .collect();
    // At the longest length an id may have: well-formed, so aimed at nothing real.
    let longest = quoted(&format!("{prefix}{}", "a".repeat(255 - prefix.len())));
    cases.push(field_case(
        endpoint,
        f,
        "bad-id",
        field,
        &longest,
        Expect::Refused,
    ));
    cases
}

fn quantity_cases(endpoint: Endpoint, f: &Fixtures, field: &Field) -> Vec<Case> {
    [
        "-1",
        "-0.5",
        "1.5",
        "2.0",
        "1e2",
        "1E+2",
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551616",
        "18446744073709551615",
        "9223372036854775808",
        "-9223372036854775809",
        "1000000",
        "\"3\"",
        "[3]",
        r#"{"$gt":0}"#,
        "true",
    ]
    .iter()
    .map(|raw| {
        let strict = if raw.contains("e400") {
            Expect::Exactly(400, "invalid_json")
        } else {
            Expect::Exactly(400, "invalid_request")
        };
        field_case(endpoint, f, "bad-quantity", field, raw, strict)
    })
    .collect()
}
