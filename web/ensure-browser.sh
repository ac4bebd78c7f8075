#!/usr/bin/env bash
# Installs what the browser test (test/browser.mjs, tests/tests/browser.rs) needs and a fresh
# machine lacks, and says nothing when everything is there:
# - Debian's Chromium at /usr/bin/chromium: Playwright's own browser download cannot work here
#   (no network but the package registries), so the test drives the distribution's build;
# - web/node_modules from package-lock.json (`npm ci`), when missing or older than the lock file.
# Usage: bash web/ensure-browser.sh   (as root on CI, for apt-get)
set -euo pipefail
WEB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHROMIUM=/usr/bin/chromium
say() { printf 'ensure-browser: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Runs a command with its output in a log, shown only when it fails.
quietly() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

if [[ ! -x $CHROMIUM ]]; then
    if [[ $(id -u) != 0 ]]; then
        die "$CHROMIUM is missing; as root run: apt-get update && apt-get install -y chromium"
    fi
    command -v apt-get >/dev/null || die "$CHROMIUM is missing and there is no apt-get to install it"
    say "installing Debian's chromium (once per machine, a minute or two)"
    export DEBIAN_FRONTEND=noninteractive
    # Waits for another apt run instead of failing on its lock.
    quietly apt-get -o DPkg::Lock::Timeout=300 update \
        || die "apt-get update failed (output above)"
    quietly apt-get -o DPkg::Lock::Timeout=300 install -y chromium \
        || die "apt-get install -y chromium failed (output above)"
    [[ -x $CHROMIUM ]] || die "the chromium package did not install $CHROMIUM"
fi

command -v node >/dev/null && command -v npm >/dev/null \
    || die "node and npm are required (Node.js >= 20: playwright-core needs it)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || die "Node.js >= 20 is required, this is $(node --version)"

# node_modules is current when it was installed from this very lock file: npm ci leaves a stamp.
stamp="$WEB/node_modules/.ensure-browser-lock.sha256"
want=$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)
if [[ ! -d $WEB/node_modules/playwright-core || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    say "installing web/node_modules (npm ci)"
    (cd "$WEB" && quietly npm ci --no-audit --no-fund) \
        || die "npm ci in $WEB failed (output above)"
    printf '%s\n' "$want" >"$stamp"
fi
