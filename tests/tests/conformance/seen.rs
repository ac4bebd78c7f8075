//! The recorder of one endpoint's answers: each is checked against openapi.yaml as it comes, and
//! at the end every answer the spec lists for the endpoint must have been seen (the coverage check).

use e2e_tests::openapi::Spec;
use e2e_tests::{Endpoint, Reply, Result, Stack};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

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
    fn unread(&mut self, spec: &Spec, stack: &Stack) -> Result {
        let big = json!({ "pad": "x".repeat(self.endpoint.body_limit()) }).to_string();
        let too_large = stack.functions.call(self.endpoint, &big, &[])?;
        assert_eq!(too_large.status, 413, "{}", too_large.body);
        self.record(spec, "a body over the limit", "POST", &too_large);
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let reply = stack.functions.send_as(self.endpoint, content_type, "{}")?;
            assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.body);
            self.record(spec, "not sent as JSON", "POST", &reply);
        }
        let charset = stack.functions.send_as(
            self.endpoint,
            Some("Application/JSON; charset=UTF-8"),
            "[]",
        )?;
        assert_ne!(charset.status, 415, "{}", charset.body);
        self.record(spec, "JSON with a charset", "POST", &charset);
        Ok(())
    }

    /// GETs the endpoint straight from its function URL (the HTTP API would not route it).
    fn get(&mut self, spec: &Spec, stack: &Stack) -> Result {
        let reply = stack.functions.get(self.endpoint)?;
        self.record(spec, "GET on the function URL", "GET", &reply);
        Ok(())
    }

    /// The answers every endpoint gives before any work (too large, not JSON, a GET), then the
    /// coverage check ([`Seen::assert_covers`]).
    pub(super) fn finish(
        mut self,
        spec: &Spec,
        stack: &Stack,
        not_reproducible: &[(u16, &str)],
    ) -> Result {
        self.unread(spec, stack)?;
        self.get(spec, stack)?;
        self.assert_covers(spec, not_reproducible)
    }

    /// Asserts that every answer the spec says the function gives was produced, with every code,
    /// except those listed as not reproducible locally.
    fn assert_covers(&self, spec: &Spec, not_reproducible: &[(u16, &str)]) -> Result {
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
