#!/usr/bin/env bash
# Runs every check and test: formatting, dependency policy, lints, unit + property + in-process
# handler tests, end-to-end tests (each starts its own Stripe emulator, moto and cargo-lambda
# runtime on free ports and stops them), the example page in headless Chromium, the deployment
# checks (SAM, cfn-lint, OpenAPI), the stripe-python fidelity suite of the emulator, and
# `sam build` of one function: the arm64 release build the deployment ships, through the
# template's rust-cargolambda build method (bench/run.sh and your own `sam build` build the
# other six, which differ only in their main.rs).
# Installs missing tools first, the Python ones into .venv/. Usage: infra/test.sh
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$SECONDS
# Each step line says how far in the run is: where a first run spends its time.
step() { log "[$((SECONDS - started))s] $*"; }

SAM_FUNCTION=ChangeIntervalFunction
SAM_LOG=target/sam-build.log
sam_pid=

stop_sam_build() {
    if [[ -n $sam_pid ]]; then
        kill -- "-$sam_pid" 2>/dev/null || kill "$sam_pid" 2>/dev/null || true
        sam_pid=
    fi
}
trap stop_sam_build EXIT

# The arm64 fat-LTO release build takes ~10 min of CPU. It runs beside the other steps at idle
# priority (SCHED_IDLE where chrt exists, else nice 19): it gets only the CPU they leave, which
# the end-to-end tests leave a lot of while they wait on sockets, and it hardly slows them.
start_sam_build() {
    local idle=(nice -n 19)
    if command -v chrt >/dev/null && chrt --idle 0 true 2>/dev/null; then
        idle=(chrt --idle 0 nice -n 19)
    fi
    mkdir -p target
    # setsid: one process group to stop, cargo and rustc included (macOS has none: the pid only).
    command -v setsid >/dev/null && idle=(setsid "${idle[@]}")
    # Its own build dir: .aws-sam/ stays what your last full `sam build` made for `sam deploy`.
    # No prompt can wait: stdin is closed and telemetry is off.
    SAM_CLI_TELEMETRY=0 "${idle[@]}" sam build "$SAM_FUNCTION" \
        --build-dir target/sam-build --template-file template.yaml \
        </dev/null >"$SAM_LOG" 2>&1 &
    sam_pid=$!
}

# Waits for it, saying every 30 s how far it got (SAM shows cargo's output only on failure).
finish_sam_build() {
    local status=0 built pid
    # Nothing of ours competes now: back to a normal share of the CPU, so other work on the
    # machine cannot starve it (where permitted: lowering niceness needs root or CAP_SYS_NICE).
    for pid in $(pgrep -s "$sam_pid" 2>/dev/null); do
        chrt --other -p 0 "$pid" >/dev/null 2>&1 || true
        renice -n 0 -p "$pid" >/dev/null 2>&1 || true
    done
    while kill -0 "$sam_pid" 2>/dev/null; do
        built=$(find target/aarch64-unknown-linux-gnu/release/deps -name '*.rlib' 2>/dev/null | wc -l)
        log "[$((SECONDS - started))s] sam build: still compiling ($built arm64 crates built so far; the function's own fat-LTO link comes last and is the longest)"
        for _ in {1..30}; do
            kill -0 "$sam_pid" 2>/dev/null || break
            sleep 1
        done
    done
    wait "$sam_pid" || status=$?
    sam_pid=
    if ((status != 0)); then
        tail -n 60 "$SAM_LOG" >&2
        die "sam build $SAM_FUNCTION failed (exit $status); its whole output: $SAM_LOG"
    fi
    local bootstrap=target/sam-build/$SAM_FUNCTION/bootstrap
    [[ -x $bootstrap ]] || die "sam build made no $bootstrap (see $SAM_LOG)"
    # ELF e_machine (offset 18, little-endian) 0xb7 = AArch64.
    [[ $(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' \n') == b700 ]] \
        || die "$bootstrap is not an arm64 executable"
    printf 'sam build %s: %s, %d bytes (log: %s)\n' "$SAM_FUNCTION" "$bootstrap" \
        "$(wc -c <"$bootstrap" | tr -d ' ')" "$SAM_LOG"
}

step "tools: .venv (Python tools), cargo-deny, Chromium and playwright-core"
ensure_tools
ensure_cargo_deny
ensure_browser

sam_build=yes
if ! rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    # Needs the network once (static.rust-lang.org); the README's Deploy section says what to do.
    printf 'warning: rustup cannot install the aarch64-unknown-linux-gnu target here; sam build skipped\n' >&2
    sam_build=no
fi
if [[ $sam_build == yes ]]; then
    step "sam build $SAM_FUNCTION started in the background at idle priority (log: $SAM_LOG)"
    start_sam_build
fi

step "cargo fmt --check"
cargo fmt --all --check

step "dependency policy: cargo deny check licenses bans sources (deny.toml)"
cargo deny check --hide-inclusion-graph licenses bans sources

step "cargo clippy --all-targets -- -D warnings (first run: ~3 min on 2 cores)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building the functions and the Stripe emulator (first run: ~2.5 min)"
cargo build --workspace --bins --locked

step "Rust tests: unit, property, handler, end-to-end, browser (~2.5 min; first run builds them)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

step "deployment: sam validate --lint, cfn-lint, template/OpenAPI/least-privilege checks"
infra/deploy/check.sh

step "Stripe emulator fidelity, driven by the official stripe-python client"
STRIPE_EMULATOR_BIN="$ROOT/target/debug/stripe-emulator" \
    python3 -m pytest -q -p no:cacheprovider infra/stripe-emulator/fidelity

if [[ $sam_build == yes ]]; then
    step "sam build $SAM_FUNCTION: arm64 release build through SAM (first run: minutes more here)"
    finish_sam_build
fi

log "all checks passed in $((SECONDS - started))s"
