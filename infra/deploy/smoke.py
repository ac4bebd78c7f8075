"""Smoke test of a deployed API (run through smoke.sh). For every route of the functions/* crates:

- a body that is not JSON gets 400 invalid_json (invalid_signature where the route requires a
  Stripe-Signature: the webhook checks it first);
- the openapi.yaml request example, pointed at a session that does not exist, gets 404
  session_not_found (the function started with its key and catalog, used its table, reached
  Stripe); for a route that takes `items` instead, a price that is not in the catalog gets 422
  offer_not_available (started, catalog loaded, table used; nothing is created);
- GET, which the HTTP API does not route, gets API Gateway's 404.

Each answer's status and body are checked against openapi.yaml. Exit status 0 = all passed.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

from jsonschema import Draft202012Validator

import checks

UNKNOWN_SESSION = "cs_test_smokeCheckSessionThatDoesNotExist0000"
UNKNOWN_PRICE = "price_smokeCheckPriceThatIsNotInTheCatalog"
TIMEOUT_S = 30  # a cold start plus Stripe's answer fits well within this


def call(method: str, url: str, body: bytes | None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def response_schema(openapi: dict[str, Any], responses: dict[str, Any], status: int) -> dict[str, Any] | None:
    response = responses.get(str(status))
    if response is None:
        return None
    if "$ref" in response:
        response = openapi["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    # Resolve the schema's local $refs against the whole document.
    return {**openapi, **response["content"]["application/json"]["schema"]}


def conforms(openapi: dict[str, Any], responses: dict[str, Any], status: int, body: Any) -> list[str]:
    schema = response_schema(openapi, responses, status)
    if schema is None:
        return [f"status {status} is not in openapi.yaml"]
    return [error.message for error in Draft202012Validator(schema).iter_errors(body)]


def requires_signature(operation: dict[str, Any]) -> bool:
    """Whether the operation wants a Stripe-Signature header (the webhook)."""
    return any(
        p.get("in") == "header" and p.get("name") == "Stripe-Signature" and p.get("required")
        for p in operation.get("parameters", [])
    )


def main(base_url: str) -> int:
    openapi = checks.load_openapi()
    base_url = base_url.rstrip("/")
    failures = 0

    def expect(label: str, method: str, route: str, body: bytes | None, status: int, code: str | None) -> None:
        nonlocal failures
        path_item = openapi["paths"][route]
        operation = path_item.get(method.lower())
        other = path_item["x-other-methods"]
        if "$ref" in other:
            other = openapi["components"][other["$ref"].rsplit("/", 1)[1]]
        responses = operation["responses"] if operation else other["responses"]
        got_status, got = call(method, base_url + route, body)
        problems = conforms(openapi, responses, got_status, got)
        if got_status != status:
            problems.insert(0, f"status {got_status}, want {status}")
        if code is not None and (not isinstance(got, dict) or got.get("code") != code):
            problems.append(f"code {got.get('code') if isinstance(got, dict) else None!r}, want {code!r}")
        verdict = "ok  " if not problems else "FAIL"
        print(f"{verdict} {method} {route}: {label} -> {got_status}")
        for problem in problems:
            print(f"       {problem}")
        if problems:
            print(f"       body: {got!r}"[:400])
        failures += bool(problems)

    for crate in checks.load_crates():
        if not crate["route"]:
            continue  # a scheduled function: nothing to call
        method, route = str(crate["method"]).upper(), crate["route"]
        operation = openapi["paths"][route][method.lower()]
        example = dict(operation["requestBody"]["content"]["application/json"]["example"])
        bad_json_code = "invalid_signature" if requires_signature(operation) else "invalid_json"
        expect("body is not JSON", method, route, b"{not json", 400, bad_json_code)
        if "checkout_session_id" in example:
            example["checkout_session_id"] = UNKNOWN_SESSION
            expect("unknown session", method, route, json.dumps(example).encode(), 404, "session_not_found")
        elif "items" in example:
            example["items"] = [{"price": UNKNOWN_PRICE, "quantity": 1}]
            expect("price not in the catalog", method, route, json.dumps(example).encode(), 422, "offer_not_available")
        expect("method not routed", "GET", route, None, 404, None)

    print(f"{'smoke test passed' if not failures else f'smoke test FAILED: {failures} check(s)'} against {base_url}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
