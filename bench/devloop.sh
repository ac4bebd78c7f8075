#!/usr/bin/env bash
# The developer loop, timed: an incremental rebuild of one function after a one-line change in
# the domain crate (debug), and with --clean a clean debug build of every binary in a
# throw-away target directory (the dependencies included; needs the crates already fetched).
#
#   bench/devloop.sh [--clean]
set -euo pipefail
cd "$(dirname "$0")/.."

timed() { # prints wall seconds with millisecond precision
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$end"
}

file=shared/domain/src/lib.rs
cargo build -q --locked -p change-interval
cp "$file" "$file.devloop"
trap 'mv "$file.devloop" "$file"' EXIT
printf '\n// devloop %s\n' "$(date +%s%N)" >> "$file"
echo "| step | seconds |"
echo "|---|---|"
echo "| rebuild change-interval after a one-line change in cart-domain (debug) | $(timed cargo build -q --locked -p change-interval) |"
printf '\n// devloop %s\n' "$(date +%s%N)" >> "$file"
echo "| rebuild every binary after that change (debug) | $(timed cargo build -q --locked --workspace --bins) |"
mv "$file.devloop" "$file"
trap - EXIT
cargo build -q --locked --workspace --bins

if [[ "${1:-}" == "--clean" ]]; then
    target=$(mktemp -d)
    trap 'rm -rf "$target"' EXIT
    echo "| clean debug build of every binary, dependencies included | $(CARGO_TARGET_DIR=$target timed cargo build -q --locked --workspace --bins) |"
fi
