//! The hostile corpus: every HTTP endpoint of a running [`Stack`] is sent a fixed corpus of
//! malformed, malicious and out-of-place requests plus `generated` seeded random ones, through the
//! function URLs of `cargo lambda watch` and, for what only API Gateway can send (base64 bodies,
//! control characters in headers), as API Gateway HTTP API (payload 2.0) events through the Lambda
//! Invoke API.
//!
//! Each answer must be a 4xx `{"type":"error","code":…,"message":…}` with a code of the taxonomy
//! and a message free of internals; most cases also name the exact status and code. After the whole
//! corpus nothing may have changed: no Stripe write to a Checkout Session, the sessions used
//! byte-identical, the inventory table (stock and holds) identical; and no function log may hold a
//! secret (the Stripe key, the webhook signing secret, a session's `client_secret`).
//!
//! The corpus (`corpus`: the cases and the sessions they aim at) is built first; the runner
//! (`runner`: sending, judging, the state and log checks, the report) then sends it.
//!
//! Used by `tests/tests/hostile.rs` and by the `reliability` command.

mod corpus;
mod runner;

pub use runner::{CorpusReport, Outcome};

use crate::{Result, Rng, Stack};
use corpus::{fixed_corpus, generated_case, setup};
use runner::{log_files, run_all, secrets_in_logs, snapshot, state_changes};
use std::time::Instant;

/// Sends the fixed corpus and `generated` seeded random cases to every HTTP endpoint of `stack`,
/// then checks that nothing changed and that no secret reached a function log.
pub fn run_corpus(stack: &Stack, generated: usize, seed: u64) -> Result<CorpusReport> {
    let started = Instant::now();
    let fixtures = setup(stack)?;
    let mut cases = fixed_corpus(&fixtures)?;
    let mut rng = Rng(seed);
    cases.extend((0..generated).map(|n| generated_case(&mut rng, n, &fixtures)));
    let before = snapshot(stack, &fixtures)?;
    let outcomes = run_all(stack, &cases);
    let state_changes = state_changes(stack, &before)?;
    let secrets_found = secrets_in_logs(&fixtures);
    Ok(CorpusReport {
        outcomes,
        state_changes,
        secrets_found,
        logs_searched: log_files().len(),
        client_secrets_searched: fixtures.client_secrets.len(),
        api_version: stack.api_version,
        seed,
        elapsed: started.elapsed(),
    })
}
