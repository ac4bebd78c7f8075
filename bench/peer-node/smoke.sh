#!/usr/bin/env bash
# Smoke test of the Node peer against the local emulators: starts the Stripe emulator, moto and
# server.mjs, changes a session's interval, replays, and checks what reached the emulator.
# Stops everything it started on exit. Needs: node_modules (npm ci), target/debug/stripe-emulator
# (cargo build -p stripe-emulator --bin stripe-emulator), python3 with moto, curl.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
emulator=${STRIPE_EMULATOR_BIN:-$root/target/debug/stripe-emulator}
version='2025-03-31.basil; checkout_server_update_beta=v1;'
key=sk_test_peer_smoke

[ -d "$here/node_modules" ] || { echo "run: (cd $here && npm ci)" >&2; exit 1; }
[ -x "$emulator" ] || { echo "missing $emulator" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  exec 3>&-                              # stdin EOF: every child should exit on its own
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill "$pid" 2>/dev/null; then echo "process $pid ignored stdin EOF; killed" >&2; fi
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkfifo "$tmp/stdin"

# $1 = name; rest = command, run with the shared stdin and its output in $tmp/NAME.{out,err}.
start() {
  local name=$1; shift
  "$@" <"$tmp/stdin" >"$tmp/$name.out" 2>"$tmp/$name.err" 3>&- &
  pids+=($!)
}
# Prints the URL once NAME's first stdout line starts with PREFIX.
wait_url() {
  local name=$1 prefix=$2 line
  for _ in $(seq 300); do
    line=$(head -n1 "$tmp/$name.out" 2>/dev/null || true)
    if [[ $line == "$prefix"* ]]; then echo "${line#"$prefix"}"; return; fi
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$tmp/$name.err" >&2; exit 1
}

start stripe "$emulator" --host 127.0.0.1 --port 0 --exit-on-stdin-eof
start moto python3 "$root/infra/local/moto_server.py" --port 0 --exit-on-stdin-eof
exec 3>"$tmp/stdin"                      # the one writer: held open until cleanup
stripe=$(wait_url stripe 'stripe-emulator listening on ')
moto=$(wait_url moto 'moto listening on ')

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
form() { curl -sS -u "$key:" -H "Stripe-Version: $version" "$stripe$1" "${@:2}"; }
product=$(form /v1/products -d name=Pro | json 'd["id"]')
monthly=$(form /v1/prices -d currency=usd -d unit_amount=1500 -d product="$product" -d 'recurring[interval]=month' | json 'd["id"]')
yearly=$(form /v1/prices -d currency=usd -d unit_amount=15000 -d product="$product" -d 'recurring[interval]=year' | json 'd["id"]')
sticker_product=$(form /v1/products -d name=Stickers | json 'd["id"]')
sticker=$(form /v1/prices -d currency=usd -d unit_amount=500 -d product="$sticker_product" | json 'd["id"]')
session=$(form /v1/checkout/sessions -d mode=subscription -d ui_mode=custom \
  -d return_url=https://shop.example/return -d 'permissions[update_line_items]=server_only' \
  -d 'metadata[cart_reservation]=rsv_smoke' \
  -d 'line_items[0][price]='"$monthly" -d 'line_items[0][quantity]=2' \
  -d 'line_items[1][price]='"$sticker" -d 'line_items[1][quantity]=1' | json 'd["id"]')

sticker_item=$(curl -sS -u "$key:" -H "Stripe-Version: $version" \
  "$stripe/v1/checkout/sessions/$session?expand%5B%5D=line_items" | json 'd["line_items"]["data"][1]["id"]')

start peer env PORT=0 STRIPE_API_BASE="$stripe" STRIPE_SECRET_KEY="$key" \
  STRIPE_API_VERSION="$version" \
  CATALOG_JSON="{\"plans\":[{\"id\":\"pro\",\"monthly\":\"$monthly\",\"yearly\":\"$yearly\"}]}" \
  AWS_ENDPOINT_URL_DYNAMODB="$moto" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
  node "$here/server.mjs"
peer=$(wait_url peer 'peer listening on ')
curl -sS -X DELETE "$stripe/_emulator/requests" >/dev/null

fail=0
check() { # $1 = description, $2 = expected, $3 = actual
  if [ "$2" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected [$2], got [$3]"; fail=1; fi
}
# Prints "STATUS BODY"; extra arguments go to curl. Headers land in $tmp/headers.
call() {
  local body=$1; shift
  curl -sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-raw "$body" "$@" "$peer/change-subscription-interval"
  printf ' %s' "$(cat "$tmp/body")"
}

first=$(call "{\"checkout_session_id\":\"$session\",\"interval\":\"yearly\"}" -H 'Idempotency-Key: smoke-1')
check 'yearly: 200' 200 "${first%% *}"
check 'yearly: plan item is the yearly price x2' "$yearly 2" \
  "$(echo "${first#* }" | json 'd["session"]["line_items"][0]["price"], d["session"]["line_items"][0]["quantity"]')"
check 'yearly: one-time item kept (same id)' "$sticker_item $sticker" \
  "$(echo "${first#* }" | json 'd["session"]["line_items"][1]["id"], d["session"]["line_items"][1]["price"]')"
check 'yearly: totals (2 x 15000 + 500)' '30500 30500' \
  "$(echo "${first#* }" | json 'd["session"]["amount_subtotal"], d["session"]["amount_total"]')"

replay=$(call "{\"checkout_session_id\":\"$session\",\"interval\":\"yearly\"}" -H 'Idempotency-Key: smoke-1')
check 'replay: same status and body' "$first" "$replay"
check 'replay: Idempotent-Replayed header' 1 "$(grep -ci '^idempotent-replayed: true' "$tmp/headers" || true)"

reused=$(call "{\"checkout_session_id\":\"$session\",\"interval\":\"monthly\"}" -H 'Idempotency-Key: smoke-1')
check 'same key, other body: 422 idempotency_key_reused' '422 idempotency_key_reused' \
  "${reused%% *} $(echo "${reused#* }" | json 'd["code"]')"

nokey=$(call "{\"checkout_session_id\":\"$session\",\"interval\":\"monthly\"}")
check 'no key: 200 back to monthly' "200 $monthly" "${nokey%% *} $(echo "${nokey#* }" | json 'd["session"]["line_items"][0]["price"]')"

bad=$(call '{"checkout_session_id":')
check 'bad JSON: 400 invalid_json' '400 invalid_json' "${bad%% *} $(echo "${bad#* }" | json 'd["code"]')"
bad=$(call "{\"checkout_session_id\":\"$session\",\"interval\":\"weekly\"}")
check 'bad interval: 400 invalid_request' '400 invalid_request' "${bad%% *} $(echo "${bad#* }" | json 'd["code"]')"
missing=$(call '{"checkout_session_id":"cs_test_doesnotexist","interval":"yearly"}')
check 'unknown session: 404 session_not_found' '404 session_not_found' \
  "${missing%% *} $(echo "${missing#* }" | json 'd["code"]')"

# What reached Stripe: two updates (the replay and the reused key sent none), each with the whole
# line_items array (plan item replaced in place, one-time item kept by id) and the version verbatim.
curl -sS "$stripe/_emulator/requests" >"$tmp/requests.json"
updates=$(json "'\n'.join(r['body'] for r in d['data'] if r['method'] == 'POST' and r['path'] == '/v1/checkout/sessions/$session')" <"$tmp/requests.json")
check 'two update POSTs' 2 "$(grep -c . <<<"$updates")"
check 'first update: full line_items array' \
  "expand[0]=line_items&line_items[0][price]=$yearly&line_items[0][quantity]=2&line_items[1][id]=$sticker_item" \
  "$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "$(head -n1 <<<"$updates")" | tr '&' '\n' | sort | paste -sd '&')"
check 'every /v1 request: Stripe-Version verbatim' "$version" \
  "$(json "'\n'.join(sorted({r['stripe_version'] for r in d['data']}))" <"$tmp/requests.json")"

echo "--- first update as the emulator logged it"
json "json.dumps(next({k: r[k] for k in ('method', 'path', 'stripe_version', 'idempotency_key', 'status', 'body')} for r in d['data'] if r['method'] == 'POST'), indent=1)" <"$tmp/requests.json"
if [ -s "$tmp/peer.err" ]; then echo "--- peer stderr"; cat "$tmp/peer.err"; fi
[ "$fail" == 0 ] && echo "smoke: all checks passed"
exit "$fail"
