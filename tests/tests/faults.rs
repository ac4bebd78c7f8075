//! The short fault run of every test command (the `reliability` command runs the long one):
//! with about a third of Stripe's checkout calls failing and some webhooks lost, every retried
//! key converges, nothing is oversold and nothing stays held once every session has ended.

use e2e_tests::faults::{run_faults, FaultPlan};
use e2e_tests::Result;

#[test]
fn under_stripe_faults_and_lost_webhooks_keys_converge_and_stock_balances() -> Result {
    let report = run_faults(FaultPlan {
        operations: 120,
        threads: 6,
        seed: 11,
    })?;
    eprintln!("{}", report.table());
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    assert!(
        report.failure_rate() >= 0.2,
        "faults were injected: {:.2}",
        report.failure_rate()
    );
    assert_eq!(report.converged, report.operations);
    Ok(())
}
