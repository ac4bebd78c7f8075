//! The `tracing` layer behind the logs and the per-invocation metrics: it keeps every span's
//! fields (for the log lines), times the Stripe and DynamoDB calls made inside an invocation, and
//! hands what it measured to the invocation's span, where [`super::Invocation::finish`] reads it.

use super::logs::{self, Fields, Process};
use super::xray::{self, Daemon, Trace};
use std::io::Write as _;
use std::time::{Instant, SystemTime};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The span every invocation runs in.
pub(crate) const INVOCATION_SPAN: &str = "invocation";
/// Its target (a span of that name elsewhere is not an invocation).
pub(crate) const TARGET: &str = "cart_runtime::telemetry";

/// What the calls made during one invocation added up to (kept on the invocation's span).
#[derive(Debug, Default, Clone)]
pub(crate) struct Calls {
    pub(crate) stripe_calls: u64,
    pub(crate) stripe_attempts: u64,
    pub(crate) stripe_us: u64,
    pub(crate) dynamo_calls: u64,
    pub(crate) dynamo_us: u64,
    /// Counts reported with [`super::count`].
    pub(crate) counts: Vec<(&'static str, u64)>,
    /// `session_id`, `outcome` and `code` as the request's spans recorded them.
    pub(crate) properties: Fields,
    /// The sampled X-Ray trace the calls are subsegments of.
    pub(crate) trace: Option<Trace>,
}

/// A remote call being timed (kept on its span).
#[derive(Debug)]
struct Timer {
    remote: Remote,
    started: Instant,
    /// For the X-Ray subsegment.
    wall: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remote {
    Stripe,
    Dynamo,
}

/// The fields of a request that the invocation's metrics document repeats.
const PROPAGATED: [&str; 3] = ["session_id", "outcome", "code"];

/// Which spans are calls: the Stripe transport's `stripe` span (its `attempts` field counts the
/// tries) and the AWS SDK's per-operation span (`DynamoDB.GetItem`, …, target `aws_sdk_dynamodb`).
fn remote(meta: &tracing::Metadata<'_>) -> Option<Remote> {
    if meta.name() == "stripe" && meta.target().starts_with("cart_runtime") {
        Some(Remote::Stripe)
    } else if meta.target().starts_with("aws_sdk_dynamodb") && meta.name().starts_with("DynamoDB.")
    {
        Some(Remote::Dynamo)
    } else {
        None
    }
}

/// Whether the filter lets a callsite through whatever the log level: the spans of this crate and
/// the runtime (their fields belong on every line within them) and the calls that are timed.
pub(crate) fn always_on(meta: &tracing::Metadata<'_>) -> bool {
    if !meta.is_span() {
        return false;
    }
    let target = meta.target();
    target.starts_with("cart_runtime")
        || target.starts_with("lambda_runtime")
        || remote(meta).is_some()
}

#[derive(Debug)]
pub(crate) struct TelemetryLayer {
    process: Process,
    /// Where whole lines go (stdout in a function).
    pub(crate) writer: fn(&[u8]),
    /// The X-Ray daemon the calls are sent to as subsegments (in Lambda with active tracing).
    xray: Option<Daemon>,
}

impl TelemetryLayer {
    pub(crate) fn new(process: Process, writer: fn(&[u8]), xray: Option<Daemon>) -> Self {
        Self {
            process,
            writer,
            xray,
        }
    }
}

/// Runs `f` on the [`Calls`] of the invocation `id` is part of, if any.
fn with_invocation<S>(ctx: &Context<'_, S>, id: &Id, f: impl FnOnce(&mut Calls))
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.span(id) else { return };
    for ancestor in span.scope() {
        let mut extensions = ancestor.extensions_mut();
        if let Some(calls) = extensions.get_mut::<Calls>() {
            f(calls);
            return;
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for TelemetryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let meta = attrs.metadata();
        let mut extensions = span.extensions_mut();
        if meta.name() == INVOCATION_SPAN && meta.target() == TARGET {
            extensions.insert(Calls::default());
        }
        if let Some(remote) = remote(meta) {
            extensions.insert(Timer {
                remote,
                started: Instant::now(),
                wall: SystemTime::now(),
            });
        }
        drop(extensions);
        propagate(&ctx, id, &fields);
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut update = Fields::default();
        values.record(&mut update);
        if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
            for (name, value) in &update.0 {
                fields.set(name, value.clone());
            }
        }
        propagate(&ctx, id, &update);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let extensions = span.extensions();
        let Some(timer) = extensions.get::<Timer>() else {
            return;
        };
        let micros = u64::try_from(timer.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let (remote, wall) = (timer.remote, timer.wall);
        let fields = extensions.get::<Fields>();
        let attempts = fields
            .and_then(|f| f.get("attempts"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        let operation = match remote {
            Remote::Dynamo => span.name().trim_start_matches("DynamoDB.").to_owned(),
            Remote::Stripe => fields
                .and_then(|f| f.get("method"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("POST")
                .to_ascii_uppercase(),
        };
        drop(extensions);
        let mut trace = None;
        with_invocation(&ctx, &id, |calls| {
            match remote {
                Remote::Stripe => {
                    calls.stripe_calls += 1;
                    calls.stripe_attempts += attempts;
                    calls.stripe_us += micros;
                }
                Remote::Dynamo => {
                    calls.dynamo_calls += 1;
                    calls.dynamo_us += micros;
                }
            }
            trace = calls.trace.clone();
        });
        if let (Some(daemon), Some(trace)) = (&self.xray, trace) {
            let call = xray::Call {
                name: match remote {
                    Remote::Stripe => "Stripe",
                    Remote::Dynamo => "DynamoDB",
                },
                operation: &operation,
                started: wall,
                ended: SystemTime::now(),
            };
            daemon.send(&xray::subsegment(&trace, &call));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let scope: Vec<_> = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().collect())
            .unwrap_or_default();
        let extensions: Vec<_> = scope.iter().map(|span| span.extensions()).collect();
        let spans: Vec<&Fields> = extensions
            .iter()
            .filter_map(|e| e.get::<Fields>())
            .collect();
        let location = meta.file().zip(meta.line());
        let mut line = logs::line(
            &self.process,
            *meta.level(),
            meta.target(),
            location,
            &spans,
            &fields,
            SystemTime::now(),
        );
        line.push(b'\n');
        (self.writer)(&line);
    }
}

/// Copies a request's `session_id`, `outcome` and `code` to its invocation.
fn propagate<S>(ctx: &Context<'_, S>, id: &Id, fields: &Fields)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let wanted: Vec<_> = fields
        .0
        .iter()
        .filter(|(name, _)| PROPAGATED.contains(name))
        .collect();
    if wanted.is_empty() {
        return;
    }
    with_invocation(ctx, id, |calls| {
        for (name, value) in wanted {
            calls.properties.set(name, value.clone());
        }
    });
}

/// One whole line per `write` under stdout's lock, so lines never interleave.
pub(crate) fn write_stdout(line: &[u8]) {
    let mut out = std::io::stdout().lock();
    // Nowhere to report a failed write to stdout.
    let _ = out.write_all(line);
    let _ = out.flush();
}
