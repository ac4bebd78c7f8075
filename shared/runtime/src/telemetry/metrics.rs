//! One CloudWatch Embedded Metric Format document per invocation (a JSON line on stdout that
//! CloudWatch Logs turns into metrics: no API call, nothing to flush later).
//!
//! The shape follows the EMF specification (CloudWatch user guide, "Specification: Embedded metric
//! format"): a root `_aws` object with `Timestamp` (ms since the epoch) and `CloudWatchMetrics`, an
//! array of directives `{Namespace, Dimensions: [[dimension key, …], …], Metrics: [{Name, Unit}]}`
//! of at most 100 metrics each; every dimension key is a top-level string member and every metric
//! name a top-level number. Other top-level members (the request and trace ids) are kept in the
//! log event for Logs Insights without becoming metrics.
//!
//! Why not a crate: `metrics_cloudwatch_embedded` writes one document per label set (requests by
//! status would be a second line per invocation) through a process-global `metrics` recorder, and
//! `metrique` needs Rust 1.91 (the workspace promises 1.85) and a background queue; this file is
//! the whole serializer, on the `serde_json` the functions already link.

use serde_json::Value;

/// The metrics' namespace when `POWERTOOLS_METRICS_NAMESPACE` is not set.
pub const NAMESPACE: &str = "StripeCheckoutCart";

/// The CloudWatch units used here (`MetricDatum.Unit` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// The spec's limit on metrics per directive.
const MAX_METRICS: usize = 100;

/// The metrics of one invocation of one function.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    function: &'static str,
    values: Vec<(&'static str, Unit, f64)>,
    /// The HTTP status of the answer: `Responses` is also published per status.
    status: Option<u16>,
    properties: Vec<(&'static str, Value)>,
}

impl Metrics {
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            values: Vec::with_capacity(32),
            status: None,
            properties: Vec::new(),
        }
    }

    /// Adds `n` to the count `name` (0 is published too: a rate is the average of 0s and 1s).
    pub fn count(&mut self, name: &'static str, n: u64) -> &mut Self {
        // Counts stay far below 2^53, where f64 is exact.
        self.add(name, Unit::Count, n as f64)
    }

    /// Publishes 1 when `happened`, else 0.
    pub fn flag(&mut self, name: &'static str, happened: bool) -> &mut Self {
        self.count(name, u64::from(happened))
    }

    /// Adds a duration in milliseconds.
    pub fn millis(&mut self, name: &'static str, micros: u64) -> &mut Self {
        self.add(name, Unit::Milliseconds, micros as f64 / 1_000.0)
    }

    fn add(&mut self, name: &'static str, unit: Unit, value: f64) -> &mut Self {
        match self.values.iter_mut().find(|(n, _, _)| *n == name) {
            Some(slot) => slot.2 += value,
            None => self.values.push((name, unit, value)),
        }
        self
    }

    /// The answer's HTTP status (a dimension of `Responses`).
    pub fn status(&mut self, status: u16) -> &mut Self {
        self.status = Some(status);
        self
    }

    /// A member of the document that is not a metric (searchable in Logs Insights).
    pub fn property(&mut self, name: &'static str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        match self.properties.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.properties.push((name, value)),
        }
        self
    }

    pub fn value(&self, name: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
    }

    /// The EMF document, one line of JSON: metrics per `service` and per `service` + `function`,
    /// and `Responses` per `service` + `function` + `status` when there is a status. Written
    /// straight to text: it is the one document every invocation writes.
    pub fn to_emf(&self, namespace: &str, service: &str, timestamp_ms: u64) -> String {
        fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
            // Writing JSON to a Vec cannot fail.
            let _ = serde_json::to_writer(out, value);
        }
        let mut out: Vec<u8> = Vec::with_capacity(2048);
        let values = &self.values[..self.values.len().min(MAX_METRICS)];
        out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
        json(&mut out, &timestamp_ms);
        out.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
        json(&mut out, &namespace);
        out.extend_from_slice(
            b",\"Dimensions\":[[\"service\"],[\"service\",\"function\"]],\"Metrics\":[",
        );
        for (i, (name, unit, _)) in values.iter().enumerate() {
            out.extend_from_slice(if i == 0 {
                b"{\"Name\":"
            } else {
                b",{\"Name\":"
            });
            json(&mut out, name);
            out.extend_from_slice(b",\"Unit\":");
            json(&mut out, &unit.as_str());
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        if self.status.is_some() {
            out.extend_from_slice(b",{\"Namespace\":");
            json(&mut out, &namespace);
            out.extend_from_slice(
                b",\"Dimensions\":[[\"service\",\"function\",\"status\"]],\"Metrics\":[{\"Name\":\"Responses\",\"Unit\":\"Count\"}]}",
            );
        }
        out.extend_from_slice(b"]},\"service\":");
        json(&mut out, &service);
        out.extend_from_slice(b",\"function\":");
        json(&mut out, &self.function);
        if let Some(status) = self.status {
            out.extend_from_slice(b",\"status\":");
            json(&mut out, &status.to_string());
            out.extend_from_slice(b",\"Responses\":1");
        }
        for (name, _, value) in values {
            out.push(b',');
            json(&mut out, name);
            out.push(b':');
            json(&mut out, &number(*value));
        }
        const TAKEN: [&str; 5] = ["_aws", "service", "function", "status", "Responses"];
        for (name, value) in &self.properties {
            // A property never shadows a dimension or a metric.
            if TAKEN.contains(name) || values.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            out.push(b',');
            json(&mut out, name);
            out.push(b':');
            json(&mut out, value);
        }
        out.push(b'}');
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Whole numbers as JSON integers (`1`, not `1.0`).
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

/// What an HTTP answer says, read from the response the runtime sends back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub replayed: bool,
    /// The error `code` of an error body.
    pub code: Option<String>,
    /// The webhook's `action`.
    pub action: Option<String>,
}

impl Answer {
    /// From the API Gateway / function URL response JSON (`statusCode`, `headers`, `body`).
    pub fn read(response: &Value) -> Self {
        let status = response["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(500);
        let replayed = response["headers"]["idempotent-replayed"] == "true";
        #[derive(serde::Deserialize)]
        struct Body {
            code: Option<String>,
            action: Option<String>,
        }
        // A cart's 200 body is the whole session: only error and webhook bodies are read.
        let small = response["body"]
            .as_str()
            .filter(|b| status != 200 || b.len() < 256);
        let body = small.and_then(|b| serde_json::from_str::<Body>(b).ok());
        let (code, action) = body.map_or((None, None), |b| (b.code, b.action));
        Self {
            status,
            replayed,
            code,
            action,
        }
    }
}

/// The error codes counted on their own (the answers that ask the client to come back).
const CODES: [(&str, &str); 4] = [
    ("session_busy", "SessionBusy"),
    ("request_in_progress", "RequestInProgress"),
    ("stock_busy", "StockBusy"),
    ("out_of_stock", "OutOfStock"),
];

/// What the webhook did with a delivery.
const ACTIONS: [(&str, &str); 4] = [
    ("sold", "Sold"),
    ("released", "Released"),
    ("awaiting_payment", "AwaitingPayment"),
    ("ignored", "Ignored"),
];

/// Requests, errors, replays and the codes of an HTTP answer.
pub fn record_answer(metrics: &mut Metrics, answer: &Answer, webhook: bool) {
    let code = answer.code.as_deref();
    metrics
        .status(answer.status)
        .count("Requests", 1)
        .flag("ServerErrors", answer.status >= 500)
        .flag("ClientErrors", (400..500).contains(&answer.status))
        .flag("IdempotentReplays", answer.replayed)
        .flag(
            "StripeUnavailable",
            code == Some("payment_provider_unavailable"),
        );
    if webhook {
        for (action, name) in ACTIONS {
            metrics.flag(name, answer.action.as_deref() == Some(action));
        }
        metrics.flag("InvalidSignature", code == Some("invalid_signature"));
    } else {
        for (error, name) in CODES {
            metrics.flag(name, code == Some(error));
        }
    }
    if let Some(code) = code {
        metrics.property("code", code);
    }
    if let Some(action) = &answer.action {
        metrics.property("action", action.as_str());
    }
}

/// The sweeper's report fields published as metrics (the report is the invocation's result).
const SWEEP_FIELDS: [(&str, &str); 9] = [
    ("holds_checked", "HoldsChecked"),
    ("holds_settled", "HoldsSettled"),
    ("units_sold", "UnitsSold"),
    ("units_released", "UnitsReleased"),
    ("holds_left_open", "HoldsLeftOpen"),
    ("holds_awaiting_payment", "HoldsAwaitingPayment"),
    ("errors", "SweepErrors"),
    ("backlog", "Backlog"),
    ("stopped_early", "StoppedEarly"),
];

/// A sweep's report as metrics (0 for a field the report lacks).
pub fn record_sweep(metrics: &mut Metrics, report: &Value) {
    for (field, name) in SWEEP_FIELDS {
        let value = match &report[field] {
            Value::Bool(b) => u64::from(*b),
            other => other.as_u64().unwrap_or(0),
        };
        metrics.count(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_names_every_metric_and_dimension_at_the_top_level() {
        // GIVEN an answered request
        let mut metrics = Metrics::new("update-quantity");
        metrics.count("ColdStart", 1).millis("Latency", 1_500);
        record_answer(
            &mut metrics,
            &Answer {
                status: 409,
                code: Some("session_busy".into()),
                ..Answer::default()
            },
            false,
        );
        // WHEN it becomes a document
        let doc: Value =
            serde_json::from_str(&metrics.to_emf("Shop", "shop", 1_700_000_000_000)).unwrap();
        // THEN the directives reference top-level members of the right types
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000_u64);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2);
        for directive in directives {
            assert_eq!(directive["Namespace"], "Shop");
            for set in directive["Dimensions"].as_array().unwrap() {
                for key in set.as_array().unwrap() {
                    assert!(doc[key.as_str().unwrap()].is_string(), "{key}");
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                assert!(
                    doc[metric["Name"].as_str().unwrap()].is_number(),
                    "{metric}"
                );
            }
        }
        assert_eq!(doc["status"], "409");
        assert_eq!(doc["SessionBusy"], 1);
        assert_eq!(doc["StockBusy"], 0);
        assert_eq!(doc["ClientErrors"], 1);
        assert_eq!(doc["Latency"], 1.5);
        assert_eq!(doc["code"], "session_busy");
    }

    #[test]
    fn answers_are_read_from_the_runtime_response() {
        let answer = Answer::read(&json!({
            "statusCode": 200,
            "headers": { "idempotent-replayed": "true" },
            "body": r#"{"received":true,"action":"sold"}"#,
        }));
        assert_eq!(answer.status, 200);
        assert!(answer.replayed);
        assert_eq!(answer.action.as_deref(), Some("sold"));
        let answer = Answer::read(&json!({ "statusCode": 400, "body": "not json" }));
        assert_eq!((answer.status, answer.code), (400, None));
    }

    #[test]
    fn a_sweep_report_becomes_counts() {
        let mut metrics = Metrics::new("release-holds");
        record_sweep(
            &mut metrics,
            &json!({ "holds_checked": 3, "errors": 1, "stopped_early": true }),
        );
        assert_eq!(metrics.value("HoldsChecked"), Some(3.0));
        assert_eq!(metrics.value("SweepErrors"), Some(1.0));
        assert_eq!(metrics.value("StoppedEarly"), Some(1.0));
        assert_eq!(metrics.value("Backlog"), Some(0.0));
    }
}
