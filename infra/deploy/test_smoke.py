"""smoke.sh: skips without a URL, passes against an API that answers as openapi.yaml says, and fails
against one that does not. The "API" is a stub on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import checks
import smoke

SMOKE = Path(__file__).with_name("smoke.sh")
ROUTES = {c["route"] for c in checks.load_crates() if c["route"]}
OPENAPI = checks.load_openapi()
SIGNED = {route for route in ROUTES if smoke.requires_signature(OPENAPI["paths"][route]["post"])}


def good(method: str, path: str, body: bytes) -> tuple[int, Any]:
    if method != "POST" or path not in ROUTES:
        return 404, {"message": "Not Found"}
    if path in SIGNED:
        return 400, {"type": "error", "code": "invalid_signature", "message": "The signature could not be verified."}
    try:
        request = json.loads(body)
    except ValueError:
        return 400, {"type": "error", "code": "invalid_json", "message": "The request body must be a JSON object."}
    if "items" in request:
        return 422, {"type": "error", "code": "offer_not_available", "message": "That option is not available."}
    return 404, {"type": "error", "code": "session_not_found", "message": "This checkout session does not exist."}


def leaks_detail(method: str, path: str, body: bytes) -> tuple[int, Any]:
    status, answer = good(method, path, body)
    if status == 400:
        answer["detail"] = "expected value at line 1 column 2"  # a field the spec does not allow
    return status, answer


def wrong_status(method: str, path: str, body: bytes) -> tuple[int, Any]:
    status, answer = good(method, path, body)
    return (500 if status == 404 and "code" in answer else status), answer


@pytest.fixture
def api() -> Iterator[Callable[[Callable[[str, str, bytes], tuple[int, Any]]], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[str, str, bytes], tuple[int, Any]]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def handle_any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                status, body = answer(self.command, self.path, self.rfile.read(length))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = handle_any

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SMOKE), *args], capture_output=True, text=True, timeout=120, check=False)


def test_without_a_url_it_says_it_skipped_and_succeeds():
    result = run()
    assert result.returncode == 0
    assert "skipped" in result.stdout


def test_an_api_that_answers_as_specified_passes(api):
    result = run(api(good) + "/")
    assert result.returncode == 0, result.stdout + result.stderr
    # Two checks for a signed route (nothing gets past its signature), three for the others.
    assert result.stdout.count("ok  ") == 3 * len(ROUTES) - len(SIGNED), result.stdout


@pytest.mark.parametrize("answer", [leaks_detail, wrong_status], ids=["extra field", "wrong status"])
def test_an_api_that_strays_from_the_spec_fails(api, answer):
    result = run(api(answer))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout


def test_a_url_that_is_not_http_is_refused():
    assert run("execute-api.example").returncode == 2
