//! One invocation as the people who run the functions see it: its span (request id, trace id,
//! cold start), the counts code inside it reports, and the metrics line it ends with.

use super::layer::{self, INVOCATION_SPAN, TARGET};
use super::logs::{self, SERVICE};
use super::metrics::{Metrics, NAMESPACE};
use super::xray;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

/// The first invocation of a process is its cold start.
static COLD_START: AtomicBool = AtomicBool::new(true);

/// Runs `f` on the measurements of the invocation `span` belongs to (none without [`init`]).
///
/// [`init`]: super::init
fn with_calls<T>(span: &tracing::Span, f: impl FnOnce(&mut layer::Calls) -> T) -> Option<T> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let mut f = Some(f);
        for ancestor in span.scope() {
            if let Some(calls) = ancestor.extensions_mut().get_mut::<layer::Calls>() {
                return f.take().map(|f| f(calls));
            }
        }
        None
    })
    .flatten()
}

/// Adds `n` to the count `name` of the current invocation's metrics (for code deep inside a
/// request that knows something the answer does not say).
pub fn count(name: &'static str, n: u64) {
    with_calls(&tracing::Span::current(), |calls| {
        match calls.counts.iter_mut().find(|(c, _)| *c == name) {
            Some(slot) => slot.1 += n,
            None => calls.counts.push((name, n)),
        }
    });
}

/// One invocation: its span, its clock and the metrics it publishes when it ends.
#[derive(Debug)]
pub struct Invocation {
    span: tracing::Span,
    started: Instant,
    metrics: Metrics,
}

impl Invocation {
    /// Opens the invocation's span with the ids of its Lambda context.
    pub fn start(function: &'static str, context: &lambda_http::Context) -> Self {
        let cold_start = COLD_START.swap(false, Ordering::Relaxed);
        let trace = context.xray_trace_id.as_deref().map(logs::trace_root);
        let span = tracing::info_span!(
            target: TARGET,
            INVOCATION_SPAN,
            function_request_id = context.request_id.as_str(),
            xray_trace_id = trace,
            function_arn = context.invoked_function_arn.as_str(),
            cold_start,
            session_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        if let Some(trace) = context
            .xray_trace_id
            .as_deref()
            .and_then(xray::Trace::sampled)
        {
            with_calls(&span, |calls| calls.trace = Some(trace));
        }
        let mut metrics = Metrics::new(function);
        metrics.flag("ColdStart", cold_start);
        metrics.property("function_request_id", context.request_id.as_str());
        if let Some(trace) = trace {
            metrics.property("xray_trace_id", trace);
        }
        Self {
            span,
            started: Instant::now(),
            metrics,
        }
    }

    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The metrics this invocation will publish (for its answer).
    pub fn metrics(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// Publishes the invocation's metrics: one EMF line on stdout.
    pub fn finish(mut self) {
        let elapsed = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let calls = with_calls(&self.span, std::mem::take).unwrap_or_default();
        let metrics = &mut self.metrics;
        metrics
            .millis("Latency", elapsed)
            .count("StripeCalls", calls.stripe_calls)
            .count("StripeAttempts", calls.stripe_attempts)
            .millis("StripeLatency", calls.stripe_us)
            .count("DynamoRoundTrips", calls.dynamo_calls)
            .millis("DynamoLatency", calls.dynamo_us);
        for (name, n) in calls.counts {
            metrics.count(name, n);
        }
        for (name, value) in calls.properties.0 {
            metrics.property(name, value);
        }
        // Read once per process, like the rest of the configuration.
        static NAMES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        let (namespace, service) = NAMES.get_or_init(|| {
            let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
            (
                var("POWERTOOLS_METRICS_NAMESPACE").unwrap_or_else(|| NAMESPACE.into()),
                var("POWERTOOLS_SERVICE_NAME").unwrap_or_else(|| SERVICE.into()),
            )
        });
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut line = metrics.to_emf(namespace, service, now_ms);
        line.push('\n');
        let writer = self
            .span
            .with_subscriber(|(_, dispatch)| {
                dispatch
                    .downcast_ref::<layer::TelemetryLayer>()
                    .map(|layer| layer.writer)
            })
            .flatten()
            .unwrap_or(layer::write_stdout);
        writer(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::subscriber;
    use std::sync::Mutex;

    static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn capture(line: &[u8]) {
        let mut captured = CAPTURED.lock().unwrap();
        captured.push(String::from_utf8_lossy(line).trim_end().to_owned());
    }

    #[test]
    fn an_invocation_logs_its_ids_and_publishes_the_calls_it_made() {
        // GIVEN an invocation with a trace id
        let mut context = lambda_http::Context::default();
        context.request_id = "req-1".into();
        context.xray_trace_id = Some("Root=1-abc;Parent=def;Sampled=1".into());
        tracing::subscriber::with_default(subscriber(capture), || {
            let mut invocation = Invocation::start("update-quantity", &context);
            // WHEN it calls Stripe (retried once) and DynamoDB, logs, and counts
            invocation.span().in_scope(|| {
                let request = tracing::info_span!("request", session_id = "cs_1");
                let _request = request.enter();
                let stripe = tracing::info_span!(
                    target: "cart_runtime::stripe::client",
                    "stripe",
                    attempts = tracing::field::Empty
                );
                stripe.in_scope(|| tracing::warn!("Stripe call failed; retrying"));
                stripe.record("attempts", 2);
                drop(stripe);
                drop(tracing::debug_span!(target: "aws_sdk_dynamodb::operation::get_item", "DynamoDB.GetItem"));
                count("Extra", 2);
            });
            invocation.metrics().count("Requests", 1);
            invocation.finish();
        });
        // THEN the warning carries the ids and the metrics line counts the calls
        let captured = CAPTURED.lock().unwrap();
        let lines: Vec<serde_json::Value> = captured
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let warning = lines.iter().find(|l| l["level"] == "WARN").unwrap();
        assert_eq!(warning["function_request_id"], "req-1");
        assert_eq!(warning["xray_trace_id"], "1-abc");
        assert_eq!(warning["session_id"], "cs_1");
        assert!(warning["cold_start"].is_boolean());
        let emf = lines.iter().find(|l| l.get("_aws").is_some()).unwrap();
        assert_eq!(emf["StripeCalls"], 1);
        assert_eq!(emf["StripeAttempts"], 2);
        assert_eq!(emf["DynamoRoundTrips"], 1);
        assert_eq!(emf["Extra"], 2);
        assert_eq!(emf["session_id"], "cs_1");
        assert_eq!(emf["function_request_id"], "req-1");
    }
}
