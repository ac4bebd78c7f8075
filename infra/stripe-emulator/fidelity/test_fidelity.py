"""Fidelity of stripe-emulator against the official stripe-python client (16.x).

The fixture builds nothing: it runs the binary named by STRIPE_EMULATOR_BIN (default
<repo>/target/debug/stripe-emulator), so build it first:

    cargo build -p stripe-emulator
    python3 -m pytest infra/stripe-emulator/fidelity -q
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest
import stripe

REPO = Path(__file__).resolve().parents[3]
BIN = os.environ.get("STRIPE_EMULATOR_BIN", str(REPO / "target" / "debug" / "stripe-emulator"))
KEY = "sk_test_emulator"
PREVIEW = "2025-03-31.basil; checkout_server_update_beta=v1;"
LEGACY = "2025-03-31.basil"
CLOVER = "2025-12-15.clover"
DAHLIA = "2026-03-25.dahlia"
ENDIVE = "2026-09-30.endive"
LISTENING = re.compile(r"stripe-emulator listening on (http://127\.0\.0\.1:(\d+))")


# ---------------------------------------------------------------- process management


def start_emulator(log_path: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} is missing: run `cargo build -p stripe-emulator` first")
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [BIN, "--port", "0", "--exit-on-stdin-eof", *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    log.close()
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    if not ready:
        stop_emulator(proc)
        pytest.fail("emulator did not print its listening line within 15 s")
    line = proc.stdout.readline().decode().strip()
    match = LISTENING.fullmatch(line)
    if not match:
        stop_emulator(proc)
        pytest.fail(f"unexpected first stdout line: {line!r}")
    return proc, match.group(1)


def stop_emulator(proc: subprocess.Popen) -> None:
    """Close stdin (the emulator exits on EOF); escalate only if it does not."""
    try:
        if proc.stdin and not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    finally:
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    proc, url = start_emulator(tmp_path_factory.mktemp("emulator") / "stderr.log")
    yield url
    stop_emulator(proc)
    assert proc.returncode == 0, "emulator should exit cleanly on stdin EOF"


@pytest.fixture(autouse=True)
def fresh_state(request):
    if "emulator" in request.fixturenames:
        url = request.getfixturevalue("emulator")
        raw(url, "POST", "/_emulator/reset", auth=False)
    yield


# ---------------------------------------------------------------- helpers


def client(url: str, version: str, key: str = KEY, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": url},
        stripe_version=version,
        max_network_retries=retries,
    )


class Raw:
    def __init__(self, status: int, headers: dict[str, str], body: Any):
        self.status = status
        self.headers = headers
        self.body = body


def raw(
    url: str,
    method: str,
    path: str,
    body: Optional[str] = None,
    headers: Optional[dict[str, str]] = None,
    auth: bool = True,
    json_body: Any = None,
) -> Raw:
    all_headers = dict(headers or {})
    data = None
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    elif body is not None:
        data = body.encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth:
        all_headers.setdefault("Authorization", f"Bearer {KEY}")
    req = urllib.request.Request(url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Raw(resp.status, {k.lower(): v for k, v in resp.headers.items()}, json.loads(resp.read()))
    except urllib.error.HTTPError as err:
        return Raw(err.code, {k.lower(): v for k, v in err.headers.items()}, json.loads(err.read()))


def catalog(c: stripe.StripeClient) -> dict[str, str]:
    product = c.v1.products.create(params={"name": "Coffee subscription"})
    mug = c.v1.products.create(params={"name": "Mug", "id": "prod_mug"})

    def price(**params: Any) -> str:
        return c.v1.prices.create(params=params).id

    return {
        "product": product.id,
        "monthly": price(product=product.id, currency="usd", unit_amount=1500, recurring={"interval": "month"}),
        "monthly_addon": price(product=product.id, currency="usd", unit_amount=500, recurring={"interval": "month"}),
        "yearly": price(product=product.id, currency="usd", unit_amount=15000, recurring={"interval": "year"}),
        "quarterly": price(
            product=product.id, currency="usd", unit_amount=4000, recurring={"interval": "month", "interval_count": 3}
        ),
        "mug": price(product=mug.id, currency="usd", unit_amount=900),
        "beans": price(product_data={"name": "Beans"}, currency="usd", unit_amount=1200),
        "mug_eur": price(product=mug.id, currency="eur", unit_amount=800),
    }


def preview_session(c: stripe.StripeClient, prices: dict[str, str], **extra: Any):
    params = {
        "mode": "subscription",
        "ui_mode": "custom",
        "permissions": {"update_line_items": "server_only"},
        "return_url": "https://shop.example/return?session_id={CHECKOUT_SESSION_ID}",
        "line_items": [
            {"price": prices["monthly"], "quantity": 1},
            {"price": prices["mug"], "quantity": 2},
        ],
        "expand": ["line_items"],
    }
    params.update(extra)
    return c.v1.checkout.sessions.create(params=params)


def ids(session) -> list[str]:
    return [item.id for item in session.line_items.data]


# ---------------------------------------------------------------- process contract


def test_process_contract_stdin_eof_and_sigterm(tmp_path):
    proc, url = start_emulator(tmp_path / "a.log")
    assert raw(url, "GET", "/_emulator/health", auth=False).body == {"ok": True}
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    proc.stdout.close()

    proc, url = start_emulator(tmp_path / "b.log")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    stop_emulator(proc)

    proc, url = start_emulator(tmp_path / "c.log", "--default-api-version", PREVIEW)
    try:
        r = raw(url, "GET", "/v1/products/prod_x")
        assert r.headers["stripe-version"] == PREVIEW.strip()
        assert r.headers["request-id"].startswith("req_")
    finally:
        stop_emulator(proc)


# ---------------------------------------------------------------- the main flows


def test_preview_subscription_flow(emulator):
    c = client(emulator, PREVIEW)
    prices = catalog(c)
    session = preview_session(c, prices)
    assert session.object == "checkout.session"
    assert session.id.startswith("cs_test_") and len(session.id) == len("cs_test_") + 58
    assert session.ui_mode == "custom"
    assert session.permissions.update_line_items == "server_only"
    assert session.permissions.update_shipping_details == "client_only"
    assert session.client_secret.startswith(session.id + "_secret_")
    assert session.url is None
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.amount_subtotal == 1500 + 1800 and session.amount_total == 3300
    assert session.currency == "usd"
    assert session.expires_at == session.created + 24 * 3600
    plan_id, mug_id = ids(session)
    assert plan_id.startswith("li_") and len(plan_id) == 3 + 24
    assert session.line_items.url == f"/v1/checkout/sessions/{session.id}/line_items"
    assert session.line_items.data[1].description == "Mug"
    assert session.line_items.data[1].price.id == prices["mug"]
    assert session.line_items.data[0].price.recurring.interval == "month"

    # Not expanded: no line_items key at all.
    plain = c.v1.checkout.sessions.retrieve(session.id)
    assert "line_items" not in plain

    # Keep the plan, bump the mug, add beans, and put beans first.
    updated = c.v1.checkout.sessions.update(
        session.id,
        params={
            "line_items": [
                {"price": prices["beans"], "quantity": 1},
                {"id": plan_id},
                {"id": mug_id, "quantity": 3},
            ],
            "expand": ["line_items"],
        },
    )
    new_ids = ids(updated)
    assert new_ids[1:] == [plan_id, mug_id]
    assert new_ids[0] not in (plan_id, mug_id)
    assert [i.quantity for i in updated.line_items.data] == [1, 1, 3]
    assert [i.amount_total for i in updated.line_items.data] == [1200, 1500, 2700]
    assert updated.amount_subtotal == updated.amount_total == 5400
    assert updated.total_details.amount_discount == 0

    # Remove the plan's sibling (mug) and reorder the rest; swap the plan to another monthly price.
    updated = c.v1.checkout.sessions.update(
        session.id,
        params={
            "line_items": [{"id": plan_id, "price": prices["monthly_addon"], "quantity": 2}, {"id": new_ids[0]}],
            "expand": ["line_items"],
        },
    )
    assert ids(updated) == [plan_id, new_ids[0]]
    assert updated.line_items.data[0].amount_subtotal == 1000
    assert updated.amount_total == 1000 + 1200

    # Read back in the GA dialect: same session, new spelling.
    endive = client(emulator, ENDIVE).v1.checkout.sessions.retrieve(session.id)
    assert endive.ui_mode == "elements"
    assert endive.permissions.to_dict() == {"update_shipping_details": "client_only"}
    assert endive.amount_total == 2200

    expired = c.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError) as info:
        c.v1.checkout.sessions.update(session.id, params={"line_items": [{"id": plan_id}]})
    assert info.value.http_status == 400
    assert info.value.param is None
    assert "expired" in info.value.user_message
    with pytest.raises(stripe.InvalidRequestError):
        c.v1.checkout.sessions.expire(session.id)


def test_endive_elements_flow(emulator):
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    session = c.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "ui_mode": "elements",
            "return_url": "https://shop.example/return",
            "line_items": [{"price": prices["yearly"], "quantity": 1}],
            "metadata": {"cart": "c1"},
        }
    )
    assert session.ui_mode == "elements"
    assert session.permissions is None
    assert session.metadata.to_dict() == {"cart": "c1"}
    (item,) = c.v1.checkout.sessions.line_items.list(session.id).data
    updated = c.v1.checkout.sessions.update(
        session.id,
        params={
            "line_items": [
                {"id": item.id, "quantity": 2},
                {
                    "price_data": {"currency": "usd", "unit_amount": 250, "product_data": {"name": "Gift wrap"}},
                    "quantity": 1,
                },
            ],
            "metadata": {"cart": "", "step": "2"},
            "expand": ["line_items.data.price.product"],
        },
    )
    assert updated.amount_total == 30000 + 250
    assert updated.metadata.to_dict() == {"step": "2"}
    wrap = updated.line_items.data[1]
    assert wrap.description == "Gift wrap"
    assert wrap.price.product.name == "Gift wrap"
    assert wrap.price.active is False

    # The preview reader sees the old names.
    preview = client(emulator, PREVIEW).v1.checkout.sessions.retrieve(session.id)
    assert preview.ui_mode == "custom"


def test_line_item_pagination(emulator):
    c = client(emulator, PREVIEW)
    prices = catalog(c)
    session = preview_session(
        c,
        prices,
        line_items=[{"price": prices["monthly"], "quantity": 1}]
        + [{"price": prices["mug"], "quantity": q} for q in range(1, 12)],
    )
    assert len(session.line_items.data) == 10 and session.line_items.has_more is True
    all_ids = [i.id for i in c.v1.checkout.sessions.line_items.list(session.id, params={"limit": 100}).data]
    assert len(all_ids) == 12

    first = c.v1.checkout.sessions.line_items.list(session.id, params={"limit": 5})
    assert [i.id for i in first.data] == all_ids[:5] and first.has_more
    second = c.v1.checkout.sessions.line_items.list(
        session.id, params={"limit": 5, "starting_after": all_ids[4]}
    )
    assert [i.id for i in second.data] == all_ids[5:10] and second.has_more
    last = c.v1.checkout.sessions.line_items.list(session.id, params={"limit": 5, "starting_after": all_ids[9]})
    assert [i.id for i in last.data] == all_ids[10:] and not last.has_more
    before = c.v1.checkout.sessions.line_items.list(session.id, params={"limit": 3, "ending_before": all_ids[5]})
    assert [i.id for i in before.data] == all_ids[2:5] and before.has_more
    paged = [i.id for i in c.v1.checkout.sessions.line_items.list(session.id, params={"limit": 4}).auto_paging_iter()]
    assert paged == all_ids

    with pytest.raises(stripe.InvalidRequestError) as info:
        c.v1.checkout.sessions.line_items.list(session.id, params={"limit": 101})
    assert info.value.param == "limit"
    with pytest.raises(stripe.InvalidRequestError) as info:
        c.v1.checkout.sessions.retrieve("cs_test_missing")
    assert info.value.http_status == 404
    assert info.value.code == "resource_missing"
    assert info.value.param == "id"
    assert info.value.user_message == "No such checkout.session: 'cs_test_missing'"


# ---------------------------------------------------------------- rejected updates


def assert_invalid(call, param, code=None, status=400, message=None) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call()
    err = info.value
    assert err.http_status == status, err.user_message
    assert err.param == param, err.user_message
    if code is not None:
        assert err.code == code, err.user_message
    if message is not None:
        assert message in err.user_message
    assert err.json_body["error"]["type"] == "invalid_request_error"
    return err


def test_bad_updates_are_rejected_and_change_nothing(emulator):
    c = client(emulator, PREVIEW)
    prices = catalog(c)
    session = preview_session(c, prices)
    plan_id, mug_id = ids(session)
    before = c.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]}).to_dict()

    def update(*items: dict):
        return lambda: c.v1.checkout.sessions.update(session.id, params={"line_items": list(items)})

    err = assert_invalid(update({"id": "li_doesnotexist"}), "line_items[0][id]", "resource_missing")
    assert err.user_message == "No such line item: 'li_doesnotexist'"
    assert_invalid(update({"id": plan_id}, {"price": prices["mug"]}), "line_items[1][quantity]", "parameter_missing")
    assert_invalid(update({"id": plan_id}, {"quantity": 1}), "line_items[1][price]", "parameter_missing")
    assert_invalid(
        update(
            {"id": plan_id},
            {
                "price": prices["mug"],
                "price_data": {"currency": "usd", "unit_amount": 1, "product": prices["product"]},
                "quantity": 1,
            },
        ),
        "line_items[1][price]",
        "parameters_exclusive",
    )
    assert_invalid(update({"id": plan_id, "quantity": 0}), "line_items[0][quantity]")
    assert_invalid(update({"id": plan_id, "quantity": 1000000}), "line_items[0][quantity]")
    assert_invalid(update({"id": plan_id}, {"id": plan_id}), "line_items[1][id]")
    mixed = assert_invalid(
        update({"id": plan_id}, {"price": prices["yearly"], "quantity": 1}), "line_items", message="interval"
    )
    assert "interval_count" in mixed.user_message
    assert_invalid(update({"id": plan_id}, {"price": prices["quarterly"], "quantity": 1}), "line_items")
    assert_invalid(update({"id": mug_id}), "line_items", message="recurring")
    assert_invalid(update({"id": plan_id}, {"price": prices["mug_eur"], "quantity": 1}), "line_items[1][price]")
    assert_invalid(update({"id": plan_id}, {"price": "price_nope", "quantity": 1}), "line_items[1][price]", "resource_missing")
    assert_invalid(
        lambda: c.v1.checkout.sessions.update(session.id, params={"line_items": [{"id": plan_id, "bogus": "x"}]}),
        "line_items[0][bogus]",
        "parameter_unknown",
    )
    # stripe-python drops an empty list entirely, so send `line_items=` raw.
    r = raw(emulator, "POST", f"/v1/checkout/sessions/{session.id}", "line_items=", {"Stripe-Version": PREVIEW})
    assert r.status == 400 and r.body["error"]["param"] == "line_items"

    after = c.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]}).to_dict()
    assert after == before


def test_dialect_rules(emulator):
    preview = client(emulator, PREVIEW)
    prices = catalog(preview)
    session = preview_session(preview, prices)
    plan_id = ids(session)[0]

    # Legacy (no beta flag): line_items is not an update parameter.
    legacy = client(emulator, LEGACY)
    err = assert_invalid(
        lambda: legacy.v1.checkout.sessions.update(session.id, params={"line_items": [{"id": plan_id}]}),
        "line_items",
        "parameter_unknown",
    )
    assert err.user_message == "Received unknown parameter: line_items"
    assert err.json_body["error"]["doc_url"] == "https://stripe.com/docs/error-codes/parameter-unknown"
    assert_invalid(
        lambda: legacy.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "ui_mode": "custom",
                "permissions": {"update_line_items": "server_only"},
                "line_items": [{"price": prices["monthly"], "quantity": 1}],
            }
        ),
        "permissions[update_line_items]",
        "parameter_unknown",
    )

    # Preview: a client_only (or hosted) session cannot be updated from the server.
    client_only = preview_session(preview, prices, permissions={"update_line_items": "client_only"})
    assert_invalid(
        lambda: preview.v1.checkout.sessions.update(
            client_only.id, params={"line_items": [{"id": ids(client_only)[0]}]}
        ),
        "line_items",
        message="server_only",
    )
    # ...but GA has no such permission: only ui_mode matters.
    clover = client(emulator, CLOVER)
    clover.v1.checkout.sessions.update(client_only.id, params={"line_items": [{"id": ids(client_only)[0]}]})
    assert_invalid(
        lambda: clover.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "ui_mode": "custom",
                "permissions": {"update_line_items": "server_only"},
                "line_items": [{"price": prices["monthly"], "quantity": 1}],
            }
        ),
        "permissions[update_line_items]",
        "parameter_unknown",
    )

    # Dahlia renamed ui_mode values.
    dahlia = client(emulator, DAHLIA)
    err = assert_invalid(
        lambda: dahlia.v1.checkout.sessions.create(
            params={"mode": "subscription", "ui_mode": "custom", "line_items": [{"price": prices["monthly"], "quantity": 1}]}
        ),
        "ui_mode",
    )
    assert "elements" in err.user_message
    hosted = dahlia.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "ui_mode": "hosted_page",
            "success_url": "https://shop.example/ok",
            "line_items": [{"price": prices["mug"], "quantity": 1}],
            "expand": ["line_items"],
        }
    )
    assert hosted.url == f"https://checkout.stripe.com/c/pay/{hosted.id}"
    assert hosted.client_secret is None
    assert_invalid(
        lambda: dahlia.v1.checkout.sessions.update(hosted.id, params={"line_items": [{"id": ids(hosted)[0]}]}),
        "line_items",
        message="ui_mode=elements",
    )
    assert_invalid(
        lambda: dahlia.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": prices["monthly"], "quantity": 1}]}
        ),
        "line_items[0][price]",
        message="recurring",
    )


# ---------------------------------------------------------------- errors by class


def test_authentication_errors(emulator):
    with pytest.raises(stripe.AuthenticationError) as info:
        client(emulator, ENDIVE, key="sk_live_0123456789abcdefghij").v1.products.create(params={"name": "x"})
    assert info.value.http_status == 401
    assert info.value.user_message.startswith("Invalid API Key provided: sk_live_")
    assert "0123456789" not in info.value.user_message

    r = raw(emulator, "GET", "/v1/products/prod_x", auth=False)
    assert r.status == 401
    assert r.body["error"]["message"].startswith("You did not provide an API key")
    assert r.body["error"]["type"] == "invalid_request_error"
    # HTTP Basic with the key as user name (curl -u sk_test_x:).
    r = raw(emulator, "POST", "/v1/products", "name=Basic", {"Authorization": "Basic c2tfdGVzdF94Og=="}, auth=False)
    assert r.status == 200
    r = raw(emulator, "GET", "/v1/products/x", headers={"Authorization": "Bearer rk_test_restricted"})
    assert r.status == 404


def test_idempotency_through_the_client(emulator):
    c = client(emulator, ENDIVE)
    first = c.v1.products.create(params={"name": "Once"}, options={"idempotency_key": "prod-once"})
    again = c.v1.products.create(params={"name": "Once"}, options={"idempotency_key": "prod-once"})
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError) as info:
        c.v1.products.create(params={"name": "Twice"}, options={"idempotency_key": "prod-once"})
    assert info.value.http_status == 400
    assert "prod-once" in info.value.user_message
    # Same key on another path is also a different request.
    with pytest.raises(stripe.IdempotencyError):
        c.v1.prices.create(
            params={"currency": "usd", "unit_amount": 1, "product": first.id},
            options={"idempotency_key": "prod-once"},
        )
    # 4xx answers are stored and replayed too.
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as info:
            c.v1.prices.create(params={"currency": "usd", "unit_amount": 1, "product": "prod_nope"},
                               options={"idempotency_key": "bad-price"})
    assert info.value.headers["Idempotent-Replayed"] == "true"


def test_injected_faults(emulator):
    c = client(emulator, PREVIEW)
    prices = catalog(c)
    session = preview_session(c, prices)
    plan_id, mug_id = ids(session)
    fault = raw(
        emulator,
        "POST",
        "/_emulator/faults",
        json_body={"method": "POST", "path_prefix": "/v1/checkout/sessions/", "status": 500, "count": 1},
        auth=False,
    )
    assert fault.status == 200 and fault.body["id"].startswith("fault_")
    params = {"line_items": [{"id": plan_id, "quantity": 5}, {"id": mug_id}]}
    with pytest.raises(stripe.APIError) as info:
        c.v1.checkout.sessions.update(session.id, params=params, options={"idempotency_key": "upd-1"})
    assert info.value.http_status == 500
    assert info.value.json_body["error"]["type"] == "api_error"
    unchanged = c.v1.checkout.sessions.retrieve(session.id)
    assert unchanged.amount_total == 1500 + 1800
    # A 500 is saved under its key (the default): the same key replays it, a new key runs.
    with pytest.raises(stripe.APIError) as again:
        c.v1.checkout.sessions.update(session.id, params=params, options={"idempotency_key": "upd-1"})
    assert again.value.headers["Idempotent-Replayed"] == "true"
    done = c.v1.checkout.sessions.update(session.id, params=params, options={"idempotency_key": "upd-2"})
    assert done.amount_total == 5 * 1500 + 1800
    assert "Idempotent-Replayed" not in done.last_response.headers

    # stripe-python's own retry (same key) gets through a single 503 refused before it ran.
    raw(
        emulator,
        "POST",
        "/_emulator/faults",
        json_body={"path_prefix": "/v1/products", "status": 503, "count": 1, "saved": False},
        auth=False,
    )
    retrying = client(emulator, PREVIEW, retries=2)
    assert retrying.v1.products.create(params={"name": "Retried"}).name == "Retried"

    raw(emulator, "POST", "/_emulator/faults", json_body={"status": 429}, auth=False)
    with pytest.raises(stripe.RateLimitError):
        c.v1.products.retrieve("prod_mug")
    assert raw(emulator, "DELETE", "/_emulator/faults", auth=False).status == 200
    assert c.v1.products.retrieve("prod_mug").name == "Mug"

    log = raw(emulator, "GET", "/_emulator/requests", auth=False).body["data"]
    statuses = [(e["method"], e["status"]) for e in log if e["path"] == f"/v1/checkout/sessions/{session.id}"]
    assert ("POST", 500) in statuses and ("POST", 200) in statuses


def fault(url: str, **rule: Any) -> None:
    assert raw(url, "POST", "/_emulator/faults", json_body=rule, auth=False).status == 200


def product_posts(url: str) -> list[dict]:
    log = raw(url, "GET", "/_emulator/requests", auth=False).body["data"]
    return [e for e in log if e["method"] == "POST" and e["path"] == "/v1/products"]


def test_saved_failures_replay_and_say_do_not_retry(emulator):
    """Stripe saves a result under its Idempotency-Key once the endpoint began executing,
    "including 500 errors" (https://docs.stripe.com/api/idempotent_requests), and answers a 500
    with Stripe-Should-Retry: false, which stripe-python's `_should_retry` obeys
    (stripe/_http_client.py: "our idempotency framework would typically replay it anyway")."""
    retrying = client(emulator, ENDIVE, retries=2)
    fault(emulator, path_prefix="/v1/products", method="POST", status=500, count=1)
    with pytest.raises(stripe.APIError) as first:
        retrying.v1.products.create(params={"name": "Saved"}, options={"idempotency_key": "saved-500"})
    assert first.value.http_status == 500
    assert first.value.headers["Stripe-Should-Retry"] == "false"
    assert "Idempotent-Replayed" not in first.value.headers
    assert len(product_posts(emulator)) == 1, "no retry after Should-Retry: false"

    # Every replay (same key, same params) is the very same failure, marked as a replay.
    with pytest.raises(stripe.APIError) as replay:
        retrying.v1.products.create(params={"name": "Saved"}, options={"idempotency_key": "saved-500"})
    assert replay.value.http_status == 500
    assert replay.value.json_body == first.value.json_body
    assert replay.value.headers["Idempotent-Replayed"] == "true"
    assert replay.value.headers["Stripe-Should-Retry"] == "false"
    posts = product_posts(emulator)
    assert [(e["status"], e["idempotent_replayed"]) for e in posts] == [(500, False), (500, True)]
    # The key is spent on the failure: other parameters are refused; a new key runs.
    with pytest.raises(stripe.IdempotencyError):
        retrying.v1.products.create(params={"name": "Other"}, options={"idempotency_key": "saved-500"})
    fresh = retrying.v1.products.create(params={"name": "Saved"}, options={"idempotency_key": "saved-500-b"})
    assert fresh.name == "Saved"


def test_unsaved_failures_are_retried_and_429_is_never_saved(emulator):
    retrying = client(emulator, ENDIVE, retries=2)
    # Refused before the endpoint ran: nothing saved, Should-Retry: true, stripe-python retries
    # with the same (generated) key and succeeds.
    fault(emulator, path_prefix="/v1/products", method="POST", status=500, count=1, saved=False)
    assert retrying.v1.products.create(params={"name": "Early"}).name == "Early"
    posts = product_posts(emulator)
    assert [e["status"] for e in posts] == [500, 200]
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]
    assert posts[1]["idempotent_replayed"] is False

    # A 429 is never saved, whatever `saved` says; it carries no Should-Retry, so stripe-python
    # does not retry it (a 429 is neither 409 nor 5xx), and the same key later runs for real.
    plain = client(emulator, ENDIVE)
    fault(emulator, path_prefix="/v1/products", method="POST", status=429, count=1, saved=True)
    with pytest.raises(stripe.RateLimitError) as limited:
        retrying.v1.products.create(params={"name": "Limited"}, options={"idempotency_key": "rl-1"})
    assert "Stripe-Should-Retry" not in limited.value.headers
    created = plain.v1.products.create(params={"name": "Limited"}, options={"idempotency_key": "rl-1"})
    assert "Idempotent-Replayed" not in created.last_response.headers

    # `should_retry` overrides the header: a saved 500 that says "retry" is replayed to each retry.
    fault(emulator, path_prefix="/v1/products", method="POST", status=500, count=1, should_retry=True)
    with pytest.raises(stripe.APIError) as insisted:
        retrying.v1.products.create(params={"name": "Loop"}, options={"idempotency_key": "loop-1"})
    assert insisted.value.headers["Stripe-Should-Retry"] == "true"
    loop = [e for e in product_posts(emulator) if e["idempotency_key"] == "loop-1"]
    assert [e["idempotent_replayed"] for e in loop] == [False, True, True]

    # A slow fault without status still applies the write, after the latency.
    fault(emulator, path_prefix="/v1/products", method="POST", latency_ms=300, count=1)
    started = time.monotonic()
    assert plain.v1.products.create(params={"name": "Slow"}).name == "Slow"
    assert time.monotonic() - started >= 0.3
    bad = raw(emulator, "POST", "/_emulator/faults", json_body={"latency_ms": 5, "saved": False}, auth=False)
    assert bad.status == 400


def test_completed_sessions(emulator):
    c = client(emulator, PREVIEW)
    prices = catalog(c)
    session = preview_session(c, prices)
    r = raw(emulator, "POST", f"/_emulator/checkout/sessions/{session.id}/complete", auth=False,
            headers={"Stripe-Version": ENDIVE})
    assert r.status == 200
    assert r.body["status"] == "complete" and r.body["payment_status"] == "paid"
    assert r.body["ui_mode"] == "elements"
    assert r.body["subscription"].startswith("sub_")
    with pytest.raises(stripe.InvalidRequestError) as info:
        c.v1.checkout.sessions.update(session.id, params={"metadata": {"a": "b"}})
    assert "completed" in info.value.user_message
    assert raw(emulator, "POST", f"/_emulator/checkout/sessions/{session.id}/complete", auth=False).status == 400
    assert raw(emulator, "POST", "/_emulator/checkout/sessions/cs_test_nope/complete", auth=False).status == 404


# ---------------------------------------------------------------- webhooks and tax rates


class WebhookReceiver:
    """A tiny HTTP server standing in for the product's webhook endpoint."""

    def __init__(self) -> None:
        self.received: "queue.Queue[tuple[str, bytes, str]]" = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                payload = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put((self.path, payload, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe-webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next(self) -> tuple[str, bytes, str]:
        return self.received.get(timeout=10)


def test_webhooks_verify_with_the_official_client(emulator):
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    with WebhookReceiver() as receiver:
        endpoint = raw(emulator, "POST", "/_emulator/webhook_endpoints", json_body={"url": receiver.url}, auth=False)
        assert endpoint.status == 200
        secret = endpoint.body["secret"]
        assert secret.startswith("whsec_")
        session = c.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "ui_mode": "elements",
                "return_url": "https://shop.example/return",
                "line_items": [{"price": prices["mug"], "quantity": 2}],
            }
        )
        assert raw(emulator, "POST", f"/_emulator/checkout/sessions/{session.id}/complete", auth=False).status == 200

        path, payload, signature = receiver.next()
        assert path == "/stripe-webhook"
        # The official verifier accepts the signature; a wrong secret or a changed body does not.
        event = stripe.Webhook.construct_event(payload, signature, secret)
        assert event.type == "checkout.session.completed"
        assert event.id.startswith("evt_")
        assert event.data.object.id == session.id
        assert event.data.object.status == "complete"
        assert event.data.object.ui_mode == "elements"
        assert event.data.object.amount_total == 1800
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload, signature, "whsec_wrong")
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload.replace(b"1800", b"1"), signature, secret)

        # An API-caused event names its request; the API serves the same event.
        second = c.v1.checkout.sessions.create(
            params={"mode": "payment", "line_items": [{"price": prices["mug"], "quantity": 1}]}
        )
        expired = c.v1.checkout.sessions.expire(second.id, options={"idempotency_key": "expire-1"})
        _, payload, signature = receiver.next()
        event = stripe.Webhook.construct_event(payload, signature, secret)
        assert event.type == "checkout.session.expired"
        assert event.request.id == expired.last_response.request_id
        assert event.request.idempotency_key == "expire-1"
        listed = c.v1.events.list(params={"type": "checkout.session.expired"})
        assert [e.id for e in listed.data] == [event.id]
        assert c.v1.events.retrieve(event.id).data.object.status == "expired"


def test_delayed_payment_events_verify_with_the_official_client(emulator):
    """A delayed payment method: completed `unpaid`, then async_payment_succeeded / _failed
    (https://docs.stripe.com/checkout/fulfillment), each a signed webhook stripe-python accepts."""
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    with WebhookReceiver() as receiver:
        secret = raw(emulator, "POST", "/_emulator/webhook_endpoints", json_body={"url": receiver.url}, auth=False).body[
            "secret"
        ]
        outcomes = {}
        for outcome in ("succeeded", "failed"):
            session = c.v1.checkout.sessions.create(
                params={"mode": "payment", "line_items": [{"price": prices["mug"], "quantity": 1}]}
            )
            done = raw(
                emulator,
                "POST",
                f"/_emulator/checkout/sessions/{session.id}/complete",
                auth=False,
                json_body={"payment_status": "unpaid"},
            )
            assert done.status == 200 and done.body["payment_status"] == "unpaid"
            _, payload, signature = receiver.next()
            completed = stripe.Webhook.construct_event(payload, signature, secret)
            assert completed.type == "checkout.session.completed"
            assert completed.data.object.status == "complete"
            assert completed.data.object.payment_status == "unpaid"

            settled = raw(
                emulator,
                "POST",
                f"/_emulator/checkout/sessions/{session.id}/async_payment",
                auth=False,
                json_body={"outcome": outcome},
            )
            assert settled.status == 200
            _, payload, signature = receiver.next()
            event = stripe.Webhook.construct_event(payload, signature, secret)
            assert event.type == f"checkout.session.async_payment_{outcome}"
            assert event.data.object.id == session.id
            outcomes[outcome] = c.v1.checkout.sessions.retrieve(session.id).payment_status
        assert outcomes == {"succeeded": "paid", "failed": "unpaid"}
        listed = c.v1.events.list(params={"type": "checkout.session.async_payment_*"})
        assert sorted(e.type for e in listed.data) == [
            "checkout.session.async_payment_failed",
            "checkout.session.async_payment_succeeded",
        ]


def test_event_list_filters_the_sweeper_relies_on(emulator):
    """List all events (https://docs.stripe.com/api/events/list): `types` (up to 20 exact types),
    `created[gte]`, newest first, `limit` with `starting_after` paging. The release-holds sweeper
    asks exactly this way (shared/runtime/src/stripe/events.rs) to learn failed delayed payments and
    the session of a hold that never recorded one."""
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    made = []
    for n in range(3):
        session = c.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [{"price": prices["mug"], "quantity": 1}],
                "metadata": {"cart_reservation": f"rsv_{n}"},
            }
        )
        if n == 1:
            raw(emulator, "POST", f"/_emulator/checkout/sessions/{session.id}/complete", auth=False, json_body={})
        else:
            c.v1.checkout.sessions.expire(session.id)
        made.append(session.id)
    wanted = ["checkout.session.completed", "checkout.session.expired"]
    listed = c.v1.events.list(params={"types": wanted, "created": {"gte": int(time.time()) - 60}})
    assert [e.data.object.id for e in listed.data] == list(reversed(made)), "newest first"
    assert [e.data.object.metadata["cart_reservation"] for e in listed.data] == ["rsv_2", "rsv_1", "rsv_0"]
    assert c.v1.events.list(params={"types": wanted, "created": {"gte": int(time.time()) + 60}}).data == []
    first = c.v1.events.list(params={"types": wanted, "limit": 2})
    assert first.has_more and len(first.data) == 2
    rest = c.v1.events.list(params={"types": wanted, "limit": 2, "starting_after": first.data[-1].id})
    assert [e.data.object.id for e in rest.data] == [made[0]] and not rest.has_more
    only = c.v1.events.list(params={"types": ["checkout.session.completed"]})
    assert [e.data.object.id for e in only.data] == [made[1]]


def test_expires_at_range(emulator):
    """Create a Checkout Session, `expires_at`: "anywhere from 30 minutes to 24 hours after
    Checkout Session creation" (stripe-python params/checkout/_session_create_params.py)."""
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    base = {"mode": "payment", "line_items": [{"price": prices["mug"], "quantity": 1}]}
    now = int(time.time())
    session = c.v1.checkout.sessions.create(params={**base, "expires_at": now + 3600})
    assert session.expires_at == now + 3600
    for at, says in ((now + 60, "at least 30 minutes"), (now + 25 * 3600, "less than 24 hours")):
        err = assert_invalid(lambda: c.v1.checkout.sessions.create(params={**base, "expires_at": at}), "expires_at")
        assert says in err.user_message


def test_startup_webhook_endpoint_survives_reset(tmp_path):
    with WebhookReceiver() as receiver:
        proc, url = start_emulator(
            tmp_path / "w.log", "--webhook-url", receiver.url, "--webhook-secret", "whsec_startup"
        )
        try:
            endpoints = raw(url, "GET", "/_emulator/webhook_endpoints", auth=False).body["data"]
            assert [(e["url"], e["secret"]) for e in endpoints] == [(receiver.url, "whsec_startup")]
            assert raw(url, "POST", "/_emulator/reset", auth=False).status == 200
            after = raw(url, "GET", "/_emulator/webhook_endpoints", auth=False).body["data"]
            assert [e["id"] for e in after] == [endpoints[0]["id"]]
            c = client(url, ENDIVE)
            session = c.v1.checkout.sessions.create(
                params={"mode": "payment", "line_items": [{"price": catalog(c)["mug"], "quantity": 1}]}
            )
            c.v1.checkout.sessions.expire(session.id)
            _, payload, signature = receiver.next()
            event = stripe.Webhook.construct_event(payload, signature, "whsec_startup")
            assert event.type == "checkout.session.expired" and event.data.object.id == session.id
        finally:
            stop_emulator(proc)


def test_tax_rates_through_the_client(emulator):
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    vat = c.v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": 20, "inclusive": True, "country": "GB", "jurisdiction": "GB"}
    )
    assert vat.id.startswith("txr_") and vat.object == "tax_rate"
    assert vat.percentage == 20 and vat.effective_percentage == 20 and vat.inclusive is True
    assert vat.tax_type is None and vat.livemode is False
    assert c.v1.tax_rates.retrieve(vat.id).display_name == "VAT"
    sales = c.v1.tax_rates.create(params={"display_name": "Sales tax", "percentage": 8.25, "inclusive": False})
    session = c.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "ui_mode": "elements",
            "return_url": "https://shop.example/return",
            "line_items": [{"price": prices["mug"], "quantity": 1, "tax_rates": [vat.id]}],
            "expand": ["line_items.data.taxes"],
        }
    )
    # 900 including 20 %: 150 of it is tax.
    item = session.line_items.data[0]
    assert (item.amount_subtotal, item.amount_tax, item.amount_total) == (900, 150, 900)
    assert item.taxes[0].rate.id == vat.id and item.taxes[0].taxable_amount == 750
    assert session.total_details.amount_tax == 150 and session.amount_total == 900
    updated = c.v1.checkout.sessions.update(
        session.id,
        params={
            "line_items": [{"id": item.id, "tax_rates": [sales.id]}, {"price": prices["beans"], "quantity": 1}],
            "expand": ["line_items.data.taxes"],
        },
    )
    # 900 × 8.25 % = 74.25 → 74 on top; the beans are untaxed.
    assert updated.total_details.amount_tax == 74
    assert updated.amount_total == 900 + 74 + 1200
    assert updated.line_items.data[0].taxes[0].rate.id == sales.id
    with pytest.raises(stripe.InvalidRequestError) as info:
        c.v1.checkout.sessions.update(session.id, params={"line_items": [{"id": item.id, "tax_rates": ["txr_nope"]}]})
    assert info.value.param == "line_items[0][tax_rates][0]"


def test_taxes_and_discounts_are_includable(emulator):
    """`taxes`/`discounts` on an item and `line_items` on a session are absent unless expanded:
    fixtures3.json has none of them, and https://docs.stripe.com/api/checkout/sessions/line_items
    calls `line_items` "an includable property"."""
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    vat = c.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    session = c.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": prices["mug"], "quantity": 1, "tax_rates": [vat.id]}],
        }
    )
    assert "line_items" not in session
    plain = c.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]})
    assert "taxes" not in plain.line_items.data[0] and "discounts" not in plain.line_items.data[0]
    assert plain.line_items.data[0].amount_tax == 180
    # The deeper paths imply `line_items`.
    full = c.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["line_items.data.taxes", "line_items.data.discounts"]}
    )
    item = full.line_items.data[0]
    assert item.taxes[0].amount == 180 and item.taxes[0].rate.id == vat.id
    assert item.discounts == []
    listed = c.v1.checkout.sessions.line_items.list(session.id)
    assert "taxes" not in listed.data[0]
    listed = c.v1.checkout.sessions.line_items.list(session.id, params={"expand": ["data.taxes", "data.discounts"]})
    assert listed.data[0].taxes[0].amount == 180 and listed.data[0].discounts == []
    expired = c.v1.checkout.sessions.expire(session.id, params={"expand": ["line_items.data.taxes"]})
    assert expired.line_items.data[0].taxes[0].taxable_amount == 900


# ---------------------------------------------------------------- raw HTTP details


def test_idempotency_raw_and_request_log(emulator):
    h = {"Idempotency-Key": "raw-key-1", "Stripe-Version": PREVIEW}
    first = raw(emulator, "POST", "/v1/products", "name=Raw&metadata[k]=v", h)
    assert first.status == 200
    assert "idempotent-replayed" not in first.headers
    assert first.headers["request-id"].startswith("req_")
    assert first.headers["stripe-version"] == PREVIEW.strip()
    # Same parameters in another order and bracket spelling still count as the same request.
    second = raw(emulator, "POST", "/v1/products", "metadata%5Bk%5D=v&name=Raw", h)
    assert second.status == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert second.body == first.body
    third = raw(emulator, "POST", "/v1/products", "name=Other", h)
    assert third.status == 400 and third.body["error"]["type"] == "idempotency_error"
    assert third.body["error"]["message"] == (
        "Keys for idempotent requests can only be used with the same parameters they were first used with. "
        "Try using a key other than 'raw-key-1' if you meant to execute a different request."
    )
    # GET ignores keys.
    got = raw(emulator, "GET", f"/v1/products/{first.body['id']}", headers=h)
    assert got.status == 200 and "idempotent-replayed" not in got.headers

    log = raw(emulator, "GET", "/_emulator/requests", auth=False).body["data"]
    assert [e["path"] for e in log] == ["/v1/products"] * 3 + [f"/v1/products/{first.body['id']}"]
    assert [e["status"] for e in log] == [200, 200, 400, 200]
    assert [e["idempotent_replayed"] for e in log] == [False, True, False, False]
    assert log[0]["body"] == "name=Raw&metadata[k]=v"
    assert log[1]["body"] == "metadata%5Bk%5D=v&name=Raw"
    assert log[0]["idempotency_key"] == "raw-key-1"
    assert log[0]["stripe_version"] == PREVIEW
    assert log[0]["method"] == "POST" and log[3]["method"] == "GET"
    assert raw(emulator, "DELETE", "/_emulator/requests", auth=False).status == 200
    assert raw(emulator, "GET", "/_emulator/requests", auth=False).body["data"] == []


def test_idempotency_key_in_use_while_first_runs(emulator):
    raw(
        emulator,
        "POST",
        "/_emulator/faults",
        json_body={"method": "POST", "path_prefix": "/v1/products", "latency_ms": 1500, "count": 1},
        auth=False,
    )
    h = {"Idempotency-Key": "slow-key"}
    results: dict[str, Raw] = {}
    slow = threading.Thread(target=lambda: results.setdefault("slow", raw(emulator, "POST", "/v1/products", "name=Slow", h)))
    slow.start()
    time.sleep(0.4)
    started = time.monotonic()
    busy = raw(emulator, "POST", "/v1/products", "name=Slow", h)
    # The latency sleep holds no lock: other requests are answered at once.
    other = raw(emulator, "GET", "/v1/products/prod_nope")
    assert time.monotonic() - started < 1.0
    assert other.status == 404
    slow.join(timeout=10)
    assert busy.status == 409
    assert busy.body["error"]["code"] == "idempotency_key_in_use"
    assert results["slow"].status == 200
    replay = raw(emulator, "POST", "/v1/products", "name=Slow", h)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.body["id"] == results["slow"].body["id"]


def test_expand_spellings_and_errors(emulator):
    c = client(emulator, PREVIEW)
    prices = catalog(c)
    session = preview_session(c, prices)
    path = f"/v1/checkout/sessions/{session.id}"
    for query in ("expand[]=line_items", "expand[0]=line_items", "expand%5B0%5D=line_items", "expand%5B%5D=line_items"):
        r = raw(emulator, "GET", f"{path}?{query}")
        assert r.status == 200, query
        assert [i["id"] for i in r.body["line_items"]["data"]] == ids(session), query
    assert "line_items" not in raw(emulator, "GET", path).body
    # On POST the expand is in the body, with any spelling.
    for body in ("metadata[a]=1&expand[]=line_items", "metadata%5Ba%5D=1&expand%5B0%5D=line_items"):
        r = raw(emulator, "POST", path, body, {"Stripe-Version": PREVIEW})
        assert r.status == 200 and r.body["line_items"]["object"] == "list", body
        assert r.body["metadata"] == {"a": "1"}
    # Percent-encoded brackets in an update.
    plan_id = ids(session)[0]
    body = f"line_items%5B0%5D%5Bid%5D={plan_id}&line_items%5B0%5D%5Bquantity%5D=4&expand%5B%5D=line_items"
    r = raw(emulator, "POST", path, body, {"Stripe-Version": PREVIEW})
    assert r.status == 200
    assert [(i["id"], i["quantity"]) for i in r.body["line_items"]["data"]] == [(plan_id, 4)]
    # Unknown parameters and routes.
    r = raw(emulator, "GET", f"{path}?bogus=1")
    assert r.status == 400 and r.body["error"]["code"] == "parameter_unknown" and r.body["error"]["param"] == "bogus"
    r = raw(emulator, "POST", "/v1/widgets", "a=1")
    assert r.status == 404
    assert r.body["error"]["message"].startswith("Unrecognized request URL (POST: /v1/widgets)")
    r = raw(emulator, "GET", f"{path}?expand[]=nonsense")
    assert r.status == 400


def test_shipping_options_and_collected_information(emulator):
    c = client(emulator, ENDIVE)
    prices = catalog(c)
    session = c.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "ui_mode": "elements",
            "return_url": "https://shop.example/return",
            "permissions": {"update_shipping_details": "server_only"},
            "shipping_address_collection": {"allowed_countries": ["US", "CA"]},
            "line_items": [{"price": prices["mug"], "quantity": 2}],
        }
    )
    assert session.permissions.update_shipping_details == "server_only"
    updated = c.v1.checkout.sessions.update(
        session.id,
        params={
            "collected_information": {
                "shipping_details": {"name": "Ada", "address": {"line1": "1 Main St", "country": "US", "postal_code": "94107"}}
            },
            "shipping_options": [
                {
                    "shipping_rate_data": {
                        "display_name": "Standard",
                        "type": "fixed_amount",
                        "fixed_amount": {"amount": 500, "currency": "usd"},
                    }
                },
                {
                    "shipping_rate_data": {
                        "display_name": "Express",
                        "type": "fixed_amount",
                        "fixed_amount": {"amount": 1500, "currency": "usd"},
                        "delivery_estimate": {"minimum": {"unit": "business_day", "value": 1}},
                    }
                },
            ],
        },
    )
    assert [o.shipping_amount for o in updated.shipping_options] == [500, 1500]
    assert updated.shipping_options[0].shipping_rate.startswith("shr_")
    assert updated.shipping_cost.amount_total == 500
    assert updated.total_details.amount_shipping == 500
    assert updated.amount_subtotal == 1800 and updated.amount_total == 2300
    assert updated.collected_information.shipping_details.address.country == "US"
    with pytest.raises(stripe.InvalidRequestError):
        c.v1.checkout.sessions.update(
            session.id,
            params={"shipping_options": [{"shipping_rate_data": {"display_name": "X", "type": "fixed_amount",
                                                                "fixed_amount": {"amount": 1, "currency": "eur"}}}]},
        )
