#!/usr/bin/env bash
# Release binary sizes per function, raw and compressed as Lambda receives them (deflate, like
# the deployment zip): target/release (this machine's architecture) and, when `cargo lambda build
# --release --arm64` has run (bench/run.sh does it), target/lambda/*/bootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

row() { # name file build
    python3 - "$@" <<'PY'
import os, sys, zlib
name, path, build = sys.argv[1:]
raw = os.path.getsize(path)
zipped = len(zlib.compress(open(path, "rb").read(), 9))
print(f"| {name} | {build} | {raw / 2**20:.2f} MB | {zipped / 2**20:.2f} MB |")
PY
}

echo "| function | build | raw | deflated (zip) |"
echo "|---|---|---|---|"
for crate in functions/*/; do
    name=$(basename "$crate")
    [[ -f target/release/$name ]] && row "$name" "target/release/$name" "$(uname -m)"
    [[ -f target/lambda/$name/bootstrap ]] && row "$name" "target/lambda/$name/bootstrap" "aarch64 (cargo lambda)"
done
exit 0
