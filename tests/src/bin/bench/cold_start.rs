//! `bench cold-start`: a fresh function process under cargo-lambda's runtime.

use crate::measure::{last, percentile};
use crate::table::machine;
use e2e_tests::{Endpoint, Result, Stack, GA_VERSION};
use serde_json::json;
use std::time::Instant;

/// Starts one fresh change-interval process `runs` times on a running stack and reads what its
/// cold start cost.
pub(crate) fn cold_start(runs: usize) -> Result {
    let mut stack = Stack::start(GA_VERSION, &[])?;
    let c = &stack.catalog;
    let session = stack.create_session(&[(&c.monthly, 1), (&c.sticker, 1)])?;
    let id = session["id"].as_str().ok_or("session id")?.to_owned();
    stack.functions.stop("change-interval");
    let body = |n: usize| {
        json!({ "checkout_session_id": id, "interval": if n % 2 == 0 { "yearly" } else { "monthly" } })
            .to_string()
    };
    let mut init_us = Vec::new();
    let mut spawn_to_ready_ms = Vec::new();
    let mut first_ms = Vec::new();
    let mut warm_ms = Vec::new();
    for run in 0..runs {
        let cold = stack.functions.cold_instance("change-interval")?;
        init_us.push(cold.init_us as f64);
        spawn_to_ready_ms.push(cold.spawn_to_ready.as_secs_f64() * 1e3);
        let send = |n: usize| -> Result<u16> {
            let path = Endpoint::ChangeInterval.route();
            Ok(stack
                .functions
                .send(&cold.name, path, &body(n), &[])?
                .status)
        };
        let started = Instant::now();
        let status = send(2 * run)?;
        first_ms.push(started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        let again = send(2 * run + 1)?;
        warm_ms.push(started.elapsed().as_secs_f64() * 1e3);
        if status != 200 || again != 200 {
            return Err(format!("cold start run {run}: {status}, {again}").into());
        }
        drop(cold);
    }
    for v in [
        &mut init_us,
        &mut spawn_to_ready_ms,
        &mut first_ms,
        &mut warm_ms,
    ] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "\nchange-interval cold start, {runs} fresh processes under cargo-lambda's runtime; {}\n",
        machine()
    );
    println!("| measure | p50 | max |\n|---|---|---|");
    println!(
        "| init inside the process (config, clients, catalog) | {:.2} ms | {:.2} ms |",
        percentile(&init_us, 0.5) / 1e3,
        last(&init_us) / 1e3
    );
    println!(
        "| spawn → ready (exec, runtime, init) | {:.1} ms | {:.1} ms |",
        percentile(&spawn_to_ready_ms, 0.5),
        last(&spawn_to_ready_ms)
    );
    println!(
        "| first request after ready | {:.1} ms | {:.1} ms |",
        percentile(&first_ms, 0.5),
        last(&first_ms)
    );
    println!(
        "| second request (warm) | {:.1} ms | {:.1} ms |",
        percentile(&warm_ms, 0.5),
        last(&warm_ms)
    );
    Ok(())
}
