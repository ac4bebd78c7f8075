//! What one scenario measures: timed requests, the remote calls they caused, CPU and memory of
//! the function processes, and percentiles.

use e2e_tests::{in_parallel, proc_stat_fields, Job, Result, Stack};
use serde_json::Value;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) requests: usize,
    pub(crate) stripe_ms: u64,
    pub(crate) dynamo_ms: u64,
    pub(crate) peer: bool,
}

/// Client threads (and function instances) of the concurrent phase.
pub(crate) const CONCURRENCY: usize = 8;

pub(crate) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// One request as the client saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timed {
    pub(crate) start_us: u64,
    pub(crate) end_us: u64,
    pub(crate) status: u16,
}

/// A remote call as an emulator logged it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub(crate) start_us: u64,
    pub(crate) end_us: u64,
    pub(crate) stripe: bool,
}

/// What one row of the table measured.
#[derive(Debug, Default)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) round_trips: Vec<(usize, usize, usize)>,
    pub(crate) latency_ms: Vec<f64>,
    pub(crate) over_waits_ms: Vec<f64>,
    pub(crate) cpu_ms_per_request: f64,
    pub(crate) user_ms_per_request: f64,
    pub(crate) peak_rss_mb: f64,
    pub(crate) rps_1: f64,
    pub(crate) rps_8: f64,
    pub(crate) errors: usize,
}

/// Sends requests to one endpoint: the Rust function through cargo-lambda's function URL or the
/// peer's Express server.
pub(crate) struct Target<'a> {
    pub(crate) url: String,
    pub(crate) pids: Vec<u32>,
    pub(crate) agent: &'a ureq::Agent,
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
pub(crate) fn ticks_ms(pids: &[u32]) -> (f64, f64) {
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
pub(crate) fn on_cpu_ms(pids: &[u32]) -> f64 {
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
pub(crate) struct Cpu {
    pub(crate) total_ms: f64,
    pub(crate) user_ticks_ms: f64,
    pub(crate) system_ticks_ms: f64,
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
pub(crate) fn peak_rss_mb(pids: &[u32]) -> f64 {
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
pub(crate) fn round_trips(calls: &[Call], request: &Timed) -> (usize, usize, usize) {
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

pub(crate) fn calls_logged(stack: &Stack) -> Result<Vec<Call>> {
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
pub(crate) type BodyFor<'a> = Box<dyn Fn(usize, usize) -> String + Sync + 'a>;

/// Runs `requests` requests one at a time, then `requests` from [`CONCURRENCY`] clients.
pub(crate) fn measure(
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

pub(crate) fn first(sorted: &[f64]) -> f64 {
    sorted.first().copied().unwrap_or(f64::NAN)
}

pub(crate) fn last(sorted: &[f64]) -> f64 {
    sorted.last().copied().unwrap_or(f64::NAN)
}

/// Nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
