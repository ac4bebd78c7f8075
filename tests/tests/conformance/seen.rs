//! The recorder of one endpoint's answers: each is checked against openapi.yaml as it comes, and
//! at the end every answer the spec lists for the endpoint must have been seen (the coverage check).
//! Also the requests the shared client cannot send: a GET, and a POST with another Content-Type.

use e2e_tests::openapi::Spec;
use e2e_tests::{Endpoint, Reply, Result, Stack};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What one test saw of one endpoint: (method, status) -> codes.
#[derive(Debug)]
pub(super) struct Seen {
    endpoint: Endpoint,
    answers: BTreeMap<(String, u16), BTreeSet<String>>,
}

impl Seen {
    pub(super) fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            answers: BTreeMap::new(),
        }
    }

    /// Asserts the answer (status, body and headers) conforms, and remembers it.
    pub(super) fn record(&mut self, spec: &Spec, what: &str, method: &str, reply: &Reply) {
        let route = self.endpoint.route();
        let mut problems = spec.check(route, method, reply.status, &reply.body);
        problems.extend(spec.check_headers(route, method, reply));
        assert!(
            problems.is_empty(),
            "{what}: {method} {route} answered {} {} (Retry-After {:?}, replayed {}), which \
             openapi.yaml does not allow:\n  {}",
            reply.status,
            reply.body,
            reply.retry_after,
            reply.replayed,
            problems.join("\n  ")
        );
        let codes = self
            .answers
            .entry((method.to_owned(), reply.status))
            .or_default();
        if let Some(code) = reply.body["code"].as_str() {
            codes.insert(code.to_owned());
        }
    }

    /// POSTs to the endpoint, records the answer, and returns it.
    pub(super) fn post(
        &mut self,
        spec: &Spec,
        stack: &Stack,
        what: &str,
        input: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let reply = stack.functions.call(self.endpoint, input, headers)?;
        self.record(spec, what, "POST", &reply);
        Ok(reply)
    }

    /// The answers given before the body is read: too large (413, checked before the signature
    /// on the webhook) and not JSON (415), each also with a body that would otherwise be valid.
    pub(super) fn unread(&mut self, spec: &Spec, stack: &Stack) -> Result {
        let big = json!({ "pad": "x".repeat(self.endpoint.body_limit()) }).to_string();
        let too_large = stack.functions.call(self.endpoint, &big, &[])?;
        assert_eq!(too_large.status, 413, "{}", too_large.body);
        self.record(spec, "a body over the limit", "POST", &too_large);
        let url = stack.functions.endpoint_url(self.endpoint);
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let reply = send_as(&url, content_type, "{}")?;
            assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.body);
            self.record(spec, "not sent as JSON", "POST", &reply);
        }
        let charset = send_as(&url, Some("Application/JSON; charset=UTF-8"), "[]")?;
        assert_ne!(charset.status, 415, "{}", charset.body);
        self.record(spec, "JSON with a charset", "POST", &charset);
        Ok(())
    }

    /// GETs the endpoint straight from its function URL (the HTTP API would not route it).
    pub(super) fn get(&mut self, spec: &Spec, stack: &Stack) -> Result {
        let reply = get(&stack.functions.endpoint_url(self.endpoint))?;
        self.record(spec, "GET on the function URL", "GET", &reply);
        Ok(())
    }

    /// Asserts that every answer the spec says the function gives was produced, with every code,
    /// except those listed as not reproducible locally.
    pub(super) fn assert_covers(&self, spec: &Spec, not_reproducible: &[(u16, &str)]) -> Result {
        let route = self.endpoint.route();
        for method in ["POST", "GET"] {
            for (status, mut codes) in spec.function_answers(route, method)? {
                codes.retain(|c| !not_reproducible.contains(&(status, c.as_str())));
                let key = (method.to_owned(), status);
                let seen = self.answers.get(&key).cloned().unwrap_or_default();
                assert!(
                    self.answers.contains_key(&key) || codes.is_empty() && status != 200,
                    "openapi.yaml lists {method} {route} -> {status}, which no request produced; \
                     seen: {:?}",
                    self.answers
                );
                assert_eq!(
                    seen, codes,
                    "{method} {route} {status}: codes produced vs listed in openapi.yaml"
                );
            }
        }
        Ok(())
    }
}

fn get(url: &str) -> Result<Reply> {
    let response = agent().get(url).call()?;
    reply(response)
}

/// POSTs `input` with the given Content-Type (or none): `Functions::call` always sends JSON's.
fn send_as(url: &str, content_type: Option<&str>, input: &str) -> Result<Reply> {
    let mut request = agent().post(url);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    reply(request.send(input)?)
}

/// The shared client's settings (statuses are answers, not errors), which the library keeps to
/// itself.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// The answer with the headers the spec checks.
fn reply(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (retry_after, replayed) = (header("retry-after"), header("idempotent-replayed"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok(Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        replayed: replayed.as_deref() == Some("true"),
        retry_after,
    })
}
