//! `bench idempotency`: what the idempotency + lease layer costs.

use crate::measure::{first, last, percentile};
use crate::table::machine;
use e2e_tests::{Result, Stack, GA_VERSION};
use serde_json::{json, Value};

pub(crate) fn idempotency(requests: usize) -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let c = &stack.catalog;
    let session = stack.create_session(&[(&c.monthly, 1), (&c.sticker, 2)])?;
    let id = session["id"].as_str().ok_or("session id")?;
    let body = |n: usize| {
        let interval = if n % 2 == 0 { "yearly" } else { "monthly" };
        json!({ "checkout_session_id": id, "interval": interval }).to_string()
    };
    // Warm up the connection pools and the instance.
    stack.change_interval(&body(1))?;

    let mut kinds = Vec::new();
    for n in 0..requests {
        stack.change_interval_keyed(&body(n), &format!("bench-{n}"))?;
        kinds.push("with a new key");
    }
    for n in 0..requests {
        stack.change_interval_keyed(&body(n), &format!("bench-{n}"))?;
        kinds.push("replay of a key");
    }
    for n in 0..requests {
        stack.change_interval(&body(n))?;
        kinds.push("without a key");
    }

    // One instance handles requests in order, so log lines line up with `kinds` (after warm-up).
    let logged: Vec<Value> = stack
        .functions
        .responses_logged()
        .into_iter()
        .skip(1)
        .collect();
    if logged.len() != kinds.len() {
        return Err(format!("expected {} log lines, found {}", kinds.len(), logged.len()).into());
    }
    println!(
        "change-interval against moto + stripe-emulator, {requests} requests per row; {}\n",
        machine()
    );
    println!(
        "{:<16} {:>9} {:>13} {:>13} {:>13} {:>13}",
        "request", "dynamo RT", "guard p50 ms", "guard p99 ms", "total p50 ms", "total p99 ms"
    );
    for kind in ["with a new key", "replay of a key", "without a key"] {
        let rows: Vec<&Value> = logged
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| **k == kind)
            .map(|(l, _)| l)
            .collect();
        let field = |name: &str| -> Vec<f64> {
            let mut v: Vec<f64> = rows.iter().filter_map(|f| f[name].as_f64()).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let trips = field("dynamo_round_trips");
        let guard = field("guard_us");
        let total = field("elapsed_us");
        println!(
            "{:<16} {:>9} {:>13.2} {:>13.2} {:>13.2} {:>13.2}",
            kind,
            format!("{}-{}", first(&trips), last(&trips)),
            percentile(&guard, 0.50) / 1e3,
            percentile(&guard, 0.99) / 1e3,
            percentile(&total, 0.50) / 1e3,
            percentile(&total, 0.99) / 1e3,
        );
    }
    println!("\nguard = time in DynamoDB calls of the idempotency record + session lease layer");
    Ok(())
}
