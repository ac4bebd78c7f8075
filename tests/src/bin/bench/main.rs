//! Benchmarks against the local stack (Stripe emulator, moto, cargo-lambda's runtime emulation).
//! Prints tables; never asserts. `bench/run.sh` builds what they need and runs them all.
//!
//!     cargo build --release --workspace --bins
//!     cargo run --release -p e2e-tests --bin bench -- actions [--requests N] [--stripe-ms 20]
//!                                                            [--dynamo-ms 0] [--no-peer]
//!     cargo run --release -p e2e-tests --bin bench -- cold-start [--runs N]
//!     cargo run --release -p e2e-tests --bin bench -- idempotency [REQUESTS]
//!
//! `actions`: every action through its function with a fresh Idempotency-Key per request (the
//! full idempotent path): sequential remote round trips (read from the emulators' own request
//! logs), latency percentiles, latency beyond the injected waits, CPU time and peak RSS of the
//! function processes (/proc), throughput at concurrency 1 and 8 (8 instances, as Lambda scales
//! out); beside it the Node.js peer (bench/peer-node) doing change-interval against the same
//! emulators with the same injected latency.
//!
//! `cold-start`: a fresh function process started under cargo-lambda's runtime: its own init time
//! (the `ready` log line), time from spawn to ready, and the first request against warm ones.
//!
//! `idempotency`: what the idempotency + lease layer costs (DynamoDB round trips, time in its
//! store calls) for new keys, replays and requests without a key, from the function's log lines.
#![allow(clippy::print_stdout)]

mod actions;
mod cold_start;
mod idempotency;
mod measure;
mod table;

use e2e_tests::Result;
use measure::Settings;

fn main() -> Result {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let flag = |name: &str, default: u64| -> Result<u64> {
        match rest.iter().position(|a| a == name) {
            Some(i) => Ok(rest.get(i + 1).ok_or("flag without value")?.parse()?),
            None => Ok(default),
        }
    };
    match command.as_deref() {
        Some("actions") => actions::actions(&Settings {
            requests: usize::try_from(flag("--requests", 200)?)?,
            stripe_ms: flag("--stripe-ms", 20)?,
            dynamo_ms: flag("--dynamo-ms", 0)?,
            peer: !rest.iter().any(|a| a == "--no-peer"),
        }),
        Some("cold-start") => cold_start::cold_start(usize::try_from(flag("--runs", 10)?)?),
        Some("idempotency") => {
            let requests = rest.first().map_or(Ok(100), |n| n.parse())?;
            idempotency::idempotency(requests)
        }
        _ => Err("usage: bench actions|cold-start|idempotency [options] (see the source)".into()),
    }
}
