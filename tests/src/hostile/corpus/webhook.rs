//! The webhook's own cases: missing, malformed, stale or foreign signatures on the real event, and
//! signed bodies that are not events.

use super::case::Case;
use super::fixtures::Fixtures;
use crate::{Endpoint, Result, WEBHOOK_SECRET};
use serde_json::{json, Value};

pub(super) fn webhook_cases(f: &Fixtures) -> Vec<Case> {
    let e = Endpoint::StripeWebhook;
    let event = f.event.as_str();
    let sig = |label: &str| f.signatures.get(label).cloned().unwrap_or_default();
    let good = sig("good");
    let now = crate::now_s();
    let good_hex = good.split_once("v1=").map_or("", |(_, hex)| hex).to_owned();
    let signed = |name: &str, header: String| {
        Case::post(e, "signature", name)
            .body(event)
            .header("Stripe-Signature", header)
            .exactly(400, "invalid_signature")
    };
    let mut cases = vec![
        Case::post(e, "signature", "no Stripe-Signature")
            .body(event)
            .exactly(400, "invalid_signature"),
        signed("empty", String::new()),
        signed("garbage", "garbage".into()),
        signed("t= only", "t=".into()),
        signed("v1 without t", format!("v1={good_hex}")),
        signed("t not a number", format!("t=abc,v1={good_hex}")),
        signed("t only", format!("t={now}")),
        signed("empty v1", format!("t={now},v1=")),
        signed("v1 not hex", format!("t={now},v1=zz{}", "0".repeat(62))),
        signed("v1 of zeros", format!("t={now},v1={}", "0".repeat(64))),
        signed(
            "v1 cut short",
            format!("t={now},v1={}", &good_hex.get(..32).unwrap_or_default()),
        ),
        signed(
            "the right signature as v0",
            format!("t={now},v0={good_hex}"),
        ),
        signed("a later t=0 overrides", format!("{good},t=0")),
        signed("only commas", ",,,,".into()),
        signed(
            "t beyond i64",
            format!("t=99999999999999999999,v1={good_hex}"),
        ),
        signed("4 KiB of v1", format!("t={now},{}", "v1=00,".repeat(680))),
        signed("wrong secret", sig("wrong secret")),
        signed("signature of another payload", sig("another payload")),
    ];
    for label in [
        "301 s old",
        "a day old",
        "an hour ahead",
        "t=0",
        "t=-1",
        "t=i64::MIN",
        "t=i64::MAX",
    ] {
        cases.push(signed(&format!("timestamp {label}"), sig(label)));
    }
    cases.push(
        Case::post(e, "signature", "the event with one byte changed")
            .body(event.replacen("expired", "expirex", 1))
            .header("Stripe-Signature", good.clone())
            .exactly(400, "invalid_signature"),
    );
    cases.push(
        Case::post(e, "signature", "the event with a trailing space")
            .body(format!("{event} "))
            .header("Stripe-Signature", good.clone())
            .exactly(400, "invalid_signature"),
    );
    // The real event with the right signature, but not as a POST of JSON.
    for method in ["GET", "DELETE", "PUT", "PATCH"] {
        cases.push(
            Case::post(e, "wrong-method", format!("{method}, signed"))
                .method(method)
                .body(if matches!(method, "GET" | "DELETE") {
                    ""
                } else {
                    event
                })
                .header("Stripe-Signature", good.clone())
                .exactly(405, "method_not_allowed"),
        );
    }
    for (name, content_type) in [
        ("no Content-Type, signed", None),
        ("text/plain, signed", Some(&b"text/plain"[..])),
        (
            "form, signed",
            Some(&b"application/x-www-form-urlencoded"[..]),
        ),
    ] {
        cases.push(
            Case::post(e, "content-type", name)
                .content_type(content_type)
                .body(event)
                .header("Stripe-Signature", good.clone())
                .exactly(415, "unsupported_media_type"),
        );
    }
    cases
}

/// Signed bodies that are not events: the signature passes, the payload is refused. Needs a
/// signature per body, computed up front.
pub(super) fn signed_non_events(f: &Fixtures) -> Result<Vec<Case>> {
    let own = &f.own;
    let event_with = |object: Value, id: Value| {
        json!({ "id": id, "type": "checkout.session.expired", "data": { "object": object } })
            .to_string()
    };
    let bodies: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("{}", "{}".into()),
        ("[]", "[]".into()),
        ("null", "null".into()),
        ("a string", "\"evt\"".into()),
        (
            "no data",
            json!({ "id": "evt_h1", "type": "checkout.session.expired" }).to_string(),
        ),
        ("no object id", event_with(json!({}), json!("evt_h2"))),
        (
            "a number for the id",
            event_with(json!({ "id": own.id }), json!(1)),
        ),
        (
            "metadata with a number",
            event_with(
                json!({ "id": own.id, "metadata": { "cart_reservation": 1 } }),
                json!("evt_h3"),
            ),
        ),
        (
            "a 300-character event id",
            event_with(
                json!({ "id": own.id, "metadata": { "cart_reservation": own.reservation } }),
                json!(format!("evt_{}", "a".repeat(296))),
            ),
        ),
        (
            "an event id with a space",
            event_with(
                json!({ "id": own.id, "metadata": { "cart_reservation": own.reservation } }),
                json!("evt 1"),
            ),
        ),
        ("10,000 `[`", "[".repeat(10_000)),
        (
            "truncated event",
            f.event
                .get(..f.event.len() / 2)
                .unwrap_or_default()
                .to_owned(),
        ),
        ("NaN", f.event.replacen(':', ":NaN,\"x\":", 1)),
    ];
    let now = crate::now_s();
    let mut cases = Vec::new();
    for (name, body) in bodies {
        let header = crate::stripe_signature(&body, WEBHOOK_SECRET, now)?;
        cases.push(
            Case::post(Endpoint::StripeWebhook, "signed-non-event", name)
                .body(body)
                .header("Stripe-Signature", header)
                .exactly(400, "invalid_json"),
        );
    }
    Ok(cases)
}
