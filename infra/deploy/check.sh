#!/usr/bin/env bash
# Static checks of the deployment, offline and without AWS credentials:
# `sam validate --lint`, `cfn-lint template.yaml`, then the pytest suite of infra/deploy
# (template <-> functions/* crates <-> openapi.yaml, least privilege, no secrets, smoke script).
# Installs infra/deploy/requirements.txt first when something is missing. Usage: infra/deploy/check.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../lib.sh"

command -v python3 >/dev/null || die "python3 with pip is required"
# Exact pins: a different cfn-lint or SAM version can pass or fail the same template differently.
ensure_python_requirements "$HERE/requirements.txt"
command -v sam >/dev/null || die "sam was installed but is not on PATH"
command -v cfn-lint >/dev/null || die "cfn-lint was installed but is not on PATH"

# SAM wants a region even to validate; nothing is sent to it.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export SAM_CLI_TELEMETRY=0

cd "$ROOT"
log "sam validate --lint"
sam validate --lint --template-file template.yaml
log "cfn-lint template.yaml"
cfn-lint template.yaml
log "pytest infra/deploy"
python3 -m pytest -q -c "$HERE/pytest.ini" --rootdir "$HERE" "$HERE"
