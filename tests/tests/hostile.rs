//! The hostile corpus (`e2e_tests::hostile`) against every HTTP endpoint: malformed, malicious and
//! out-of-place requests are all refused with a conforming 4xx, change nothing, and leave no
//! secret in a log.

use e2e_tests::hostile::{run_corpus, CorpusReport};
use e2e_tests::{Result, Stack, GA_VERSION, PREVIEW_VERSION};

/// The corpus with `generated` seeded random cases on a stack of `api_version`, every case
/// answered as promised.
fn corpus_passes(api_version: &'static str, generated: usize, seed: u64) -> Result<CorpusReport> {
    let stack = Stack::start(api_version, &[])?;
    let report = run_corpus(&stack, generated, seed)?;
    eprintln!("{}", report.table());
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(report)
}

#[test]
fn hostile_requests_are_refused_change_nothing_and_leak_nothing() -> Result {
    let report = corpus_passes(GA_VERSION, 150, 1)?;
    assert!(report.total() >= 300, "only {} requests", report.total());
    Ok(())
}

/// The preview dialect adds sessions whose line items the client may update (`client_only`),
/// which the functions must refuse too.
#[test]
fn hostile_requests_are_refused_under_the_preview_api_too() -> Result {
    let report = corpus_passes(PREVIEW_VERSION, 30, 2)?;
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| o.name.contains("client_only") && o.status == 409),
        "the client_only session was tried"
    );
    Ok(())
}
