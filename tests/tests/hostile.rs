//! The hostile corpus (`e2e_tests::hostile`) against every HTTP endpoint: malformed, malicious and
//! out-of-place requests are all refused with a conforming 4xx, change nothing, and leave no
//! secret in a log.

use e2e_tests::hostile::run_corpus;
use e2e_tests::{Result, Stack, GA_VERSION, PREVIEW_VERSION};

#[test]
fn hostile_requests_are_refused_change_nothing_and_leak_nothing() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let report = run_corpus(&stack, 150, 1)?;
    eprintln!("{}", report.table());
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(report.total() >= 300, "only {} requests", report.total());
    Ok(())
}

/// The preview dialect adds sessions whose line items the client may update (`client_only`),
/// which the functions must refuse too.
#[test]
fn hostile_requests_are_refused_under_the_preview_api_too() -> Result {
    let stack = Stack::start(PREVIEW_VERSION, &[])?;
    let report = run_corpus(&stack, 30, 2)?;
    eprintln!("{}", report.table());
    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| o.name.contains("client_only") && o.status == 409),
        "the client_only session was tried"
    );
    Ok(())
}
