//! The printed tables.

use crate::measure::{percentile, Row, Settings, CONCURRENCY};

pub(crate) fn print_table(
    settings: &Settings,
    rows: &[Row],
    peer: Option<&Row>,
    rust: Option<&Row>,
) {
    println!(
        "\n{} requests per phase; injected latency: Stripe {} ms/call, DynamoDB {} ms/call; \
         {} function instances; {}",
        settings.requests,
        settings.stripe_ms,
        settings.dynamo_ms,
        CONCURRENCY,
        machine()
    );
    println!(
        "\n| action | sequential round trips (Stripe + DynamoDB) | p50 ms | p90 ms | p99 ms | \
         over waits p50 ms | CPU ms/request (user) | peak RSS MB | req/s c=1 | req/s c=8 | non-200 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows.iter().chain(peer) {
        print_row(row);
    }
    if let (Some(rust), Some(peer)) = (rust, peer) {
        println!(
            "\npeer / Rust (change-interval): latency over the waits p50 {:.1}×, CPU per \
             request {:.1}×, peak RSS {:.1}×, req/s at c=8 {:.2}× (Rust/peer)",
            percentile(&peer.over_waits_ms, 0.5) / percentile(&rust.over_waits_ms, 0.5),
            peer.cpu_ms_per_request / rust.cpu_ms_per_request,
            peer.peak_rss_mb / rust.peak_rss_mb,
            rust.rps_8 / peer.rps_8,
        );
    }
    println!(
        "\nround trips: remote calls in the request's window, calls in flight together counted \
         once (min–max over the sequential phase); over waits = latency − injected latency of \
         those calls. Rust requests pass through cargo-lambda's function-URL proxy, the peer's \
         go straight to Express. CPU: time on CPU of every thread of the function processes over \
         the sequential phase (/proc/<pid>/task/*/schedstat), user share from /proc/<pid>/stat \
         ticks."
    );
}

pub(crate) fn print_row(row: &Row) {
    let rts = |f: fn(&(usize, usize, usize)) -> usize| {
        let min = row.round_trips.iter().map(f).min().unwrap_or(0);
        let max = row.round_trips.iter().map(f).max().unwrap_or(0);
        if min == max {
            min.to_string()
        } else {
            format!("{min}–{max}")
        }
    };
    println!(
        "| {} | {} ({} + {}) | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} ({:.2}) | {:.1} | {:.0} | {:.0} | {} |",
        row.name,
        rts(|t| t.0),
        rts(|t| t.1),
        rts(|t| t.2),
        percentile(&row.latency_ms, 0.50),
        percentile(&row.latency_ms, 0.90),
        percentile(&row.latency_ms, 0.99),
        percentile(&row.over_waits_ms, 0.50),
        row.cpu_ms_per_request,
        row.user_ms_per_request,
        row.peak_rss_mb,
        row.rps_1,
        row.rps_8,
        row.errors,
    );
}

/// CPU model and core count, for the table's caption.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let profile = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    format!("{model}, {cores} cores, {profile}")
}
