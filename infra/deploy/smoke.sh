#!/usr/bin/env bash
# Smoke test of a deployed stack: a few requests per route whose answers must match openapi.yaml
# (400 for bad JSON, 404 for an unknown cs_test_ session, API Gateway's 404 for GET).
# Usage: infra/deploy/smoke.sh https://<api-id>.execute-api.<region>.amazonaws.com
#        (the stack output ApiBaseUrl). Without a URL it skips and exits 0.
# Runs with .venv's Python (PyYAML, jsonschema), which it creates when missing.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/lib.sh
source "$HERE/../lib.sh"

url="${1:-}"
if [[ -z "$url" ]]; then
    echo "smoke test skipped: no API URL given (usage: $0 <ApiBaseUrl>)"
    exit 0
fi
if [[ "$url" != https://* && "$url" != http://* ]]; then
    echo "error: '$url' is not an http(s) URL" >&2
    exit 2
fi
ensure_python_requirements
exec python3 "$HERE/smoke.py" "$url"
