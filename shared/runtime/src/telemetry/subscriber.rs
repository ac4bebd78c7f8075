//! The subscriber every function installs: the level filter (Lambda's log level and `RUST_LOG`)
//! in front of the telemetry layer, writing to stdout or to a writer the caller gives.

use super::layer;
use super::logs::Process;
use super::xray::Daemon;
use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::{Context, Filter, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer as _, Registry};

/// The filter directives from Lambda's `AWS_LAMBDA_LOG_LEVEL` (TRACE, DEBUG, INFO, WARN, ERROR,
/// FATAL) and `RUST_LOG`: Lambda's level is the default level (Lambda drops the lines below it
/// anyway) and `RUST_LOG`'s per-target directives still apply; without Lambda's level, `RUST_LOG`
/// alone, and `info` without either.
pub fn directives(lambda_level: Option<&str>, rust_log: Option<&str>) -> String {
    let level = lambda_level.and_then(|level| match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some("trace"),
        "DEBUG" => Some("debug"),
        "INFO" => Some("info"),
        "WARN" => Some("warn"),
        "ERROR" | "FATAL" => Some("error"),
        _ => None,
    });
    let rust_log = rust_log.map(str::trim).filter(|r| !r.is_empty());
    match (level, rust_log) {
        (Some(level), Some(rust_log)) => rust_log
            .split(',')
            .map(str::trim)
            // A bare level would compete with Lambda's; per-target directives stay.
            .filter(|d| !d.is_empty() && d.parse::<LevelFilter>().is_err())
            .chain(std::iter::once(level))
            .collect::<Vec<_>>()
            .join(","),
        (Some(level), None) => level.to_owned(),
        (None, Some(rust_log)) => rust_log.to_owned(),
        (None, None) => "info".to_owned(),
    }
}

/// Events by level ([`EnvFilter`]); spans and timed calls always (see [`layer::always_on`]), so
/// a WARN line still carries the request's ids.
#[derive(Debug)]
struct Levels(EnvFilter);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Filter<S> for Levels {
    fn enabled(&self, meta: &tracing::Metadata<'_>, cx: &Context<'_, S>) -> bool {
        layer::always_on(meta) || Filter::<S>::enabled(&self.0, meta, cx)
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if layer::always_on(meta) {
            tracing::subscriber::Interest::always()
        } else {
            Filter::<S>::callsite_enabled(&self.0, meta)
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        // The SDK's per-operation spans are DEBUG.
        self.0
            .max_level_hint()
            .map(|hint| hint.max(LevelFilter::DEBUG))
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::Id,
        cx: Context<'_, S>,
    ) {
        Filter::<S>::on_new_span(&self.0, attrs, id, cx);
    }

    fn on_record(&self, id: &tracing::Id, values: &tracing::span::Record<'_>, cx: Context<'_, S>) {
        Filter::<S>::on_record(&self.0, id, values, cx);
    }

    fn on_enter(&self, id: &tracing::Id, cx: Context<'_, S>) {
        Filter::<S>::on_enter(&self.0, id, cx);
    }

    fn on_exit(&self, id: &tracing::Id, cx: Context<'_, S>) {
        Filter::<S>::on_exit(&self.0, id, cx);
    }

    fn on_close(&self, id: tracing::Id, cx: Context<'_, S>) {
        Filter::<S>::on_close(&self.0, id, cx);
    }
}

/// Installs the global subscriber, writing to stdout; call once at cold start.
pub fn init() {
    // Ignore the error of a second init (tests start several apps in one process).
    let _ = tracing::subscriber::set_global_default(subscriber(layer::write_stdout));
}

/// The subscriber [`init`] installs, writing each whole line (log or metrics) with `writer`:
/// benchmarks and tests pass their own.
pub fn subscriber(writer: fn(&[u8])) -> impl Subscriber + Send + Sync + 'static {
    let var = |name| std::env::var(name).ok();
    let directives = directives(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let filter = Levels(EnvFilter::builder().parse_lossy(directives));
    let layer = layer::TelemetryLayer::new(Process::from_env(), writer, Daemon::from_env())
        .with_filter(filter);
    Registry::default().with(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_level_is_the_default_and_rust_logs_targets_stay() {
        assert_eq!(directives(None, None), "info");
        assert_eq!(directives(None, Some("debug")), "debug");
        assert_eq!(directives(Some("WARN"), None), "warn");
        assert_eq!(directives(Some("FATAL"), Some("info")), "error");
        assert_eq!(
            directives(Some("DEBUG"), Some("info,cart_runtime::stripe=trace")),
            "cart_runtime::stripe=trace,debug"
        );
        // An unknown Lambda level leaves RUST_LOG in charge.
        assert_eq!(directives(Some("LOUD"), Some("warn")), "warn");
    }
}
