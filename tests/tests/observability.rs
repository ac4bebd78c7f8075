//! What the functions write to stdout, read from their real output (the harness keeps each
//! instance's stdout): every log line a request causes carries the keys Powertools for AWS
//! Lambda's Logger users search by at the top level, and every invocation writes exactly one
//! CloudWatch Embedded Metric Format document that the EMF specification accepts.

use e2e_tests::{line_item_ids, Endpoint, Result, Stack, GA_VERSION, TEE_SKU};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

// --- the EMF specification, as a validator --------------------------------------------------------
//
// Amazon CloudWatch User Guide, "Specification: Embedded metric format" (the document structure
// and its JSON schema):
// - the log event is one JSON object; its root has an `_aws` metadata object, which MUST have
//   `CloudWatchMetrics` (an array of MetricDirective) and `Timestamp` (a number: milliseconds
//   since 1970-01-01 UTC; the schema says integer);
// - a MetricDirective MUST have `Namespace` (string, 1–255 characters), `Dimensions` (an array of
//   DimensionSets, at least one) and `Metrics` (at most 100 MetricDefinitions); objects defined
//   by the spec MUST NOT contain other members;
// - a DimensionSet is an array of at most 30 dimension keys (9 in older revisions); each key MUST
//   be a member of the root whose value is a string;
// - a MetricDefinition MUST have `Name` (1–255 characters) and MAY have `Unit` (a CloudWatch unit)
//   and `StorageResolution` (1 or 60); its name MUST be a member of the root whose value is a
//   number or an array of at most 100 numbers (members are not nested: "A.a" is a key, not a
//   path);
// - a document is limited to the size of a CloudWatch Logs event (256 KB in the older revision,
//   1 MB now: the smaller is checked).

const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

fn only_members(object: &Map<String, Value>, allowed: &[&str], what: &str) -> Result {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(format!("{what} has a member the spec does not define: {extra}").into()),
        None => Ok(()),
    }
}

fn name_1_to_255(value: &Value, what: &str) -> Result<String> {
    match value.as_str() {
        Some(s) if (1..=255).contains(&s.chars().count()) => Ok(s.to_owned()),
        _ => Err(format!("{what} must be a string of 1 to 255 characters: {value}").into()),
    }
}

/// Checks one log line against the EMF specification; `Ok` with the metric names it defines.
fn validate_emf(line: &str) -> Result<Vec<String>> {
    if line.len() > 256 * 1024 {
        return Err("larger than a log event may be".into());
    }
    let root: Value = serde_json::from_str(line)?;
    let root = root.as_object().ok_or("the root is not a JSON object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    let timestamp = aws.get("Timestamp").ok_or("_aws has no Timestamp")?;
    if !timestamp.is_u64() {
        return Err(format!("Timestamp is not an integer of milliseconds: {timestamp}").into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws has no CloudWatchMetrics array")?;
    let mut names = Vec::new();
    for directive in directives {
        let directive = directive
            .as_object()
            .ok_or("a MetricDirective is not an object")?;
        only_members(
            directive,
            &["Namespace", "Dimensions", "Metrics"],
            "a MetricDirective",
        )?;
        name_1_to_255(
            directive.get("Namespace").ok_or("no Namespace")?,
            "Namespace",
        )?;
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("Dimensions is not an array")?;
        if sets.is_empty() {
            return Err("Dimensions has no DimensionSet".into());
        }
        for set in sets {
            let keys = set.as_array().ok_or("a DimensionSet is not an array")?;
            if keys.len() > 30 {
                return Err(format!("a DimensionSet has {} keys (at most 30)", keys.len()).into());
            }
            for key in keys {
                let key = name_1_to_255(key, "a dimension key")?;
                if !root.get(&key).is_some_and(Value::is_string) {
                    return Err(
                        format!("dimension {key} is not a string member of the root").into(),
                    );
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("Metrics is not an array")?;
        if metrics.len() > 100 {
            return Err(format!("{} MetricDefinitions (at most 100)", metrics.len()).into());
        }
        for metric in metrics {
            let metric = metric
                .as_object()
                .ok_or("a MetricDefinition is not an object")?;
            only_members(
                metric,
                &["Name", "Unit", "StorageResolution"],
                "a MetricDefinition",
            )?;
            let name = name_1_to_255(metric.get("Name").ok_or("no Name")?, "Name")?;
            if let Some(unit) = metric.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return Err(format!("{name}: {unit} is not a CloudWatch unit").into());
                }
            }
            if let Some(resolution) = metric.get("StorageResolution") {
                if resolution != 1 && resolution != 60 {
                    return Err(format!("{name}: StorageResolution {resolution}").into());
                }
            }
            let numeric = match root.get(&name) {
                Some(Value::Number(_)) => true,
                Some(Value::Array(values)) => {
                    values.len() <= 100 && values.iter().all(Value::is_number)
                }
                _ => false,
            };
            if !numeric {
                return Err(
                    format!("metric {name} is not a number (or numbers) of the root").into(),
                );
            }
            names.push(name);
        }
    }
    Ok(names)
}

#[test]
fn the_validator_accepts_the_specifications_example_and_refuses_broken_documents() -> Result {
    // The example of the specification.
    let example = json!({
        "_aws": { "Timestamp": 1574109732004_u64, "CloudWatchMetrics": [{
            "Namespace": "lambda-function-metrics", "Dimensions": [["functionVersion"]],
            "Metrics": [{ "Name": "time", "Unit": "Milliseconds" }] }] },
        "functionVersion": "$LATEST", "time": 100,
        "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee"
    });
    assert_eq!(validate_emf(&example.to_string())?, ["time"]);
    type Breakage = (&'static str, fn(&mut Value));
    let broken: [Breakage; 9] = [
        ("no timestamp", |d| {
            d["_aws"] = json!({ "CloudWatchMetrics": [] })
        }),
        ("timestamp as text", |d| {
            d["_aws"]["Timestamp"] = json!("now")
        }),
        ("dimension missing", |d| {
            d.as_object_mut().map(|o| o.remove("functionVersion"));
        }),
        ("dimension not a string", |d| {
            d["functionVersion"] = json!(1)
        }),
        ("metric not a number", |d| d["time"] = json!("100")),
        ("bad unit", |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Hours")
        }),
        ("no dimension set", |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([])
        }),
        ("101 metrics", |d| {
            let many: Vec<Value> = (0..101).map(|_| json!({ "Name": "time" })).collect();
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = many.into();
        }),
        ("31 dimensions", |d| {
            let keys: Vec<Value> = (0..31).map(|_| json!("functionVersion")).collect();
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([keys]);
        }),
    ];
    for (what, break_it) in broken {
        let mut doc = example.clone();
        break_it(&mut doc);
        assert!(validate_emf(&doc.to_string()).is_err(), "accepted: {what}");
    }
    Ok(())
}

// --- the functions' real output -------------------------------------------------------------------

/// The keys every line a request causes carries at its top level.
const POWERTOOLS_KEYS: [&str; 8] = [
    "level",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_request_id",
    "xray_trace_id",
];

fn wait_for_sold(stack: &Stack, sold: u64) -> Result {
    let deadline = Instant::now() + Duration::from_secs(15);
    while stack.dynamo.stock(TEE_SKU)?.sold != sold {
        if Instant::now() > deadline {
            return Err("the webhook did not sell the held stock".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[test]
fn every_request_logs_powertools_keys_and_every_invocation_one_valid_emf_document() -> Result {
    // GIVEN a stack whose webhooks reach the webhook function
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    stack.connect_webhooks()?;
    let c = &stack.catalog;

    // WHEN a cart is made, changed through a Stripe rate limit (the transport's retry warning),
    // refused, replayed, paid (the webhook sells it), forged (a bad signature) and swept
    let created = stack.create_cart(&[(&c.monthly, 1), (&c.tee, 1)], None)?;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["session"]["id"]
        .as_str()
        .ok_or("id")?
        .to_owned();
    let tee = line_item_ids(&stack.stripe.session(&id)?)
        .get(1)
        .cloned()
        .ok_or("tee line")?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "status": 429,
        "count": 1
    }))?;
    assert_eq!(stack.update_quantity(&id, &tee, 2)?.status, 200);
    let missing = "cs_test_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6";
    assert_eq!(stack.update_quantity(missing, &tee, 1)?.status, 404);
    let body = json!({ "checkout_session_id": id, "interval": "yearly" }).to_string();
    assert_eq!(
        stack
            .change_interval_keyed(&body, "observability-1")?
            .status,
        200
    );
    assert!(
        stack
            .change_interval_keyed(&body, "observability-1")?
            .replayed
    );
    stack.stripe.complete_session(&id)?;
    wait_for_sold(&stack, 2)?;
    let forged = stack.functions.call(
        Endpoint::StripeWebhook,
        r#"{"id":"evt_forged","type":"checkout.session.completed"}"#,
        &[("Stripe-Signature", "t=1,v1=00")],
    )?;
    assert_eq!(forged.status, 400, "{}", forged.body);
    let report = stack.functions.invoke("release-holds", &json!({}))?;
    assert_eq!(report["errors"], 0, "{report}");

    // THEN every log line of a request has the keys at its top level …
    let lines = stack.functions.log_lines();
    let (documents, logs): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|l| l.get("_aws").is_some());
    let requests: Vec<&Value> = logs
        .iter()
        .copied()
        .filter(|l| l["message"] != "ready")
        .collect();
    assert!(requests.len() >= 10, "{requests:#?}");
    for line in &requests {
        for key in POWERTOOLS_KEYS {
            assert!(line.get(key).is_some(), "no {key}: {line}");
        }
        assert!(line["message"].is_string(), "{line}");
        assert!(line["cold_start"].is_boolean(), "{line}");
        assert!(line.get("fields").is_none(), "nested fields: {line}");
        let trace = line["xray_trace_id"].as_str().unwrap_or_default();
        assert!(trace.starts_with("1-") && !trace.contains(';'), "{line}");
    }
    let retry = requests
        .iter()
        .find(|l| l["message"] == "Stripe call failed; retrying")
        .ok_or("no retry warning")?;
    assert_eq!(retry["level"], "WARN");
    assert_eq!(retry["session_id"], id.as_str(), "{retry}");
    // … with the session and the outcome where the request has them, the webhook's and the
    // sweeper's included.
    let responded = |function: &str| -> Vec<&Value> {
        requests
            .iter()
            .copied()
            .filter(|l| l["message"] == "responded" && l["function_name"] == function)
            .collect()
    };
    for line in responded("update-quantity") {
        assert!(line["outcome"].is_string(), "{line}");
        assert!(line["session_id"].is_string(), "{line}");
    }
    let refused = requests
        .iter()
        .find(|l| l["message"] == "request refused" && l["session_id"] == missing)
        .ok_or("no refusal logged")?;
    assert_eq!(refused["code"], "session_not_found");
    let webhook = responded("stripe-webhook");
    assert!(
        webhook.iter().any(|l| l["session_id"] == id.as_str()),
        "{webhook:#?}"
    );
    let sweeps: Vec<_> = requests
        .iter()
        .filter(|l| l["function_name"] == "release-holds")
        .collect();
    assert!(!sweeps.is_empty(), "the sweeper logged nothing");
    let request_ids: HashSet<_> = requests
        .iter()
        .map(|l| (l["function_name"].clone(), l["function_request_id"].clone()))
        .collect();

    // AND every invocation wrote one document the EMF specification accepts
    let mut per_function: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen = HashSet::new();
    for document in &documents {
        let text = document.to_string();
        let names = validate_emf(&text).map_err(|e| format!("{e}: {text}"))?;
        assert!(names.contains(&"Latency".to_owned()), "{text}");
        let function = document["function"].as_str().ok_or("function")?.to_owned();
        let request = document["function_request_id"].clone();
        assert!(seen.insert(request.clone()), "two documents for {request}");
        assert!(
            request_ids.contains(&(Value::from(function.as_str()), request)),
            "a document for an invocation that logged nothing: {text}"
        );
        *per_function.entry(function).or_default() += 1;
    }
    for function in [
        "create-session",
        "update-quantity",
        "change-interval",
        "stripe-webhook",
    ] {
        assert_eq!(
            per_function.get(function).copied(),
            Some(responded(function).len()),
            "{function}: one document per answered request ({per_function:?})"
        );
    }
    assert_eq!(
        per_function.get("release-holds"),
        Some(&1),
        "{per_function:?}"
    );
    let metric = |function: &str, name: &str| -> f64 {
        documents
            .iter()
            .filter(|d| d["function"] == function)
            .filter_map(|d| d[name].as_f64())
            .sum()
    };
    assert!(metric("update-quantity", "StripeAttempts") > metric("update-quantity", "StripeCalls"));
    assert!(metric("update-quantity", "DynamoRoundTrips") >= 2.0);
    assert_eq!(metric("change-interval", "IdempotentReplays"), 1.0);
    assert_eq!(metric("stripe-webhook", "Sold"), 1.0);
    assert_eq!(metric("stripe-webhook", "InvalidSignature"), 1.0);
    assert_eq!(metric("release-holds", "SweepErrors"), 0.0);
    assert!(documents.iter().all(|d| d["ColdStart"].is_number()));
    Ok(())
}

#[test]
fn lambdas_log_level_filters_the_lines_but_keeps_the_ids_and_the_metrics() -> Result {
    // GIVEN functions whose LoggingConfig says WARN (Lambda sets AWS_LAMBDA_LOG_LEVEL), with
    // RUST_LOG still at info
    let stack = Stack::start(GA_VERSION, &[("AWS_LAMBDA_LOG_LEVEL", "WARN")])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    let created = stack.create_cart(&[(&c.monthly, 1), (&c.tee, 1)], None)?;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["session"]["id"]
        .as_str()
        .ok_or("id")?
        .to_owned();
    let tee = line_item_ids(&stack.stripe.session(&id)?)
        .get(1)
        .cloned()
        .ok_or("tee line")?;

    // WHEN a request meets a Stripe rate limit (a WARN line)
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "status": 429,
        "count": 1
    }))?;
    assert_eq!(stack.update_quantity(&id, &tee, 2)?.status, 200);

    // THEN only the warning is logged, with the request's ids, and every request still has its
    // metrics line
    let lines = stack.functions.log_lines();
    let (documents, logs): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|l| l.get("_aws").is_some());
    assert!(
        logs.iter()
            .all(|l| l["level"] != "INFO" && l["level"] != "DEBUG"),
        "{logs:#?}"
    );
    let warning = logs
        .iter()
        .find(|l| l["message"] == "Stripe call failed; retrying")
        .ok_or("the warning was filtered out")?;
    for key in POWERTOOLS_KEYS {
        assert!(warning.get(key).is_some(), "no {key}: {warning}");
    }
    assert_eq!(warning["session_id"], id.as_str());
    let requests = documents.iter().filter(|d| d["Requests"] == 1).count();
    assert_eq!(
        requests, 2,
        "create-session and update-quantity: {documents:#?}"
    );
    for document in documents {
        validate_emf(&document.to_string())?;
    }
    Ok(())
}

#[test]
fn stripe_and_dynamodb_calls_reach_the_xray_daemon_as_subsegments_of_the_invocation() -> Result {
    // GIVEN an X-Ray daemon (a UDP socket) where Lambda would run it
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0")?;
    daemon.set_read_timeout(Some(Duration::from_millis(500)))?;
    let address = daemon.local_addr()?.to_string();
    let stack = Stack::start(GA_VERSION, &[("AWS_XRAY_DAEMON_ADDRESS", &address)])?;
    let c = &stack.catalog;

    // WHEN a session is created (sampled traces: cargo-lambda sends Sampled=1)
    let created = stack.create_cart(&[(&c.monthly, 1)], None)?;
    assert_eq!(created.status, 200, "{}", created.body);

    // THEN each call is a subsegment of that invocation's trace, under the function's segment
    let mut subsegments = Vec::new();
    let mut buffer = vec![0_u8; 65_536];
    while let Ok(n) = daemon.recv(&mut buffer) {
        let text = std::str::from_utf8(&buffer[..n])?;
        let (header, body) = text.split_once('\n').ok_or("no header line")?;
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        subsegments.push(serde_json::from_str::<Value>(body)?);
    }
    let trace = stack
        .functions
        .responses_logged()
        .iter()
        .find(|l| l["function_name"] == "create-session")
        .and_then(|l| l["xray_trace_id"].as_str().map(str::to_owned))
        .ok_or("no trace id logged")?;
    let names: HashSet<&str> = subsegments
        .iter()
        .filter(|s| s["trace_id"] == trace.as_str())
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["Stripe", "DynamoDB"]),
        "{subsegments:#?}"
    );
    for s in &subsegments {
        assert_eq!(s["type"], "subsegment");
        assert!(
            s["parent_id"].as_str().is_some_and(|p| p.len() == 16),
            "{s}"
        );
        assert!(s["id"].as_str().is_some_and(|p| p.len() == 16), "{s}");
        let (start, end) = (s["start_time"].as_f64(), s["end_time"].as_f64());
        assert!(
            start.zip(end).is_some_and(|(a, b)| a > 1.6e9 && b >= a),
            "{s}"
        );
    }
    Ok(())
}
