#!/usr/bin/env bash
# The bench command: builds the release binaries, installs the Node.js peer's packages, then runs
# every benchmark and prints its table (nothing asserts; numbers go in README.md by hand).
#
#   bench/run.sh [--requests N] [--stripe-ms MS] [--dynamo-ms MS] [--no-peer]
#
# The options go to `bench actions`. Takes ~10 min from a warm target/ (release build ~7 min cold).
set -euo pipefail
source "$(dirname "$0")/../infra/lib.sh"
cd "$ROOT"

ensure_tools
command -v node >/dev/null || die "node (>= 20) is required for the peer; or pass --no-peer"
log "release build of every binary (functions, emulator, bench)"
cargo build --release --workspace --bins --locked
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
cargo bench --locked -q -p cart-validation --bench planner

log "hot SKU: model of one stock item under load, and sharded (docs/hot-sku.md)"
python3 bench/hot-sku/simulate.py
