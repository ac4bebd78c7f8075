//! The spec and the validator themselves, without a stack: every error code openapi.yaml lists
//! sits under the status the taxonomy answers it with, and the validator refuses what the spec
//! does not allow (so a passing endpoint test means something).

use cart_runtime::http::ErrorCode;
use e2e_tests::openapi::{Spec, HTTP_METHODS};
use e2e_tests::{Endpoint, Reply, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[test]
fn openapi_error_codes_sit_under_the_status_the_taxonomy_answers_them_with() -> Result {
    let spec = Spec::load();
    let by_name: BTreeMap<&str, ErrorCode> =
        ErrorCode::ALL.iter().map(|c| (c.as_str(), *c)).collect();
    let paths = spec.doc["paths"].as_object().ok_or("paths")?;
    let mut checked = 0;
    for (path, item) in paths {
        let item = item.as_object().ok_or("path item")?;
        // An operation's own responses, and those of methods the path does not route.
        let mut all: Vec<&Value> = item
            .iter()
            .filter(|(key, _)| HTTP_METHODS.contains(&key.as_str()))
            .map(|(_, operation)| &operation["responses"])
            .collect();
        if let Some(other) = item.get("x-other-methods") {
            all.push(&spec.deref(other)?["responses"]);
        }
        for responses in all {
            for (status, response) in responses.as_object().ok_or("responses")? {
                let status: u16 = status.parse()?;
                for code in spec.codes(response) {
                    let known = by_name
                        .get(code.as_str())
                        .ok_or_else(|| format!("{path} {status}: `{code}` is not an ErrorCode"))?;
                    assert_eq!(
                        known.status(),
                        status,
                        "{path}: `{code}` is listed under {status}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 8,
        "only {checked} codes found: is the spec readable?"
    );
    Ok(())
}

#[test]
fn openapi_validator_refuses_what_the_spec_does_not_allow() {
    let spec = Spec::load();
    // The samples below are answers of change-interval, checked as its route's.
    let route = Endpoint::ChangeInterval.route();
    let success = json!({"type": "success", "session": {
        "id": "cs_test_abc", "status": "open", "currency": "usd", "amount_subtotal": 1500,
        "amount_total": 1500,
        "line_items": [{"id": "li_1", "price": "price_1", "quantity": 1, "amount_total": 1500}]
    }});
    let error =
        json!({"type": "error", "code": "invalid_request", "message": "m", "param": "interval"});
    assert_eq!(
        spec.check(route, "POST", 200, &success),
        Vec::<String>::new()
    );
    assert_eq!(spec.check(route, "POST", 400, &error), Vec::<String>::new());
    let mut nulls = success.clone();
    nulls["session"]["currency"] = Value::Null;
    assert_eq!(spec.check(route, "POST", 200, &nulls), Vec::<String>::new());

    let mutate = |base: &Value, pointer: &str, value: Value| {
        let mut copy = base.clone();
        if let Some(slot) = copy.pointer_mut(pointer) {
            *slot = value;
        }
        copy
    };
    let mut extra_field = success.clone();
    extra_field["session"]["client_secret"] = json!("cs_secret");
    let mut missing = error.clone();
    if let Some(fields) = missing.as_object_mut() {
        fields.remove("message");
    }
    let refused: [(&str, u16, Value); 11] = [
        ("field the spec does not allow", 200, extra_field),
        (
            "wrong type",
            200,
            mutate(&success, "/session/amount_total", json!("1500")),
        ),
        (
            "float for an integer",
            200,
            mutate(&success, "/session/amount_total", json!(15.5)),
        ),
        (
            "null where not nullable",
            200,
            mutate(&success, "/session/line_items/0/quantity", Value::Null),
        ),
        (
            "unknown status value",
            200,
            mutate(&success, "/session/status", json!("paid")),
        ),
        (
            "id of the wrong kind",
            200,
            mutate(&success, "/session/line_items/0/price", json!("prod_1")),
        ),
        (
            "code not listed under this status",
            400,
            mutate(&error, "/code", json!("session_not_found")),
        ),
        ("missing required field", 400, missing),
        ("empty message", 400, mutate(&error, "/message", json!(""))),
        ("status the spec does not list", 418, error.clone()),
        ("success shape for an error status", 404, success.clone()),
    ];
    for (what, status, body) in refused {
        assert!(
            !spec.check(route, "POST", status, &body).is_empty(),
            "{what} must be refused: {status} {body}"
        );
    }
    // Exactly one branch of the 500 oneOf must match.
    assert!(spec
        .check(
            route,
            "POST",
            500,
            &json!({"message": "Internal Server Error"})
        )
        .is_empty());
    assert!(!spec
        .check(
            route,
            "POST",
            500,
            &json!({"message": "x", "code": "internal_error"})
        )
        .is_empty());

    // Headers: only where declared, with the declared value.
    let reply = |status: u16, retry_after: Option<&str>, replayed: bool| Reply {
        status,
        body: Value::Null,
        replayed,
        retry_after: retry_after.map(str::to_owned),
    };
    assert!(spec
        .check_headers(route, "POST", &reply(409, Some("1"), false))
        .is_empty());
    assert!(spec
        .check_headers(route, "POST", &reply(200, None, true))
        .is_empty());
    for (what, bad) in [
        ("Retry-After on a 200", reply(200, Some("1"), false)),
        (
            "Retry-After that is not seconds",
            reply(409, Some("soon"), false),
        ),
        ("a replayed 400 (never stored)", reply(400, None, true)),
    ] {
        assert!(
            !spec.check_headers(route, "POST", &bad).is_empty(),
            "{what}"
        );
    }
}
