//! One request of the corpus and what it must be answered with, built step by step.

use crate::Endpoint;

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
    pub(super) fn post(
        endpoint: Endpoint,
        category: &'static str,
        name: impl Into<String>,
    ) -> Self {
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

    pub(super) fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub(super) fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    pub(super) fn exactly(self, status: u16, code: &'static str) -> Self {
        self.expect(Expect::Exactly(status, code))
    }

    pub(super) fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Replaces (or, with `None`, removes) the Content-Type.
    pub(super) fn content_type(mut self, value: Option<&[u8]>) -> Self {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        if let Some(value) = value {
            self.headers
                .insert(0, ("Content-Type".into(), value.to_vec()));
        }
        self
    }

    pub(super) fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    pub(super) fn invoke(mut self, base64: bool) -> Self {
        self.transport = Transport::Invoke { base64 };
        self
    }
}
