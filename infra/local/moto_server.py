#!/usr/bin/env python3
"""Local DynamoDB: moto's server, answering ONE request at a time.

moto's own server runs requests on parallel threads without a lock, and a cancelled
TransactWriteItems restores a copy of the whole table, wiping writes that landed meanwhile. A
product that never oversells would then fail its own concurrency tests (or a broken one pass), so
every request here runs under one lock.

Prints `moto listening on http://127.0.0.1:PORT` once ready.
    python3 infra/local/moto_server.py [--host 127.0.0.1] [--port 0] [--exit-on-stdin-eof]
                                       [--latency-ms MS]

`--latency-ms` adds a network-like wait to every request (outside the lock, so concurrent
requests wait together), for benchmarks that model DynamoDB's round trip.

`GET /_local/requests` lists the latest requests (`{"data": [{received_at_us, elapsed_us,
target}]}`, oldest first), where benchmarks count round trips; `DELETE` clears the list.
"""

import argparse
import collections
import copy
import http.server
import io
import json
import os
import sys
import threading
import time
import urllib.parse

import moto.dynamodb.models as dynamodb_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's transact_write_items (see below)."""

    @staticmethod
    def deepcopy(table):
        return table


def cheap_transaction_rollback():
    """moto deep-copies every table a TransactWriteItems touches, to roll back on failure: a cost
    that grows with the table (~25 us per item here: 100 ms per transaction at 4,000 items), which
    no real DynamoDB has and which would make every transactional writer look slow in benchmarks
    and long tests. Instead, copy just the items the transaction names and put them back if it
    fails. Safe because requests here run one at a time."""
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        try:
            snapshot = []
            for entry in transact_items:
                _, op = next(iter(entry.items()))
                name = op["TableName"]
                table = self.get_table(name)
                if "Key" in op:
                    key = op["Key"]
                else:
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                current = self.get_item(name, key)
                snapshot.append((name, key, current.to_json()["Attributes"] if current else None))
        except Exception:  # noqa: BLE001 - let moto itself report what is wrong with the request
            return original(self, transact_items)
        dynamodb_models.copy = _TablesNotCopied
        try:
            return original(self, transact_items)
        except Exception:
            for name, key, attributes in reversed(snapshot):
                if attributes is None:
                    self.delete_item(name, key)
                else:
                    self.put_item(name, attributes)
            raise
        finally:
            dynamodb_models.copy = copy

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


class KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """A WSGI server's request handler that keeps connections open, as DynamoDB does.

    werkzeug's development server closes every connection after one answer, so each SDK call
    here would pay a TCP connect that no client pays against AWS (measurably, in the function's
    CPU time). Requests must carry a Content-Length (the AWS SDKs always send one); the body is
    read whole before the application runs, so the next request on the connection starts clean.
    """

    protocol_version = "HTTP/1.1"
    # Answers leave at once: without TCP_NODELAY a keep-alive client waits out a delayed ACK
    # (~40 ms) whenever an answer is written in more than one piece.
    disable_nagle_algorithm = True

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except ConnectionError:
            self.close_connection = True

    def __getattr__(self, name):
        # do_GET, do_POST, ...: every method goes to the application.
        if name.startswith("do_"):
            return self.run_wsgi
        raise AttributeError(name)

    def run_wsgi(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.send_error(411, "Content-Length required")
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "bad Content-Length")
            self.close_connection = True
            return
        body = self.rfile.read(length)
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key, value in self.headers.items():
            key = key.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = f"HTTP_{key}"
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return lambda _data: None

        result = self.server.app(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        code, _, reason = answer["status"].partition(" ")
        self.send_response(int(code), reason)
        for key, value in answer["headers"]:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


class KeepAliveServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app):
        self.app = app
        super().__init__(address, KeepAliveHandler)


class Serialized:
    """WSGI middleware: one request in the backend at a time, body included."""

    def __init__(self, app, latency_s=0.0):
        self.app = app
        self.lock = threading.Lock()
        self.latency_s = latency_s
        self.log = collections.deque(maxlen=100_000)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_local/requests":
            return self.requests(environ, start_response)
        received = time.time()
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            return self.serialized(environ, start_response)
        finally:
            self.log.append({
                "received_at_us": int(received * 1e6),
                "elapsed_us": int((time.time() - received) * 1e6),
                "target": environ.get("HTTP_X_AMZ_TARGET", ""),
            })

    def requests(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "DELETE":
            self.log.clear()
        body = json.dumps({"data": list(self.log)}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    def serialized(self, environ, start_response):
        with self.lock:
            # Materialise the body inside the lock: the backend may produce it lazily.
            return [b"".join(self.app(environ, start_response))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOTO_PORT", "0")))
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="exit when stdin closes, so a crashed parent never leaks this process")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="wait this long before answering each request (benchmarks)")
    args = parser.parse_args()

    cheap_transaction_rollback()
    app = Serialized(DomainDispatcherApplication(create_backend_app), args.latency_ms / 1000)
    server = KeepAliveServer((args.host, args.port), app)
    print(f"moto listening on http://{args.host}:{server.server_port}", flush=True)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            sys.stdin.read()
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
