//! The hostile corpus: the requests (`Case`) and what each must be answered with, assembled into
//! the fixed corpus here and generated, seeded, in `generated`. The cases aim at the sessions of
//! `fixtures`.

mod case;
mod fields;
mod fixtures;
mod generated;
mod http;
mod rules;
mod syntax;
mod text;
mod values;
mod webhook;

pub(crate) use case::{Case, Expect, Transport};
pub(crate) use fixtures::{setup, Fixtures};
pub(crate) use generated::generated_case;
pub(crate) use text::shorten;

use crate::{Endpoint, Result};
use fields::valid_body;
use http::{base64_cases, header_cases};
use rules::{business_cases, session_state_cases};
use serde_json::Value;
use syntax::{invalid_json_cases, shape_cases, size_cases};
use values::field_cases;
use webhook::{signed_non_events, webhook_cases};

/// The fixed corpus: each cart endpoint's cases, then the session states and business rules,
/// then the webhook's.
pub(crate) fn fixed_corpus(f: &Fixtures) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for endpoint in Endpoint::CART {
        let own = valid_body(endpoint, &f.own, f);
        let text = own.to_string();
        cases.extend(invalid_json_cases(endpoint, &text));
        cases.extend(shape_cases(endpoint, &text));
        cases.extend(size_cases(endpoint, &own));
        cases.extend(field_cases(endpoint, f));
        cases.extend(header_cases(endpoint, f));
        cases.extend(base64_cases(endpoint, f));
    }
    for endpoint in Endpoint::SESSION {
        cases.extend(session_state_cases(endpoint, f));
    }
    cases.extend(business_cases(f));

    let event: Value = serde_json::from_str(&f.event)?;
    // Unsigned: the signature is checked before the payload is read.
    for case in invalid_json_cases(Endpoint::StripeWebhook, &f.event)
        .into_iter()
        .chain(shape_cases(Endpoint::StripeWebhook, &f.event))
    {
        cases.push(case.exactly(400, "invalid_signature"));
    }
    for case in size_cases(Endpoint::StripeWebhook, &event) {
        let expect = if case.category == "too-large" {
            Expect::Exactly(413, "payload_too_large")
        } else {
            Expect::Exactly(400, "invalid_signature")
        };
        cases.push(case.expect(expect));
    }
    cases.extend(webhook_cases(f));
    cases.extend(signed_non_events(f)?);
    cases.extend(base64_cases(Endpoint::StripeWebhook, f));
    Ok(cases)
}
