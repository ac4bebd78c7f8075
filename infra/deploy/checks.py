"""What the deployment must satisfy, as functions that return a list of problems (empty = fine).

The tests in test_template.py run each check on the real files and on mutated copies, so every rule
is shown to be able to fail. Nothing here needs AWS credentials or the network.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
OPENAPI = ROOT / "openapi.yaml"
SAMCONFIG = ROOT / "samconfig.toml"

# The function contract (README "Configuration", issue 7): every function reads these.
REQUIRED_ENV = {
    "STRIPE_API_VERSION",
    "STRIPE_SECRET_KEY_PARAMETER",
    "CATALOG_PARAMETER",
    "IDEMPOTENCY_TABLE",
    "INVENTORY_TABLE",
    "RUST_LOG",
}
EXPECTED_FUNCTION_PROPERTIES = {
    "Runtime": "provided.al2023",
    "Architectures": ["arm64"],
    "Handler": "bootstrap",
    "MemorySize": 256,
    # Stripe.js runServerUpdate gives up after 20 s.
    "Timeout": 15,
}
# An index: reads in key order (the sweeper's expired holds).
INDEX_ACTIONS = {"dynamodb:Query"}
# Both tables: items by key only (TransactWriteItems is authorised per item action; BatchGetItem
# reads a list of keys, never a range).
ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Stripe secret, restricted and webhook-signing keys, as they start.
SECRET_VALUE = re.compile(r"(?<![A-Za-z0-9])(sk_live_|sk_test_|rk_|whsec_)")
# Names of variables/parameters that would hold a secret.
SECRET_NAME = re.compile(r"secret|password|passwd|token|private|api_?key|signing", re.IGNORECASE)
# ...unless they say they hold a reference to one (its SSM parameter name or an ARN).
REFERENCE_NAME = re.compile(r"(_PARAMETER|_ARN|Parameter|Arn)$")


# ---------------------------------------------------------------------------------------------
# Loading


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short forms (!Ref, !Sub, ...) into their long forms."""


def _cfn_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def load_openapi(path: Path = OPENAPI) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def load_samconfig(path: Path = SAMCONFIG) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def load_crates(root: Path = ROOT) -> list[dict[str, Any]]:
    """Every function crate: functions/<dir>/Cargo.toml with its binary and its trigger, either a
    route (`[package.metadata.api]` method, route) or a rate (`[package.metadata.schedule]` rate)."""
    crates = []
    for manifest in sorted((root / "functions").glob("*/Cargo.toml")):
        data = tomllib.loads(manifest.read_text())
        package = data.get("package", {})
        api = package.get("metadata", {}).get("api", {})
        schedule = package.get("metadata", {}).get("schedule", {})
        bins = [b.get("name") for b in data.get("bin", [])] or [package.get("name")]
        crates.append(
            {
                "dir": manifest.parent.relative_to(root).as_posix(),
                "name": package.get("name"),
                "bins": bins,
                "method": api.get("method"),
                "route": api.get("route"),
                "rate": schedule.get("rate"),
            }
        )
    return crates


# ---------------------------------------------------------------------------------------------
# Template helpers


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each AWS::Serverless::Function with Globals.Function merged in (as SAM does)."""
    globals_ = template.get("Globals", {}).get("Function", {})
    result = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = copy.deepcopy(resource.get("Properties", {}))
        for key, value in globals_.items():
            if key == "Environment":
                merged = copy.deepcopy(value.get("Variables", {}))
                merged.update(props.get("Environment", {}).get("Variables", {}))
                props["Environment"] = {"Variables": merged}
            else:
                props.setdefault(key, copy.deepcopy(value))
        result[name] = {"Properties": props, "Metadata": resource.get("Metadata", {})}
    return result


def http_api_events(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [e.get("Properties", {}) for e in props.get("Events", {}).values() if e.get("Type") == "HttpApi"]


def schedules(props: dict[str, Any]) -> list[str]:
    """The rate/cron expressions of a function's Schedule and ScheduleV2 events."""
    found = []
    for event in props.get("Events", {}).values():
        if event.get("Type") == "Schedule":
            found.append(event.get("Properties", {}).get("Schedule"))
        elif event.get("Type") == "ScheduleV2":
            found.append(event.get("Properties", {}).get("ScheduleExpression"))
    return found


def _branches(value: Any) -> Iterator[Any]:
    """The possible values of a node: both branches of an Fn::If, never AWS::NoValue."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [b for v in value for b in _branches(v)]
    return list(_branches(value))


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, policy document) for every IAM policy written in the template."""
    for name, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        if kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            yield name, props.get("PolicyDocument")
        elif kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield name, policy.get("PolicyDocument")
        elif kind == "AWS::Serverless::Function":
            policies = props.get("Policies", [])
            for policy in policies if isinstance(policies, list) else [policies]:
                if isinstance(policy, dict) and "Statement" in policy:
                    yield name, policy


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, statement) for every IAM statement, both branches of a conditional one included."""
    for name, document in policy_documents(template):
        for statement in _as_list(document.get("Statement", []) if isinstance(document, dict) else []):
            yield name, statement


def _strings(value: Any) -> Iterator[str]:
    """Every literal string inside a node (intrinsic arguments included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def _is_literal(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


# ---------------------------------------------------------------------------------------------
# A small evaluator for the intrinsics the template uses, to check what an ARN really becomes.


NO_VALUE = object()


class Evaluator:
    def __init__(self, template: dict[str, Any], parameters: dict[str, str]):
        self.template = template
        self.values: dict[str, Any] = {
            "AWS::Partition": "aws",
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stack",
        }
        for name, spec in template.get("Parameters", {}).items():
            if name in parameters:
                self.values[name] = parameters[name]
            elif "Default" in spec:
                self.values[name] = str(spec["Default"])

    def condition(self, name: str) -> bool:
        return bool(self.eval(self.template["Conditions"][name]))

    def eval(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.eval(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
            evaluated = {k: self.eval(v) for k, v in node.items()}
            return {k: v for k, v in evaluated.items() if v is not NO_VALUE}
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else self.values.get(arg, f"<{arg}>")
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.eval(arg[1]))
            lookup = {**self.values, **extra}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(lookup.get(m.group(1), f"<{m.group(1)}>")), text)
        if fn == "Fn::If":
            return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::Equals":
            return self.eval(arg[0]) == self.eval(arg[1])
        if fn == "Fn::Not":
            return not self.eval(arg[0])
        if fn == "Fn::And":
            return all(self.eval(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.eval(a) for a in arg)
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Split":
            return str(self.eval(arg[1])).split(arg[0])
        if fn == "Fn::Select":
            return self.eval(arg[1])[int(arg[0])]
        if fn == "Fn::Join":
            return arg[0].join(str(v) for v in self.eval(arg[1]))
        if fn == "Fn::GetAtt":
            return f"<{'.'.join(arg)}>"
        return node


def granted(template: dict[str, Any], parameters: dict[str, str], action: str) -> set[str]:
    """The resources an action is allowed on, once the template's intrinsics are evaluated."""
    evaluator = Evaluator(template, parameters)
    resources: set[str] = set()
    for _, document in policy_documents(template):
        for statement in evaluator.eval(document).get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            if action in (actions if isinstance(actions, list) else [actions]):
                found = statement.get("Resource", [])
                resources.update(found if isinstance(found, list) else [found])
    return resources


# ---------------------------------------------------------------------------------------------
# Checks


def check_functions_match_crates(template: dict[str, Any], crates: list[dict[str, Any]]) -> list[str]:
    problems = []
    fns = functions(template)
    by_code_uri: dict[str, list[str]] = {}
    for name, fn in fns.items():
        by_code_uri.setdefault(str(fn["Properties"].get("CodeUri", "")).rstrip("/"), []).append(name)
    crate_dirs = {c["dir"] for c in crates}
    for crate in crates:
        http = bool(crate["method"] and crate["route"])
        if http == bool(crate["rate"]):
            problems.append(
                f"{crate['dir']}/Cargo.toml needs either [package.metadata.api] method and route "
                "or [package.metadata.schedule] rate"
            )
        owners = by_code_uri.get(crate["dir"], [])
        if len(owners) != 1:
            problems.append(f"{crate['dir']}: {len(owners)} template functions have this CodeUri (want 1): {owners}")
            continue
        fn = fns[owners[0]]
        events = http_api_events(fn["Properties"])
        routes = [(str(e.get("Method", "")).upper(), e.get("Path")) for e in events]
        want = [(str(crate["method"]).upper(), crate["route"])] if http else []
        if routes != want:
            problems.append(f"{owners[0]}: HttpApi events {routes}, but {crate['dir']} declares {want}")
        rates = schedules(fn["Properties"])
        if rates != ([crate["rate"]] if crate["rate"] else []):
            problems.append(f"{owners[0]}: schedules {rates}, but {crate['dir']} declares {crate['rate']!r}")
        for event in events:
            if event.get("ApiId") != {"Ref": "HttpApi"}:
                problems.append(f"{owners[0]}: its HttpApi event is not on the stack's HttpApi")
        binary = fn["Metadata"].get("BuildProperties", {}).get("Binary")
        if binary not in crate["bins"]:
            problems.append(f"{owners[0]}: BuildProperties.Binary {binary!r} is not one of {crate['bins']}")
    for code_uri, names in by_code_uri.items():
        if code_uri not in crate_dirs:
            problems.append(f"{names}: CodeUri {code_uri!r} is not a functions/* crate")
    return problems


def check_function_properties(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, fn in functions(template).items():
        props = fn["Properties"]
        for key, want in EXPECTED_FUNCTION_PROPERTIES.items():
            if props.get(key) != want:
                problems.append(f"{name}: {key} is {props.get(key)!r}, want {want!r}")
        if fn["Metadata"].get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: Metadata.BuildMethod must be rust-cargolambda")
        reserved = props.get("ReservedConcurrentExecutions")
        if reserved is None or _is_literal(reserved):
            problems.append(f"{name}: ReservedConcurrentExecutions must come from the ReservedConcurrency parameter")
        missing = REQUIRED_ENV - set(props.get("Environment", {}).get("Variables", {}))
        if missing:
            problems.append(f"{name}: environment lacks {sorted(missing)}")
        policies = props.get("Policies", [])
        policies = policies if isinstance(policies, list) else [policies]
        for needed in ("ReadConfigurationPolicy", "IdempotencyTablePolicy", "InventoryTablePolicy"):
            if {"Ref": needed} not in policies:
                problems.append(f"{name}: Policies lack !Ref {needed}")
        # The webhook signing secret goes to the function that verifies webhooks, and nowhere else.
        reads_webhook_secret = "STRIPE_WEBHOOK_SECRET_PARAMETER" in props.get("Environment", {}).get("Variables", {})
        if reads_webhook_secret != ({"Ref": "ReadWebhookSecretPolicy"} in policies):
            problems.append(f"{name}: ReadWebhookSecretPolicy must go with STRIPE_WEBHOOK_SECRET_PARAMETER")
    return problems


def check_routes_match_openapi(crates: list[dict[str, Any]], openapi: dict[str, Any]) -> list[str]:
    problems = []
    declared = {(str(c["method"]).lower(), c["route"]): c for c in crates if c["route"]}
    documented = {
        (method, path): item
        for path, item in openapi.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS
    }
    for key, crate in declared.items():
        if key not in documented:
            problems.append(f"{key[0].upper()} {key[1]} ({crate['dir']}) is not in openapi.yaml")
        elif openapi["paths"][key[1]].get("x-function") != crate["name"]:
            problems.append(f"openapi.yaml {key[1]}: x-function should be {crate['name']!r}")
    for key in documented:
        if key not in declared:
            problems.append(f"openapi.yaml documents {key[0].upper()} {key[1]}, which no crate declares")
    return problems


def check_outputs(template: dict[str, Any], crates: list[dict[str, Any]]) -> list[str]:
    base = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    values = [o.get("Value") for o in template.get("Outputs", {}).values()]
    problems = []
    if {"Fn::Sub": base} not in values:
        problems.append("no output holds the API base URL")
    for crate in (c for c in crates if c["route"]):
        count = values.count({"Fn::Sub": base + str(crate["route"])})
        if count != 1:
            problems.append(f"{count} outputs hold the URL of {crate['route']} (want 1)")
    return problems


def check_policies(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, statement in policy_statements(template):
        if not isinstance(statement, dict):
            problems.append(f"{name}: statement {statement!r} is not a plain statement")
            continue
        if statement.get("Effect") != "Allow":
            continue
        for key in ("NotAction", "NotResource"):
            if key in statement:
                problems.append(f"{name}: {key} grants everything but a list")
        for action in _as_list(statement.get("Action", [])):
            for text in _strings(action):
                if "*" in text:
                    problems.append(f"{name}: action {text!r} has a wildcard")
        for resource in _as_list(statement.get("Resource", [])):
            for text in _strings(resource):
                if "*" in text:
                    problems.append(f"{name}: resource {text!r} has a wildcard")
    # Managed policies from outside the template and SAM policy templates grant more than we can see.
    for name, fn in functions(template).items():
        policies = fn["Properties"].get("Policies", [])
        for policy in policies if isinstance(policies, list) else [policies]:
            local_ref = isinstance(policy, dict) and set(policy) == {"Ref"} and policy["Ref"] in template["Resources"]
            if not local_ref and not (isinstance(policy, dict) and "Statement" in policy):
                problems.append(f"{name}: policy {policy!r} is not a statement or a policy of this template")
    return problems


def check_table_grants(template: dict[str, Any]) -> list[str]:
    """The tables are granted item actions only; an index may be queried; no scans, batch writes or
    table management, and nothing on a table's streams."""
    problems = []
    for name, statement in policy_statements(template):
        if not isinstance(statement, dict):
            continue
        actions = {a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)}
        for resource in _as_list(statement.get("Resource", [])):
            text = " ".join(_strings(resource))
            for table in ("IdempotencyTable", "InventoryTable"):
                if table not in text:
                    continue
                allowed = INDEX_ACTIONS if "/index/" in text else ITEM_ACTIONS
                if not actions <= allowed:
                    problems.append(f"{name}: grants {sorted(actions - allowed)} on {text}")
    return problems


def check_tables(template: dict[str, Any]) -> list[str]:
    problems = []
    resources = template.get("Resources", {})
    for name, ttl in (("IdempotencyTable", "expiration"), ("InventoryTable", None)):
        props = resources.get(name, {}).get("Properties", {})
        if resources.get(name, {}).get("Type") != "AWS::DynamoDB::Table":
            problems.append(f"{name} must be an AWS::DynamoDB::Table")
            continue
        if props.get("BillingMode") != "PAY_PER_REQUEST":
            problems.append(f"{name}: BillingMode must be PAY_PER_REQUEST")
        if props.get("KeySchema") != [{"AttributeName": "pk", "KeyType": "HASH"}]:
            problems.append(f"{name}: key must be pk (HASH) only")
        index_keys = {
            key["AttributeName"] for index in props.get("GlobalSecondaryIndexes", []) for key in index["KeySchema"]
        }
        defined = {d["AttributeName"]: d["AttributeType"] for d in props.get("AttributeDefinitions", [])}
        if defined.get("pk") != "S" or set(defined) - {"pk"} != index_keys:
            problems.append(f"{name}: attributes must be pk (S) and the index keys {sorted(index_keys)}: {defined}")
        if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
            problems.append(f"{name}: point-in-time recovery must be enabled")
        if props.get("SSESpecification", {}).get("SSEEnabled") is not True:
            problems.append(f"{name}: SSE must be enabled")
        spec = props.get("TimeToLiveSpecification")
        if ttl and spec != {"AttributeName": ttl, "Enabled": True}:
            problems.append(f"{name}: TTL must be enabled on {ttl}")
        if not ttl and spec:
            problems.append(f"{name}: must have no TTL")
    return problems


def check_no_secrets(template: dict[str, Any], samconfig: dict[str, Any]) -> list[str]:
    problems = []
    for name, spec in template.get("Parameters", {}).items():
        if SECRET_VALUE.search(str(spec.get("Default", ""))):
            problems.append(f"parameter {name}: default looks like a Stripe key")
        if SECRET_NAME.search(name) and not REFERENCE_NAME.search(name):
            problems.append(f"parameter {name}: pass a secret by reference (…Parameter/…Arn), not by value")
    envs = {"Globals": template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})}
    for fn_name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            envs[fn_name] = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    for where, variables in envs.items():
        for var, value in variables.items():
            if any(SECRET_VALUE.search(s) for s in _strings(value)):
                problems.append(f"{where}: {var} holds something that looks like a Stripe key")
            if SECRET_NAME.search(var):
                if _is_literal(value):
                    problems.append(f"{where}: {var} is named like a secret and holds a literal")
                if not REFERENCE_NAME.search(var):
                    problems.append(f"{where}: {var} is named like a secret; pass a reference (…_PARAMETER/…_ARN)")
    for section, commands in samconfig.items():
        if not isinstance(commands, dict):
            continue
        for command, table in commands.items():
            overrides = table.get("parameters", {}).get("parameter_overrides", [])
            for override in overrides if isinstance(overrides, list) else [overrides]:
                if SECRET_VALUE.search(str(override)):
                    problems.append(f"samconfig.toml [{section}.{command}]: an override looks like a Stripe key")
    return problems
