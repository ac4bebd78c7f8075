"""template.yaml, openapi.yaml, samconfig.toml and the functions/* crates agree, and the template
grants least privilege and holds no secret. Each rule also runs against a mutated in-memory copy that
must fail it, so no rule passes vacuously."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable

import pytest
from openapi_spec_validator import validate as validate_openapi

import checks
import observability

TEMPLATE = checks.load_template()
OPENAPI = checks.load_openapi()
SAMCONFIG = checks.load_samconfig()
CRATES = checks.load_crates()


def statements(template: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    return template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]


# --- the real files pass every rule ---------------------------------------------------------------


def test_there_are_function_crates_and_each_has_a_route_or_a_schedule():
    assert any(c["route"] for c in CRATES), "no functions/*/Cargo.toml with a route found"
    assert all((c["method"] and c["route"]) or c["rate"] for c in CRATES), CRATES


def test_every_crate_has_exactly_one_template_function_with_its_route_and_vice_versa():
    assert checks.check_functions_match_crates(TEMPLATE, CRATES) == []


def test_every_function_has_the_runtime_build_limits_env_and_policies_it_needs():
    assert checks.check_function_properties(TEMPLATE) == []


def test_every_route_is_in_openapi_and_openapi_has_no_other_route():
    assert checks.check_routes_match_openapi(CRATES, OPENAPI) == []


def test_openapi_is_a_valid_openapi_3_1_document():
    assert OPENAPI["openapi"].startswith("3.1")
    validate_openapi(OPENAPI)


def test_each_route_has_one_url_output_and_the_base_url_is_an_output():
    assert checks.check_outputs(TEMPLATE, CRATES) == []


def test_no_policy_grants_wildcards_or_foreign_policies():
    assert checks.check_policies(TEMPLATE) == []


def test_the_tables_are_granted_item_actions_only():
    assert checks.check_table_grants(TEMPLATE) == []


def test_tables_have_the_required_keys_ttl_recovery_and_encryption():
    assert checks.check_tables(TEMPLATE) == []


def test_no_secret_in_env_parameter_defaults_or_samconfig():
    assert checks.check_no_secrets(TEMPLATE, SAMCONFIG) == []


@pytest.mark.parametrize(
    ("secret_key", "catalog", "webhook", "expected"),
    [
        (
            "/stripe-checkout-cart/stripe-secret-key",
            "/stripe-checkout-cart/catalog",
            "/stripe-checkout-cart/stripe-webhook-secret",
            {
                "parameter/stripe-checkout-cart/stripe-secret-key",
                "parameter/stripe-checkout-cart/catalog",
                "parameter/stripe-checkout-cart/stripe-webhook-secret",
            },
        ),
        ("shop-key", "shop.catalog", "shop-whs", {"parameter/shop-key", "parameter/shop.catalog", "parameter/shop-whs"}),
    ],
)
def test_ssm_get_parameter_is_granted_on_exactly_the_named_parameters_with_or_without_a_leading_slash(
    secret_key, catalog, webhook, expected
):
    params = {"StripeSecretKeyParameter": secret_key, "CatalogParameter": catalog, "StripeWebhookSecretParameter": webhook}
    prefix = "arn:aws:ssm:us-east-1:123456789012:"
    assert checks.granted(TEMPLATE, params, "ssm:GetParameter") == {prefix + e for e in expected}
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["STRIPE_SECRET_KEY_PARAMETER"] == {"Ref": "StripeSecretKeyParameter"}
    assert env["CATALOG_PARAMETER"] == {"Ref": "CatalogParameter"}


def test_only_the_webhook_function_may_read_the_webhook_secret():
    readers = [
        name
        for name, fn in checks.functions(TEMPLATE).items()
        if {"Ref": "ReadWebhookSecretPolicy"} in fn["Properties"]["Policies"]
    ]
    assert readers == ["StripeWebhookFunction"]


def test_kms_decrypt_is_granted_only_for_a_customer_managed_key_and_only_through_ssm():
    assert checks.granted(TEMPLATE, {}, "kms:Decrypt") == set()
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert checks.granted(TEMPLATE, {"StripeSecretKeyKmsKeyArn": key}, "kms:Decrypt") == {key}
    evaluator = checks.Evaluator(TEMPLATE, {"StripeSecretKeyKmsKeyArn": key})
    evaluated = evaluator.eval(statements(TEMPLATE, "ReadConfigurationPolicy"))
    decrypt = [s for s in evaluated if s.get("Action") == "kms:Decrypt"]
    assert decrypt[0]["Condition"] == {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("/stripe-checkout-cart/stripe-secret-key", True),
        ("stripe-key", True),
        ("/a/b.c_d-e", True),
        ("sk_live_51Habc", False),
        ("/sk_test_51Habc", False),
        ("rk_live_abc", False),
        ("whsec_abc", False),
        ("has space", False),
        ("//double", False),
        ("", False),
    ],
)
def test_the_secret_key_parameter_name_pattern_refuses_a_pasted_key(value, accepted):
    pattern = TEMPLATE["Parameters"]["StripeSecretKeyParameter"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


def test_cors_allow_list_throttling_and_json_access_logs_are_configured():
    api = TEMPLATE["Resources"]["HttpApi"]["Properties"]
    cors = api["DefinitionBody"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == {"Ref": "AllowedOrigins"}
    assert TEMPLATE["Parameters"]["AllowedOrigins"]["Type"] == "CommaDelimitedList"
    assert "POST" in cors["allowMethods"] and "content-type" in cors["allowHeaders"]
    assert api["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
    }
    logs = api["AccessLogSettings"]
    assert logs["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert '"requestId":"$context.requestId"' in logs["Format"]
    assert TEMPLATE["Resources"]["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_reserved_concurrency_is_left_unset_by_default():
    assert TEMPLATE["Parameters"]["ReservedConcurrency"]["Default"] == ""
    evaluator = checks.Evaluator(TEMPLATE, {})
    assert evaluator.condition("HasReservedConcurrency") is False
    assert checks.Evaluator(TEMPLATE, {"ReservedConcurrency": "5"}).condition("HasReservedConcurrency")


def test_samconfig_has_the_deploy_defaults():
    deploy = SAMCONFIG["default"]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True and deploy["resolve_s3"] is True
    # A cached build would miss changes under shared/ (SAM hashes only the CodeUri folder).
    assert SAMCONFIG["default"]["build"]["parameters"]["cached"] is False
    overrides = dict(o.split("=", 1) for o in deploy["parameter_overrides"])
    assert set(overrides) <= set(TEMPLATE["Parameters"]), "overrides name template parameters"


# --- every rule can fail -------------------------------------------------------------------------
# A case = (name, mutation of the copies, the rule that must then fail). Paths are dot-separated keys
# into the template ("t"), openapi.yaml ("o") or samconfig.toml ("s"); digits index lists.

Docs = dict[str, Any]


def _node(docs: Docs, path: str) -> tuple[Any, str | int]:
    """The container of the node a path names, and its key there."""
    *keys, last = path.split(".")
    node: Any = docs
    for key in keys:
        node = node[int(key)] if key.isdigit() else node[key]
    return node, int(last) if last.isdigit() else last


def _set(path: str, value: Any) -> Callable[[Docs], None]:
    def mutate(docs: Docs) -> None:
        node, key = _node(docs, path)
        node[key] = copy.deepcopy(value)

    return mutate


def _pop(path: str) -> Callable[[Docs], None]:
    def mutate(docs: Docs) -> None:
        node, key = _node(docs, path)
        node.pop(key)

    return mutate


def _append(path: str, value: Any) -> Callable[[Docs], None]:
    def mutate(docs: Docs) -> None:
        node, key = _node(docs, path)
        node[key].append(copy.deepcopy(value))

    return mutate


def _copy_function(code_uri: str | None) -> Callable[[Docs], None]:
    def mutate(docs: Docs) -> None:
        clone = copy.deepcopy(docs["t"]["Resources"]["ChangeIntervalFunction"])
        if code_uri:
            clone["Properties"]["CodeUri"] = code_uri
        docs["t"]["Resources"]["CloneFunction"] = clone

    return mutate


def _rename_method(docs: Docs) -> None:
    item = docs["o"]["paths"]["/change-subscription-interval"]
    item["put"] = item.pop("post")


def crates_rule(d: Docs) -> list[str]:
    return checks.check_functions_match_crates(d["t"], d["c"])


def openapi_rule(d: Docs) -> list[str]:
    return checks.check_routes_match_openapi(d["c"], d["o"])


def outputs_rule(d: Docs) -> list[str]:
    return checks.check_outputs(d["t"], d["c"])


def properties_rule(d: Docs) -> list[str]:
    return checks.check_function_properties(d["t"])


def policies_rule(d: Docs) -> list[str]:
    return checks.check_policies(d["t"])


def grants_rule(d: Docs) -> list[str]:
    return checks.check_table_grants(d["t"])


def tables_rule(d: Docs) -> list[str]:
    return checks.check_tables(d["t"])


def secrets_rule(d: Docs) -> list[str]:
    return checks.check_no_secrets(d["t"], d["s"])


FN = "t.Resources.ChangeIntervalFunction"
EVENT = f"{FN}.Properties.Events.Api.Properties"
CONFIG = "t.Resources.ReadConfigurationPolicy.Properties.PolicyDocument.Statement"
IDEM = "t.Resources.IdempotencyTablePolicy.Properties.PolicyDocument.Statement.0"
INV = "t.Resources.InventoryTablePolicy.Properties.PolicyDocument.Statement.0"
SWEEP = "t.Resources.SweepHoldsPolicy.Properties.PolicyDocument.Statement.0"
SWEEPER = "t.Resources.ReleaseHoldsFunction"
ENV = "t.Globals.Function.Environment.Variables"
OP = "o.paths./change-subscription-interval"
ANY_ARN = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/*"}
WIDE = [{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}]
NEW_CRATE = {"dir": "functions/new", "name": "new", "bins": ["new"], "method": "POST", "route": "/new", "rate": None}
SORT_KEY = {"AttributeName": "sk", "KeyType": "RANGE"}
KEY_BY_VALUE = {"Variables": {"STRIPE_SECRET_KEY": {"Ref": "Key"}}}
OVERRIDES = "s.default.deploy.parameters.parameter_overrides"

NEGATIVE_CASES: list[tuple[str, Callable[[Docs], None], Callable[[Docs], list[str]]]] = [
    ("function without a crate", _copy_function("functions/stray"), crates_rule),
    ("crate without a function", _append("c", NEW_CRATE), crates_rule),
    ("two functions for one crate", _copy_function(None), crates_rule),
    ("route differs from the crate", _set(f"{EVENT}.Path", "/change-interval"), crates_rule),
    ("method differs from the crate", _set(f"{EVENT}.Method", "GET"), crates_rule),
    ("event on another API", _set(f"{EVENT}.ApiId", {"Ref": "OtherApi"}), crates_rule),
    ("wrong binary", _set(f"{FN}.Metadata.BuildProperties.Binary", "other"), crates_rule),
    ("crate route missing from openapi", _pop(OP), openapi_rule),
    ("openapi route without a crate", _set("o.paths./extra", {"post": {}}), openapi_rule),
    ("openapi method differs", _rename_method, openapi_rule),
    ("openapi names another function", _set(f"{OP}.x-function", "other"), openapi_rule),
    ("route output missing", _pop("t.Outputs.ChangeSubscriptionIntervalUrl"), outputs_rule),
    ("base url output missing", _pop("t.Outputs.ApiBaseUrl"), outputs_rule),
    ("x86 function", _set("t.Globals.Function.Architectures", ["x86_64"]), properties_rule),
    ("other runtime", _set(f"{FN}.Properties.Runtime", "provided.al2"), properties_rule),
    ("timeout past Stripe.js's 20 s", _set("t.Globals.Function.Timeout", 30), properties_rule),
    ("not built by cargo-lambda", _set(f"{FN}.Metadata.BuildMethod", "makefile"), properties_rule),
    ("fixed reserved concurrency", _set("t.Globals.Function.ReservedConcurrentExecutions", 10), properties_rule),
    ("env contract broken", _pop(f"{ENV}.IDEMPOTENCY_TABLE"), properties_rule),
    ("policy not attached", _set(f"{FN}.Properties.Policies", [{"Ref": "ReadConfigurationPolicy"}]), properties_rule),
    ("webhook secret for another function", _append(f"{FN}.Properties.Policies", {"Ref": "ReadWebhookSecretPolicy"}), properties_rule),
    ("dynamodb:*", _set(f"{IDEM}.Action", ["dynamodb:*"]), policies_rule),
    ("action *", _set(f"{CONFIG}.0.Action", "*"), policies_rule),
    ("resource *", _set(f"{CONFIG}.0.Resource", "*"), policies_rule),
    ("wildcard inside an ARN", _set(f"{CONFIG}.0.Resource", ANY_ARN), policies_rule),
    ("wildcard in a conditional statement", _set(f"{CONFIG}.1.Fn::If.1.Resource", "*"), policies_rule),
    ("NotResource", _set(f"{CONFIG}.0.NotResource", "arn:aws:s3:::x"), policies_rule),
    ("inline wildcard statement on a function", _set(f"{FN}.Properties.Policies", WIDE), policies_rule),
    ("SAM policy template", _set(f"{FN}.Properties.Policies", [{"DynamoDBCrudPolicy": {"TableName": "t"}}]), policies_rule),
    ("AWS managed policy", _set(f"{FN}.Properties.Policies", ["AmazonDynamoDBFullAccess"]), policies_rule),
    ("scan on the idempotency table", _append(f"{IDEM}.Action", "dynamodb:Scan"), grants_rule),
    ("query on the inventory table", _append(f"{INV}.Action", "dynamodb:Query"), grants_rule),
    ("batch write on the inventory table", _append(f"{INV}.Action", "dynamodb:BatchWriteItem"), grants_rule),
    ("table management", _set(f"{INV}.Action", ["dynamodb:GetItem", "dynamodb:DeleteTable"]), grants_rule),
    ("query on the table, not its index", _set(f"{SWEEP}.Resource", {"Fn::GetAtt": ["InventoryTable", "Arn"]}), grants_rule),
    ("scan of the index", _set(f"{SWEEP}.Action", ["dynamodb:Query", "dynamodb:Scan"]), grants_rule),
    ("schedule differs from the crate", _set(f"{SWEEPER}.Properties.Events.Sweep.Properties.Schedule", "rate(1 day)"), crates_rule),
    ("scheduled function on a route", _set(f"{SWEEPER}.Properties.Events.Api", {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Method": "POST", "Path": "/sweep"}}), crates_rule),
    ("crate with neither route nor schedule", _append("c", {**NEW_CRATE, "method": None, "route": None, "rate": None}), crates_rule),
    ("index attribute without an index", _pop("t.Resources.InventoryTable.Properties.GlobalSecondaryIndexes"), tables_rule),
    ("inventory policy not attached", _pop(f"{FN}.Properties.Policies.2"), properties_rule),
    ("no TTL", _pop("t.Resources.IdempotencyTable.Properties.TimeToLiveSpecification"), tables_rule),
    ("sort key", _append("t.Resources.InventoryTable.Properties.KeySchema", SORT_KEY), tables_rule),
    ("no PITR", _set("t.Resources.InventoryTable.Properties.PointInTimeRecoverySpecification", {}), tables_rule),
    ("no SSE", _set("t.Resources.IdempotencyTable.Properties.SSESpecification.SSEEnabled", False), tables_rule),
    ("provisioned billing", _set("t.Resources.IdempotencyTable.Properties.BillingMode", "PROVISIONED"), tables_rule),
    ("secret env value", _set(f"{ENV}.RUST_LOG", "sk_test_51Habcdef"), secrets_rule),
    ("secret inside a Sub", _set(f"{ENV}.CATALOG_PARAMETER", {"Fn::Sub": "whsec_${AWS::Region}"}), secrets_rule),
    ("secret parameter default", _set("t.Parameters.StripeApiVersion.Default", "rk_live_abc"), secrets_rule),
    ("secret-named env with a literal", _set(f"{ENV}.STRIPE_SECRET_KEY_PARAMETER", "/literal/name"), secrets_rule),
    ("secret passed by value", _set(f"{FN}.Properties.Environment", KEY_BY_VALUE), secrets_rule),
    ("secret parameter", _set("t.Parameters.StripeSecretKey", {"Type": "String", "NoEcho": True}), secrets_rule),
    ("secret in samconfig", _append(f"{OVERRIDES}", "StripeApiVersion=sk_live_x"), secrets_rule),
]


@pytest.mark.parametrize(("mutation", "rule"), [c[1:] for c in NEGATIVE_CASES], ids=[c[0] for c in NEGATIVE_CASES])
def test_each_rule_fails_on_a_broken_copy(mutation, rule):
    docs = copy.deepcopy({"t": TEMPLATE, "o": OPENAPI, "c": CRATES, "s": SAMCONFIG})
    assert rule(docs) == [], "the unmutated copy passes"
    mutation(docs)
    assert rule(docs) != [], "the broken copy must fail"


# --- observability: tracing, JSON logs, alarms, the dashboard, the schedule's dead letters ---------

EMITTED = observability.emitted_metrics()


def test_tracing_is_active_and_logs_are_json_at_a_level_that_keeps_the_metrics_lines():
    assert observability.check_tracing_and_logging(TEMPLATE) == []


def test_the_alarms_watch_5xx_rate_throttles_stripe_sweeper_errors_and_backlog_signatures_and_dead_letters():
    assert observability.check_alarms(TEMPLATE, EMITTED) == []


def test_one_dashboard_shows_the_metrics_the_functions_write_and_every_alarm():
    assert observability.check_dashboard(TEMPLATE, EMITTED) == []


def test_the_schedule_retries_then_parks_runs_in_a_queue_only_its_rule_may_write():
    assert observability.check_schedule_dead_letters(TEMPLATE) == []


def test_the_metric_names_are_read_from_the_telemetry_sources():
    assert {"Requests", "ServerErrors", "SweepErrors", "Backlog", "InvalidSignature"} <= EMITTED


def test_after_sams_transform_the_sweeper_may_send_to_its_dead_letter_queue_only(monkeypatch):
    # SAM writes the roles: the OnFailure destination's grant and X-Ray's write-only policy.
    from samtranslator.translator.transform import transform

    class Policies:
        def load(self) -> dict[str, str]:
            return {
                name: f"arn:aws:iam::aws:policy/{path}{name}"
                for name, path in [("AWSLambdaBasicExecutionRole", "service-role/"), ("AWSXrayWriteOnlyAccess", "")]
            }

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = copy.deepcopy(TEMPLATE)
    for name in checks.functions(template):
        template["Resources"][name]["Properties"]["CodeUri"] = "s3://bucket/key"  # S3 code, as packaged
    resources = transform(template, {"AllowedOrigins": "https://shop.example"}, Policies())["Resources"]
    role = resources["ReleaseHoldsFunctionRole"]["Properties"]
    inline = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    assert inline == [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}}
    ]
    assert "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in role["ManagedPolicyArns"]
    target = resources["ReleaseHoldsFunctionSweep"]["Properties"]["Targets"][0]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    for name, fn in checks.functions(TEMPLATE).items():
        assert resources[name]["Properties"]["TracingConfig"] == {"Mode": "Active"}, name


def tracing_rule(d: Docs) -> list[str]:
    return observability.check_tracing_and_logging(d["t"])


def alarms_rule(d: Docs) -> list[str]:
    return observability.check_alarms(d["t"], EMITTED)


def dashboard_rule(d: Docs) -> list[str]:
    return observability.check_dashboard(d["t"], EMITTED)


def dead_letters_rule(d: Docs) -> list[str]:
    return observability.check_schedule_dead_letters(d["t"])


RATE = "t.Resources.ServerErrorRateAlarm.Properties"
SCHEDULE = f"{SWEEPER}.Properties.Events.Sweep.Properties"
DLQ_GRANT = "t.Resources.SweepDeadLetterQueuePolicy.Properties.PolicyDocument.Statement.0"
BODY = "t.Resources.Dashboard.Properties.DashboardBody.Fn::Sub"


def _edit_body(old: str, new: str) -> Callable[[Docs], None]:
    def mutate(docs: Docs) -> None:
        node, key = _node(docs, BODY)
        node[key] = node[key].replace(old, new)

    return mutate


OBSERVABILITY_CASES: list[tuple[str, Callable[[Docs], None], Callable[[Docs], list[str]]]] = [
    ("tracing off", _set("t.Globals.Function.Tracing", "PassThrough"), tracing_rule),
    ("one function untraced", _set(f"{FN}.Properties.Tracing", "PassThrough"), tracing_rule),
    ("text logs", _set("t.Globals.Function.LoggingConfig.LogFormat", "Text"), tracing_rule),
    ("a level that drops the metrics", _append("t.Parameters.LogLevel.AllowedValues", "WARN"), tracing_rule),
    ("no service name", _pop(f"{ENV}.POWERTOOLS_SERVICE_NAME"), tracing_rule),
    ("no 5xx alarm", _pop("t.Resources.ServerErrorRateAlarm"), alarms_rule),
    ("5xx count, not rate", _set(f"{RATE}.Metrics.0.Expression", "errors"), alarms_rule),
    ("alarm on a metric nobody writes", _set(f"{RATE}.Metrics.1.MetricStat.Metric.MetricName", "Http5xx"), alarms_rule),
    ("a function's throttles unwatched", _pop("t.Resources.ThrottlesAlarm.Properties.Metrics.7"), alarms_rule),
    ("no backlog alarm", _pop("t.Resources.SweepBacklogAlarm"), alarms_rule),
    ("alarm without actions", _pop("t.Resources.WebhookSignatureAlarm.Properties.AlarmActions"), alarms_rule),
    ("no traffic alarms", _set("t.Resources.StripeUnavailableAlarm.Properties.TreatMissingData", "breaching"), alarms_rule),
    ("no dashboard", _pop("t.Resources.Dashboard"), dashboard_rule),
    ("dashboard body not JSON", _edit_body('"widgets": [', '"widgets": [[['), dashboard_rule),
    ("dashboard without the sweeper's backlog", _edit_body('"Backlog"', '"Backlogs"'), dashboard_rule),
    ("dashboard without an alarm", _edit_body('"${ThrottlesAlarm.Arn}", ', ""), dashboard_rule),
    ("no retry policy", _pop(f"{SCHEDULE}.RetryPolicy"), dead_letters_rule),
    ("no dead-letter queue", _pop(f"{SCHEDULE}.DeadLetterConfig"), dead_letters_rule),
    ("dead letters to a foreign queue", _set(f"{SCHEDULE}.DeadLetterConfig.Arn", "arn:aws:sqs:us-east-1:1:q"), dead_letters_rule),
    ("queue open to anyone", _set(f"{DLQ_GRANT}.Principal", "*"), dead_letters_rule),
    ("queue open to every rule", _pop(f"{DLQ_GRANT}.Condition"), dead_letters_rule),
    ("failed runs lost", _pop(f"{SWEEPER}.Properties.EventInvokeConfig"), dead_letters_rule),
]


@pytest.mark.parametrize(
    ("mutation", "rule"), [c[1:] for c in OBSERVABILITY_CASES], ids=[c[0] for c in OBSERVABILITY_CASES]
)
def test_each_observability_rule_fails_on_a_broken_copy(mutation, rule):
    docs = copy.deepcopy({"t": TEMPLATE, "o": OPENAPI, "c": CRATES, "s": SAMCONFIG})
    assert rule(docs) == [], "the unmutated copy passes"
    mutation(docs)
    assert rule(docs) != [], "the broken copy must fail"
