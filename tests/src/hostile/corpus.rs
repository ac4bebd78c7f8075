//! The hostile corpus: the requests (`Case`) and what each must be answered with, assembled into
//! the fixed corpus here and generated, seeded, in `generated`. The cases aim at the sessions of
//! `fixtures`.

mod fields;
mod fixtures;
mod generated;
mod http;
mod rules;
mod syntax;
mod text;
mod values;
mod webhook;

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

/// What a case must be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Any 4xx error of the taxonomy.
    Refused,
    /// This status and code.
    Exactly(u16, &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// The function URL of `cargo lambda watch`.
    Url,
    /// An API Gateway HTTP API event through the Invoke API; the body goes in verbatim (already
    /// base64 when `base64`).
    Invoke { base64: bool },
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) endpoint: Endpoint,
    pub(crate) category: &'static str,
    pub(crate) name: String,
    pub(crate) method: &'static str,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) transport: Transport,
    pub(crate) expect: Expect,
}

impl Case {
    /// A JSON POST to `endpoint`.
    fn post(endpoint: Endpoint, category: &'static str, name: impl Into<String>) -> Self {
        Self {
            endpoint,
            category,
            name: name.into(),
            method: "POST",
            headers: vec![("Content-Type".into(), b"application/json".to_vec())],
            body: Vec::new(),
            transport: Transport::Url,
            expect: Expect::Refused,
        }
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    fn exactly(self, status: u16, code: &'static str) -> Self {
        self.expect(Expect::Exactly(status, code))
    }

    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Replaces (or, with `None`, removes) the Content-Type.
    fn content_type(mut self, value: Option<&[u8]>) -> Self {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        if let Some(value) = value {
            self.headers
                .insert(0, ("Content-Type".into(), value.to_vec()));
        }
        self
    }

    fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    fn invoke(mut self, base64: bool) -> Self {
        self.transport = Transport::Invoke { base64 };
        self
    }
}

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
