//! One JSON object per log line, with the keys Powertools for AWS Lambda's Logger writes (its
//! "standard structured keys" and "Lambda context" keys: `level`, `location`, `message`,
//! `timestamp`, `service`, `cold_start`, `function_name`, `function_memory_size`, `function_arn`,
//! `function_request_id`, `xray_trace_id`) at the top level, then the fields of every open span
//! (outermost first) and of the event itself; an inner field wins over an outer one of the same
//! name. `level` and an RFC 3339 `timestamp` are also what Lambda's JSON log format needs to filter
//! lines by `AWS_LAMBDA_LOG_LEVEL` ("Log-level filtering", Lambda developer guide).

use serde_json::Value;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::Level;

/// `service` of every line and metric when `POWERTOOLS_SERVICE_NAME` is not set.
pub const SERVICE: &str = "stripe-checkout-cart";

/// The fields of a span or an event, in the order they were given.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields(pub(crate) Vec<(&'static str, Value)>);

impl Fields {
    /// Sets `name` (a later value replaces an earlier one).
    pub(crate) fn set(&mut self, name: &'static str, value: Value) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// The runtime's own span (`lambda_runtime`'s "Lambda runtime invoke") names the ids in
/// camelCase; Powertools users search for these names.
fn renamed(name: &'static str) -> &'static str {
    match name {
        "requestId" => "function_request_id",
        "xrayTraceId" => "xray_trace_id",
        "tenantId" => "tenant_id",
        other => other,
    }
}

/// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=…;Sampled=1` → the trace id, as Powertools
/// logs it (`1-5759e988-bd862e3fe1be46a994272793`); anything else is kept as it is.
pub(crate) fn trace_root(header: &str) -> &str {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .unwrap_or(header)
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(renamed(field.name()), Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let name = renamed(field.name());
        let value = if name == "xray_trace_id" {
            trace_root(value)
        } else {
            value
        };
        self.set(name, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(renamed(field.name()), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(renamed(field.name()), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(renamed(field.name()), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(renamed(field.name()), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(renamed(field.name()), Value::String(error_chain(value)));
    }
}

/// What every line of this process carries, read once at cold start.
#[derive(Debug, Clone)]
pub(crate) struct Process {
    pub(crate) service: String,
    pub(crate) function_name: Option<String>,
    pub(crate) function_memory_size: Option<u64>,
}

impl Process {
    pub(crate) fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            service: var("POWERTOOLS_SERVICE_NAME").unwrap_or_else(|| SERVICE.to_owned()),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
            function_memory_size: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .and_then(|v| v.parse().ok()),
        }
    }
}

/// Lambda's level names (`WARN`, not Python's `WARNING`).
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// Keys written in a fixed place (or not at all) rather than among the other fields.
const PLACED: [&str; 9] = [
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_memory_size",
    "target",
];

/// Keys that follow the fixed ones when some span has them, in this order.
const CONTEXT: [&str; 3] = ["function_arn", "function_request_id", "xray_trace_id"];

/// One log line, without its newline. `spans` are the open spans' fields, outermost first.
pub(crate) fn line(
    process: &Process,
    level: Level,
    target: &str,
    location: Option<(&str, u32)>,
    spans: &[&Fields],
    event: &Fields,
    now: SystemTime,
) -> Vec<u8> {
    // Borrowed, not cloned: a line is written once. An inner field replaces an outer one in place.
    let mut merged: Vec<(&str, &Value)> = Vec::with_capacity(24);
    for fields in spans.iter().copied().chain(std::iter::once(event)) {
        for (name, value) in &fields.0 {
            match merged.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => merged.push((name, value)),
            }
        }
    }
    let get = |key: &str| merged.iter().find(|(n, _)| *n == key).map(|(_, v)| *v);
    let mut out = Vec::with_capacity(512);
    let put = |out: &mut Vec<u8>, key: &str, value: &Value| {
        out.push(if out.is_empty() { b'{' } else { b',' });
        // Writing a string or a JSON value to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, value);
    };
    put(&mut out, "level", &Value::from(level_name(level)));
    let location = location.map_or_else(|| target.to_owned(), |(file, n)| format!("{file}:{n}"));
    put(&mut out, "location", &Value::String(location));
    put(&mut out, "message", get("message").unwrap_or(&Value::Null));
    put(&mut out, "timestamp", &Value::String(rfc3339(now)));
    put(&mut out, "service", &Value::from(process.service.as_str()));
    if let Some(cold_start) = get("cold_start") {
        put(&mut out, "cold_start", cold_start);
    }
    if let Some(name) = &process.function_name {
        put(&mut out, "function_name", &Value::from(name.as_str()));
    }
    if let Some(size) = process.function_memory_size {
        put(&mut out, "function_memory_size", &Value::from(size));
    }
    for key in CONTEXT {
        if let Some(value) = get(key) {
            put(&mut out, key, value);
        }
    }
    put(&mut out, "target", &Value::from(target));
    for (name, value) in &merged {
        if !PLACED.contains(name) && !CONTEXT.contains(name) {
            put(&mut out, name, value);
        }
    }
    out.push(b'}');
    out
}

/// `2026-12-06T04:43:50.279Z`: RFC 3339 in UTC with milliseconds.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `outer: inner: root`: hyper's and the AWS SDK's own messages ("client error (Connect)",
/// "dispatch failure") hide the cause that explains a failure.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn process() -> Process {
        Process {
            service: "shop".into(),
            function_name: Some("update-quantity".into()),
            function_memory_size: Some(256),
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(at(1_796_532_230, 279)), "2026-12-06T04:43:50.279Z");
    }

    #[test]
    fn the_trace_id_is_the_root_of_the_header() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(trace_root(header), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(trace_root("1-abc"), "1-abc");
    }

    #[test]
    fn a_line_has_the_powertools_keys_at_the_top_level_and_inner_fields_win() {
        // GIVEN the runtime's span, the invocation's and the request's, and an event
        let runtime = Fields(vec![
            ("function_request_id", "req-1".into()),
            ("xray_trace_id", "1-abc".into()),
        ]);
        let invocation = Fields(vec![("cold_start", true.into()), ("outcome", "x".into())]);
        let request = Fields(vec![
            ("session_id", "cs_1".into()),
            ("outcome", "updated".into()),
        ]);
        let event = Fields(vec![
            ("message", "responded".into()),
            ("status", 200.into()),
        ]);
        // WHEN it is written
        let text = line(
            &process(),
            Level::WARN,
            "cart_runtime::pipeline",
            Some(("shared/runtime/src/pipeline.rs", 7)),
            &[&runtime, &invocation, &request],
            &event,
            UNIX_EPOCH,
        );
        // THEN every key is at the top level, once
        let json: serde_json::Map<String, Value> = serde_json::from_slice(&text).unwrap();
        assert_eq!(json["level"], "WARN");
        assert_eq!(json["message"], "responded");
        assert_eq!(json["timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["service"], "shop");
        assert_eq!(json["cold_start"], true);
        assert_eq!(json["function_name"], "update-quantity");
        assert_eq!(json["function_memory_size"], 256);
        assert_eq!(json["function_request_id"], "req-1");
        assert_eq!(json["xray_trace_id"], "1-abc");
        assert_eq!(json["location"], "shared/runtime/src/pipeline.rs:7");
        assert_eq!(json["session_id"], "cs_1");
        assert_eq!(json["outcome"], "updated");
        assert_eq!(json["status"], 200);
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.matches("\"outcome\"").count(), 1, "{text}");
        assert!(text.starts_with(r#"{"level":"WARN","location""#), "{text}");
    }
}
