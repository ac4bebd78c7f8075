//! openapi.yaml against reality: each built HTTP function, behind cargo-lambda's runtime emulation
//! with the Stripe emulator and local DynamoDB, is driven into every answer the spec says it gives,
//! and each real status, body and header is validated against the spec. A field, type, status, code
//! or header the spec does not allow fails the test, and so does a status or code the spec lists for
//! a function that no request produced (bar the few named as not reproducible locally).
//!
//! The validator itself is `e2e_tests::openapi`; the tests live in `conformance/` (one module per
//! topic), as cargo would build every file directly in `tests/` as a test crate of its own.

mod conformance;
