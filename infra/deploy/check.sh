#!/usr/bin/env bash
# Static checks of the deployment, offline and without AWS credentials:
# `sam validate --lint`, `cfn-lint template.yaml`, then the pytest suite of infra/deploy
# (template <-> functions/* crates <-> openapi.yaml, least privilege, no secrets, smoke script).
# Installs the pinned tools (infra/deploy/requirements.txt) into .venv/ first when something is
# missing, never into the user's Python. Usage: infra/deploy/check.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/lib.sh
source "$HERE/../lib.sh"

# Exact pins: a different cfn-lint or SAM version can pass or fail the same template differently.
ensure_python_requirements
[[ $(command -v sam) == "$VENV/bin/sam" ]] || die "sam is not .venv's ($(command -v sam || echo missing))"
[[ $(command -v cfn-lint) == "$VENV/bin/cfn-lint" ]] \
    || die "cfn-lint is not .venv's ($(command -v cfn-lint || echo missing))"

# SAM wants a region even to validate; nothing is sent to it.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export SAM_CLI_TELEMETRY=0

cd "$ROOT"
log "sam validate --lint"
sam validate --lint --template-file template.yaml </dev/null
log "cfn-lint template.yaml"
cfn-lint template.yaml
log "pytest infra/deploy"
python3 -m pytest -q -c "$HERE/pytest.ini" --rootdir "$HERE" "$HERE"
