#!/usr/bin/env python3
"""Local DynamoDB: moto's server, answering ONE request at a time.

moto's own server runs requests on parallel threads without a lock, and a cancelled
TransactWriteItems restores a copy of the whole table, wiping writes that landed meanwhile. A
product that never oversells would then fail its own concurrency tests (or a broken one pass), so
every request here runs under one lock.

Prints `moto listening on http://127.0.0.1:PORT` once ready.
    python3 infra/local/moto_server.py [--host 127.0.0.1] [--port 0] [--exit-on-stdin-eof]
"""

import argparse
import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class Serialized:
    """WSGI middleware: one request in the backend at a time, body included."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Materialise the body inside the lock: the backend may produce it lazily.
            return [b"".join(self.app(environ, start_response))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOTO_PORT", "0")))
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="exit when stdin closes, so a crashed parent never leaks this process")
    args = parser.parse_args()

    app = Serialized(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True)
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
