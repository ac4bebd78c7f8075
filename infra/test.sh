#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit + property + in-process handler tests,
# end-to-end tests (each starts its own Stripe emulator, moto and cargo-lambda runtime on free
# ports and stops them), the deployment checks (SAM, cfn-lint, OpenAPI) and the stripe-python
# fidelity suite of the emulator.
# Installs missing tools first. Usage: infra/test.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$SECONDS

ensure_tools
ensure_browser

log "cargo fmt --check"
cargo fmt --all --check

ensure_cargo_deny
log "dependency policy: cargo deny check licenses bans sources (deny.toml)"
cargo deny check --hide-inclusion-graph licenses bans sources

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "building the functions and the Stripe emulator"
cargo build --workspace --bins --locked

log "Rust tests (unit, property, handler, end-to-end)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

log "deployment: sam validate --lint, cfn-lint, template/OpenAPI/least-privilege checks"
infra/deploy/check.sh

log "Stripe emulator fidelity, driven by the official stripe-python client"
STRIPE_EMULATOR_BIN="$ROOT/target/debug/stripe-emulator" \
    python3 -m pytest -q -p no:cacheprovider infra/stripe-emulator/fidelity

log "release build for Lambda (arm64, as sam build does it)"
if rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    packages=()
    for crate in functions/*/; do packages+=(-p "$(basename "$crate")"); done
    cargo lambda build --release --arm64 --locked "${packages[@]}"
    for bootstrap in target/lambda/*/bootstrap; do
        printf '%-28s %8d bytes\n' "$(basename "$(dirname "$bootstrap")")" "$(stat -c %s "$bootstrap")"
    done
else
    # Needs the network once (static.rust-lang.org); the README's Deploy section says what to do.
    printf 'warning: rustup cannot install the aarch64-unknown-linux-gnu target here; arm64 build skipped\n' >&2
fi

log "all checks passed in $((SECONDS - started))s"
