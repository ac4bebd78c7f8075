"""Rules for what template.yaml gives the people who run the stack: active X-Ray tracing, JSON logs
whose level keeps the metrics lines, the alarms, the dashboard, and the sweeper schedule's retry
policy and dead-letter queue. Each rule returns a list of problems (empty when it holds)."""

from __future__ import annotations

import json
import re
from typing import Any

import checks

# The metrics the functions write (Embedded Metric Format, shared/runtime/src/telemetry*): every
# custom metric an alarm or the dashboard names must be one of these string literals.
# Where the functions name the metrics they write: the telemetry module and the Lambda glue.
TELEMETRY_SOURCES = [
    checks.ROOT / "shared/runtime/src/telemetry.rs",
    *sorted((checks.ROOT / "shared/runtime/src/telemetry").glob("*.rs")),
    checks.ROOT / "shared/runtime/src/lambda.rs",
]

# Lambda's JSON log filtering treats a line without a level (an EMF document) as INFO: a higher
# application level would drop every metric.
LEVELS_THAT_KEEP_METRICS = {"TRACE", "DEBUG", "INFO"}

# What the issue asks the alarms to watch, as (namespace kind, metric) pairs.
WATCHED = {
    ("custom", "ServerErrors"),
    ("custom", "Requests"),
    ("AWS/Lambda", "Throttles"),
    ("custom", "StripeUnavailable"),
    ("custom", "SweepErrors"),
    ("custom", "Backlog"),
    ("custom", "InvalidSignature"),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
}

# What the dashboard must show.
DASHBOARD_METRICS = {
    "Requests", "Responses", "ServerErrors", "Latency", "ColdStart", "StripeCalls", "StripeAttempts",
    "StripeUnavailable", "StripeLatency", "DynamoRoundTrips", "IdempotentReplays", "SessionBusy",
    "RequestInProgress", "StockBusy", "OutOfStock", "Sold", "Released", "AwaitingPayment", "Ignored",
    "InvalidSignature", "HoldsSettled", "HoldsLeftOpen", "SweepErrors", "Backlog", "Throttles",
}


def emitted_metrics() -> set[str]:
    names: set[str] = set()
    for path in TELEMETRY_SOURCES:
        names |= set(re.findall(r'"([A-Z][A-Za-z0-9]+)"', path.read_text()))
    return names


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def check_tracing_and_logging(template: dict[str, Any]) -> list[str]:
    problems = []
    glob = template.get("Globals", {}).get("Function", {})
    if glob.get("Tracing") != "Active":
        problems.append("Globals.Function.Tracing must be Active")
    for name, fn in checks.functions(template).items():
        if fn["Properties"].get("Tracing", "Active") != "Active":
            problems.append(f"{name}: Tracing overrides the active tracing of Globals")
    logging = glob.get("LoggingConfig", {})
    if logging.get("LogFormat") != "JSON":
        problems.append("Globals.Function.LoggingConfig.LogFormat must be JSON")
    level = logging.get("ApplicationLogLevel")
    if level == {"Ref": "LogLevel"}:
        allowed = set(template["Parameters"]["LogLevel"].get("AllowedValues", []))
        if not allowed or not allowed <= LEVELS_THAT_KEEP_METRICS:
            problems.append(f"LogLevel allows {sorted(allowed - LEVELS_THAT_KEEP_METRICS)}: the metrics lines would be dropped")
    elif level not in LEVELS_THAT_KEEP_METRICS:
        problems.append(f"ApplicationLogLevel {level!r} would drop the metrics lines")
    env = glob.get("Environment", {}).get("Variables", {})
    if "POWERTOOLS_SERVICE_NAME" not in env:
        problems.append("POWERTOOLS_SERVICE_NAME (the `service` of lines and metrics) is not set")
    if env.get("POWERTOOLS_METRICS_NAMESPACE") != {"Ref": "MetricsNamespace"}:
        problems.append("POWERTOOLS_METRICS_NAMESPACE must be the MetricsNamespace parameter")
    return problems


def _metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads: its own, or those of its metric math."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [props]
    return [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]


def check_alarms(template: dict[str, Any], emitted: set[str]) -> list[str]:
    problems = []
    watched: set[tuple[str, str]] = set()
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        for key in ("AlarmActions", "OKActions"):
            if props.get(key) != {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}:
                problems.append(f"{name}: {key} must notify AlarmTopicArn when it is set")
        if props.get("TreatMissingData") != "notBreaching":
            problems.append(f"{name}: no traffic must not be a breach (TreatMissingData: notBreaching)")
        for metric in _metric_stats(alarm):
            namespace = metric.get("Namespace")
            kind = "custom" if namespace == {"Ref": "MetricsNamespace"} else namespace
            if not isinstance(kind, str):
                problems.append(f"{name}: namespace {namespace!r} is neither AWS's nor MetricsNamespace")
                continue
            if kind == "custom" and metric["MetricName"] not in emitted:
                problems.append(f"{name}: no function writes the metric {metric['MetricName']}")
            watched.add((kind, metric["MetricName"]))
    for kind, metric in sorted(WATCHED - watched):
        problems.append(f"no alarm watches {metric} ({kind})")
    rate = [a for a in alarms.values() if "ServerErrors" in json.dumps(a) and "Requests" in json.dumps(a)]
    if not any("/ requests" in m.get("Expression", "") for a in rate for m in a["Properties"].get("Metrics", [])):
        problems.append("the 5xx alarm must be a rate: metric math dividing ServerErrors by Requests")
    throttled = {
        json.dumps(d["Value"])
        for a in alarms.values()
        for m in _metric_stats(a)
        if m.get("MetricName") == "Throttles"
        for d in m.get("Dimensions", [])
    }
    for fn in checks.functions(template):
        if json.dumps({"Ref": fn}) not in throttled:
            problems.append(f"the throttles alarm does not watch {fn}")
    return problems


def dashboard_body(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The body with every ${...} of its Fn::Sub replaced by a placeholder, parsed as JSON."""
    body = dashboard["Properties"]["DashboardBody"]
    text = body["Fn::Sub"] if isinstance(body, dict) else body
    return json.loads(re.sub(r"\$\{[^}]+\}", "X", text))


def check_dashboard(template: dict[str, Any], emitted: set[str]) -> list[str]:
    dashboards = resources(template, "AWS::CloudWatch::Dashboard")
    if len(dashboards) != 1:
        return [f"want one AWS::CloudWatch::Dashboard, found {len(dashboards)}"]
    (name, dashboard), = dashboards.items()
    try:
        body = dashboard_body(dashboard)
    except (KeyError, json.JSONDecodeError) as e:
        return [f"{name}: the body is not JSON ({e})"]
    text = json.dumps(body)
    shown = {m for m in DASHBOARD_METRICS if f'"{m}"' in text or f'\\"{m}\\"' in text}
    problems = [f"{name} does not show {m}" for m in sorted(DASHBOARD_METRICS - shown)]
    alarms = set(resources(template, "AWS::CloudWatch::Alarm"))
    sub = dashboard["Properties"]["DashboardBody"].get("Fn::Sub", "")
    for alarm in sorted(alarms):
        if f"${{{alarm}.Arn}}" not in sub:
            problems.append(f"{name}: the alarm widget lacks {alarm}")
    custom = {
        row[1]
        for widget in body.get("widgets", [])
        for row in widget.get("properties", {}).get("metrics", [])
        if isinstance(row, list) and len(row) > 1 and row[0] in ("X", ".") and isinstance(row[1], str)
    }
    problems += [f"{name}: no function writes the metric {m}" for m in sorted(custom - emitted)]
    return problems


def check_schedule_dead_letters(template: dict[str, Any]) -> list[str]:
    problems = []
    queues = resources(template, "AWS::SQS::Queue")
    policies = resources(template, "AWS::SQS::QueuePolicy")
    for fn_name, fn in checks.functions(template).items():
        for event_name, event in fn["Properties"].get("Events", {}).items():
            if event.get("Type") != "Schedule":
                continue
            props = event["Properties"]
            where = f"{fn_name}.{event_name}"
            retry = props.get("RetryPolicy", {})
            if not isinstance(retry.get("MaximumRetryAttempts"), int) or not retry.get("MaximumEventAgeInSeconds"):
                problems.append(f"{where}: no RetryPolicy (MaximumRetryAttempts, MaximumEventAgeInSeconds)")
            arn = props.get("DeadLetterConfig", {}).get("Arn", {})
            queue = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
            if queue not in queues:
                problems.append(f"{where}: DeadLetterConfig.Arn must be a queue of this stack")
                continue
            rule_arn = {"Fn::GetAtt": [f"{fn_name}{event_name}", "Arn"]}
            grants = [
                s
                for p in policies.values()
                if {"Ref": queue} in p["Properties"]["Queues"]
                for s in p["Properties"]["PolicyDocument"]["Statement"]
            ]
            if not grants:
                problems.append(f"{where}: {queue} has no queue policy letting the rule send to it")
            for s in grants:
                if s.get("Principal") != {"Service": "events.amazonaws.com"} or s.get("Action") != "sqs:SendMessage":
                    problems.append(f"{queue}: the policy must let only EventBridge send messages")
                if s.get("Condition") != {"ArnEquals": {"aws:SourceArn": rule_arn}}:
                    problems.append(f"{queue}: the policy must be limited to the rule {fn_name}{event_name}")
            on_failure = fn["Properties"].get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
            if on_failure.get("Destination") != {"Fn::GetAtt": [queue, "Arn"]}:
                problems.append(f"{fn_name}: failed asynchronous runs must go to {queue} too (EventInvokeConfig)")
    return problems
