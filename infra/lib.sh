# Shared by infra/dev.sh and infra/test.sh: source it, don't run it.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the exact pins of a requirements file unless they are all there already.
ensure_python_requirements() {
    local file=$1
    if ! python3 - "$file" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        assert version(name.split("[")[0]) == want, name
PY
    then
        log "installing Python tools from ${file#"$ROOT"/}"
        python3 -m pip install --quiet --disable-pip-version-check -r "$file" \
            || die "pip install -r $file failed; see the output above"
    fi
    # pip's script directory may not be on PATH (e.g. --user installs).
    PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
    export PATH
}

# Installs what a fresh machine lacks: the Python tools (cargo-lambda, stripe-python, moto, pytest).
ensure_tools() {
    command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
    command -v python3 >/dev/null || die "python3 with pip is required"
    ensure_python_requirements "$ROOT/infra/requirements.txt"
    command -v cargo-lambda >/dev/null || die "cargo-lambda was installed but is not on PATH"
}

# cargo-deny, built from crates.io (no prebuilt binary is reachable here): ~3.5 min once.
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
    if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $CARGO_DENY_VERSION"; then
        log "installing cargo-deny $CARGO_DENY_VERSION from crates.io"
        cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION"
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
