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

use e2e_tests::{
    in_parallel, listening_address, proc_stat_fields, Dynamo, Endpoint, Job, Result, Stack,
    GA_VERSION, MUG_SKU, PREVIEW_VERSION, SECRET_KEY, TEE_SKU,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
        Some("actions") => actions(&Settings {
            requests: usize::try_from(flag("--requests", 200)?)?,
            stripe_ms: flag("--stripe-ms", 20)?,
            dynamo_ms: flag("--dynamo-ms", 0)?,
            peer: !rest.iter().any(|a| a == "--no-peer"),
        }),
        Some("cold-start") => cold_start(usize::try_from(flag("--runs", 10)?)?),
        Some("idempotency") => {
            let requests = rest.first().map_or(Ok(100), |n| n.parse())?;
            idempotency(requests)
        }
        _ => Err("usage: bench actions|cold-start|idempotency [options] (see the source)".into()),
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    requests: usize,
    stripe_ms: u64,
    dynamo_ms: u64,
    peer: bool,
}

/// Client threads (and function instances) of the concurrent phase.
const CONCURRENCY: usize = 8;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// One request as the client saw it.
#[derive(Debug, Clone, Copy)]
struct Timed {
    start_us: u64,
    end_us: u64,
    status: u16,
}

/// A remote call as an emulator logged it.
#[derive(Debug, Clone, Copy)]
struct Call {
    start_us: u64,
    end_us: u64,
    stripe: bool,
}

/// What one row of the table measured.
#[derive(Debug, Default)]
struct Row {
    name: String,
    round_trips: Vec<(usize, usize, usize)>,
    latency_ms: Vec<f64>,
    over_waits_ms: Vec<f64>,
    cpu_ms_per_request: f64,
    user_ms_per_request: f64,
    peak_rss_mb: f64,
    rps_1: f64,
    rps_8: f64,
    errors: usize,
}

/// Sends requests to one endpoint: the Rust function through cargo-lambda's function URL or the
/// peer's Express server.
struct Target<'a> {
    url: String,
    pids: Vec<u32>,
    agent: &'a ureq::Agent,
}

impl Target<'_> {
    fn send(&self, body: &str, key: &str) -> Timed {
        let start_us = now_us();
        let status = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .send(body)
            .map_or(0, |mut r| {
                let _ = r.body_mut().read_to_string();
                r.status().as_u16()
            });
        Timed {
            start_us,
            end_us: now_us(),
            status,
        }
    }
}

/// `/proc/<pid>/stat` (user, system) time of the whole process (every thread), in ms. Each value
/// is rounded to the 10 ms clock tick, so only their ratio is used (see [`Cpu`]).
fn ticks_ms(pids: &[u32]) -> (f64, f64) {
    // Linux reports it in clock ticks of 1/100 s (USER_HZ) on every architecture Lambda runs.
    const TICK_MS: f64 = 10.0;
    pids.iter()
        .filter_map(|&pid| proc_stat_fields(pid))
        .filter_map(|fields| {
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime * TICK_MS, stime * TICK_MS))
        })
        .fold((0.0, 0.0), |(u, s), (du, ds)| (u + du, s + ds))
}

/// Time on CPU of every thread of `pids`, in ms, to the nanosecond: the scheduler's own count
/// (first field of `/proc/<pid>/task/<tid>/schedstat`). The tick-rounded `/proc/<pid>/stat`
/// loses up to 10 ms per process at each read, which over 8 instances and 200 requests of ~1 ms
/// made the per-request figure swing by a third between runs.
fn on_cpu_ms(pids: &[u32]) -> f64 {
    let mut ns: u64 = 0;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let schedstat =
                std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            ns += schedstat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 / 1e6
}

/// A process group's CPU time at one moment: exact total, and the user/system split by ticks.
#[derive(Debug, Clone, Copy)]
struct Cpu {
    total_ms: f64,
    user_ticks_ms: f64,
    system_ticks_ms: f64,
}

impl Cpu {
    fn now(pids: &[u32]) -> Self {
        let (user_ticks_ms, system_ticks_ms) = ticks_ms(pids);
        Self {
            total_ms: on_cpu_ms(pids),
            user_ticks_ms,
            system_ticks_ms,
        }
    }

    /// (total, user) ms per request between `before` and `self`; the user part is the total
    /// times the share of user ticks.
    fn per_request_since(&self, before: &Self, requests: f64) -> (f64, f64) {
        let total = (self.total_ms - before.total_ms) / requests;
        let user = self.user_ticks_ms - before.user_ticks_ms;
        let ticks = user + self.system_ticks_ms - before.system_ticks_ms;
        let user_share = if ticks > 0.0 { user / ticks } else { 0.0 };
        (total, total * user_share)
    }
}

/// Largest peak resident set (VmHWM) among `pids`, in MB.
fn peak_rss_mb(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        })
        .fold(0.0, f64::max)
}

/// Remote calls inside `[start, end]`, grouped into sequential round trips: calls whose times
/// overlap were in flight together and count once. Returns (total, Stripe, DynamoDB).
fn round_trips(calls: &[Call], request: &Timed) -> (usize, usize, usize) {
    let mut inside: Vec<Call> = calls
        .iter()
        .filter(|c| c.start_us >= request.start_us && c.start_us <= request.end_us)
        .copied()
        .collect();
    inside.sort_by_key(|c| c.start_us);
    let (mut total, mut stripe, mut dynamo) = (0, 0, 0);
    let mut group_end = 0;
    for call in inside {
        if call.start_us >= group_end {
            total += 1;
        }
        group_end = group_end.max(call.end_us);
        if call.stripe {
            stripe += 1;
        } else {
            dynamo += 1;
        }
    }
    (total, stripe, dynamo)
}

fn calls_logged(stack: &Stack) -> Result<Vec<Call>> {
    let field = |v: &Value, name: &str| v[name].as_u64().unwrap_or(0);
    let mut calls: Vec<Call> = stack
        .stripe
        .requests()?
        .iter()
        .map(|r| Call {
            start_us: field(r, "received_at_us"),
            end_us: field(r, "received_at_us") + field(r, "elapsed_us"),
            stripe: true,
        })
        .collect();
    calls.extend(stack.dynamo.requests()?.iter().map(|r| Call {
        start_us: field(r, "received_at_us"),
        end_us: field(r, "received_at_us") + field(r, "elapsed_us"),
        stripe: false,
    }));
    Ok(calls)
}

/// A request body for request `n` of a scenario, on the session its client thread works on.
type BodyFor<'a> = Box<dyn Fn(usize, usize) -> String + Sync + 'a>;

/// Runs `requests` requests one at a time, then `requests` from [`CONCURRENCY`] clients.
fn measure(
    stack: &Stack,
    settings: &Settings,
    name: &str,
    target: &Target<'_>,
    body: &BodyFor<'_>,
) -> Result<Row> {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let tag = format!("{slug}-{}", now_us());
    for n in 0..3 {
        let warm = target.send(&body(usize::MAX - n, 0), &format!("{tag}-warm-{n}"));
        if warm.status != 200 {
            return Err(format!("{name}: warm-up answered {}", warm.status).into());
        }
    }
    let cpu_before = Cpu::now(&target.pids);
    let started = Instant::now();
    let sequential: Vec<Timed> = (0..settings.requests)
        .map(|n| target.send(&body(n, 0), &format!("{tag}-{n}")))
        .collect();
    let elapsed_1 = started.elapsed();
    let cpu_after = Cpu::now(&target.pids);
    let (cpu_ms_per_request, user_ms_per_request) =
        cpu_after.per_request_since(&cpu_before, settings.requests as f64);

    let per_client = settings.requests.div_ceil(CONCURRENCY);
    let jobs: Vec<Job<'_, Vec<Timed>>> = (0..CONCURRENCY)
        .map(|client| {
            let tag = &tag;
            Box::new(move || {
                (0..per_client)
                    .map(|n| {
                        let n = settings.requests + client * per_client + n;
                        target.send(&body(n, client), &format!("{tag}-c-{n}"))
                    })
                    .collect()
            }) as Job<'_, _>
        })
        .collect();
    let started = Instant::now();
    let concurrent: Vec<Timed> = in_parallel(CONCURRENCY, jobs).concat();
    let elapsed_8 = started.elapsed();

    let calls = calls_logged(stack)?;
    let mut row = Row {
        name: name.to_owned(),
        cpu_ms_per_request,
        user_ms_per_request,
        peak_rss_mb: peak_rss_mb(&target.pids),
        rps_1: settings.requests as f64 / elapsed_1.as_secs_f64(),
        rps_8: concurrent.len() as f64 / elapsed_8.as_secs_f64(),
        errors: sequential
            .iter()
            .chain(&concurrent)
            .filter(|t| t.status != 200)
            .count(),
        ..Row::default()
    };
    for request in &sequential {
        let trips = round_trips(&calls, request);
        let latency = (request.end_us - request.start_us) as f64 / 1e3;
        let waits =
            (trips.1 * settings.stripe_ms as usize + trips.2 * settings.dynamo_ms as usize) as f64;
        row.round_trips.push(trips);
        row.latency_ms.push(latency);
        row.over_waits_ms.push(latency - waits);
    }
    row.latency_ms.sort_by(f64::total_cmp);
    row.over_waits_ms.sort_by(f64::total_cmp);
    Ok(row)
}

fn actions(settings: &Settings) -> Result {
    let dynamo = Dynamo::start_with_latency(settings.dynamo_ms)?;
    let stack = Stack::builder(PREVIEW_VERSION)
        .dynamo(dynamo)
        .instances(CONCURRENCY)
        .start()?;
    let c = &stack.catalog;
    stack.dynamo.receive(TEE_SKU, 1_000_000)?;
    stack.dynamo.receive(MUG_SKU, 1_000_000)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();

    // Sessions the scenarios work on, made by create-session like the shop's would be: one per
    // client thread, and fresh ones for the cross-sell (an offer is added once per cart).
    let carts = |items: &[(&str, i64)], count: usize| -> Result<Vec<(String, Vec<String>)>> {
        (0..count)
            .map(|_| {
                let reply = stack.create_cart(items, None)?;
                let session = &reply.body["session"];
                let id = session["id"].as_str().ok_or("session id")?.to_owned();
                let lines = session["line_items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|li| li["id"].as_str().map(str::to_owned))
                    .collect();
                Ok((id, lines))
            })
            .collect()
    };
    let plan_and_sticker = carts(&[(&c.monthly, 1), (&c.sticker, 1)], CONCURRENCY)?;
    let plan_and_tee = carts(&[(&c.monthly, 1), (&c.tee, 1)], CONCURRENCY)?;
    let bare_plans = carts(&[(&c.monthly, 1)], 2 * settings.requests + 3 + CONCURRENCY)?;
    if settings.stripe_ms > 0 {
        stack
            .stripe
            .inject_fault(&json!({ "path_prefix": "/v1", "latency_ms": settings.stripe_ms }))?;
    }

    let interval = |n: usize| if n % 2 == 0 { "yearly" } else { "monthly" };
    let target = |endpoint: Endpoint| Target {
        url: stack.functions.endpoint_url(endpoint),
        pids: stack.functions.pids(endpoint.function()),
        agent: &agent,
    };
    let change_interval: BodyFor<'_> = Box::new(|n, client| {
        json!({ "checkout_session_id": plan_and_sticker[client].0, "interval": interval(n) })
            .to_string()
    });
    let scenarios: Vec<(&str, Target<'_>, BodyFor<'_>)> = vec![
        (
            "create-session (holds stock)",
            target(Endpoint::CreateSession),
            Box::new(|_, _| {
                json!({ "items": [{ "price": c.monthly, "quantity": 1 },
                                  { "price": c.tee, "quantity": 1 }] })
                .to_string()
            }),
        ),
        (
            "change-interval",
            target(Endpoint::ChangeInterval),
            Box::new(&change_interval),
        ),
        (
            "update-quantity (no stock)",
            target(Endpoint::UpdateQuantity),
            Box::new(|n, client| {
                let (id, lines) = &plan_and_sticker[client];
                json!({ "checkout_session_id": id, "line_item_id": lines.get(1),
                        "quantity": 1 + n % 2 })
                .to_string()
            }),
        ),
        (
            "update-quantity (stock move)",
            target(Endpoint::UpdateQuantity),
            Box::new(|n, client| {
                let (id, lines) = &plan_and_tee[client];
                json!({ "checkout_session_id": id, "line_item_id": lines.get(1),
                        "quantity": 1 + n % 2 })
                .to_string()
            }),
        ),
        (
            "add-cross-sell (stock move)",
            target(Endpoint::AddCrossSell),
            Box::new(|n, _| {
                // Each request its own cart: warm-ups count down from usize::MAX.
                let cart = if n > usize::MAX / 2 {
                    usize::MAX - n
                } else {
                    n + 3
                };
                json!({ "checkout_session_id": bare_plans[cart % bare_plans.len()].0,
                        "price_id": c.mug })
                .to_string()
            }),
        ),
        (
            "update-shipping",
            target(Endpoint::UpdateShipping),
            Box::new(|n, client| {
                json!({ "checkout_session_id": plan_and_tee[client].0, "shipping_details": {
                    "name": "Ada Lovelace", "address": { "line1": "1 Main St",
                    "city": "Springfield", "postal_code": "94105",
                    "country": if n % 2 == 0 { "US" } else { "CA" } } } })
                .to_string()
            }),
        ),
    ];
    let mut rows = Vec::new();
    for (name, target, body) in &scenarios {
        eprintln!("measuring {name} …");
        rows.push(measure(&stack, settings, name, target, body)?);
    }
    let rust_change = rows.iter().position(|r| r.name == "change-interval");

    let peer = if settings.peer {
        eprintln!("measuring the Node.js peer …");
        let (mut process, url) = start_peer(&stack)?;
        let pid = process.id();
        let row = measure(
            &stack,
            settings,
            "peer: change-interval (Node.js)",
            &Target {
                url: format!("{url}/change-subscription-interval"),
                pids: vec![pid],
                agent: &agent,
            },
            &change_interval,
        );
        drop(process.stdin.take());
        let _ = process.wait();
        Some(row?)
    } else {
        None
    };

    print_table(
        settings,
        &rows,
        peer.as_ref(),
        rust_change.map(|i| &rows[i]),
    );
    Ok(())
}

/// Starts bench/peer-node against the stack's emulators; returns the process and its URL.
fn start_peer(stack: &Stack) -> Result<(Child, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/peer-node");
    if !dir.join("node_modules").exists() {
        return Err(
            "bench/peer-node has no node_modules: run `npm ci` there (bench/run.sh does)".into(),
        );
    }
    let mut command = Command::new("node");
    command
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", "0")
        .env("STRIPE_API_BASE", &stack.stripe.base)
        .env("STRIPE_SECRET_KEY", SECRET_KEY)
        .env("STRIPE_API_VERSION", stack.api_version)
        .env("CATALOG_JSON", stack.catalog.json())
        .envs(stack.dynamo.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut process = command.spawn()?;
    let url = listening_address(&mut process, "peer listening on ")?;
    Ok((process, url))
}

fn print_table(settings: &Settings, rows: &[Row], peer: Option<&Row>, rust: Option<&Row>) {
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

fn print_row(row: &Row) {
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
fn machine() -> String {
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

/// Starts one fresh change-interval process `runs` times on a running stack and reads what its
/// cold start cost.
fn cold_start(runs: usize) -> Result {
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

fn idempotency(requests: usize) -> Result {
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

fn first(sorted: &[f64]) -> f64 {
    sorted.first().copied().unwrap_or(f64::NAN)
}

fn last(sorted: &[f64]) -> f64 {
    sorted.last().copied().unwrap_or(f64::NAN)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
