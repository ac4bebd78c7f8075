#!/usr/bin/env bash
# The bench command: builds the release binaries, installs the Node.js peer's packages, then runs
# every benchmark and prints its table (nothing asserts; numbers go in README.md by hand).
#
#   bench/run.sh [--requests N] [--stripe-ms MS] [--dynamo-ms MS] [--no-peer]
#
# The options go to `bench actions`. Takes ~10 min from a warm target/ (release builds ~7 min
# and the arm64 Lambda build ~9 min cold).
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/../infra/lib.sh"
cd "$ROOT"

ensure_tools
command -v node >/dev/null || die "node (>= 20) is required for the peer; or pass --no-peer"
log "release build of every binary (functions, emulator, bench)"
cargo build --release --workspace --bins --locked
# The arm64 Lambda build of all seven functions for bench/sizes.sh (the test command builds one,
# through sam build).
if rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    log "arm64 release build of every function (cargo lambda build --release --arm64; ~9 min cold)"
    functions=()
    for crate in functions/*/; do functions+=(-p "$(basename "$crate")"); done
    cargo lambda build --release --arm64 --locked "${functions[@]}"
else
    printf 'warning: rustup cannot install the aarch64-unknown-linux-gnu target; arm64 sizes skipped\n' >&2
fi
if [[ " $* " != *" --no-peer "* ]]; then
    log "peer packages (bench/peer-node)"
    (cd bench/peer-node && npm ci --no-audit --no-fund --loglevel=error)
fi

log "actions: round trips, latency, CPU, memory, throughput; Rust beside the Node.js peer"
cargo run --release --locked -q -p e2e-tests --bin bench -- actions "$@"

log "cold start under cargo-lambda's runtime"
cargo run --release --locked -q -p e2e-tests --bin bench -- cold-start

log "binary sizes"
bench/sizes.sh

log "planner and request parsing (divan)"
cargo bench --locked -q -p cart-domain --bench planner

log "one request's logs and metrics: the former fmt JSON subscriber beside cart_runtime::telemetry (divan)"
cargo bench --locked -q -p cart-runtime --bench telemetry

log "hot SKU: model of one stock item under load, and sharded (docs/hot-sku.md)"
python3 bench/hot-sku/simulate.py
