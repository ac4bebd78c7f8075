//! The reliability command: the long runs of the hostile-input corpus and of the fault run, each
//! on a local stack of its own, and a summary. Exits non-zero when a promise was broken.
//!
//!     cargo build --workspace --bins && cargo run -p e2e-tests --bin reliability -- [--quick] [--seed N]
//!
//! `--quick` is the size the test command runs (tests/tests/hostile.rs, tests/tests/faults.rs).
#![allow(clippy::print_stdout)]

use e2e_tests::faults::{run_faults, FaultPlan};
use e2e_tests::hostile::run_corpus;
use e2e_tests::{Result, Stack, GA_VERSION};

fn main() -> Result {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed = match args.iter().position(|a| a == "--seed") {
        Some(i) => args.get(i + 1).ok_or("--seed needs a value")?.parse()?,
        None => 1,
    };
    let (generated, operations) = if quick { (150, 120) } else { (1_000, 600) };

    println!("hostile input: fixed corpus + {generated} generated cases, seed {seed}");
    let corpus = {
        let stack = Stack::start(GA_VERSION, &[])?;
        run_corpus(&stack, generated, seed)?
    };
    println!("{}", corpus.table());

    println!("faults: {operations} client operations, 8 client threads, seed {seed}");
    let faults = run_faults(FaultPlan {
        operations,
        threads: 8,
        seed,
    })?;
    println!("{}", faults.table());

    let corpus_failures = corpus.failures();
    println!("| suite | requests | broken promises |\n|---|---|---|");
    println!(
        "| hostile input (no 5xx, JSON errors, no state change, no secret in logs) | {} | {} |",
        corpus.total(),
        corpus_failures.len()
    );
    println!(
        "| faults ({:.1} % of Stripe calls failed; convergence, oversell, leaks) | {} | {} |",
        100.0 * faults.failure_rate(),
        faults.attempts,
        faults.violations.len()
    );
    let broken: Vec<&String> = corpus_failures.iter().chain(&faults.violations).collect();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("{} broken promises: {broken:#?}", broken.len()).into())
    }
}
