#!/usr/bin/env bash
# Runs the product locally: the Stripe emulator (seeded with the demo catalog), a local DynamoDB
# (moto, with the tables of template.yaml) and every function
# under `cargo lambda watch` (rebuilt on change) at http://127.0.0.1:9000/lambda-url/<function>/.
# Ctrl-C stops everything. Python tools come from .venv/ (created and filled when missing).
# Usage: infra/dev.sh
#
# Settings (environment): STRIPE_EMULATOR_PORT (12111), DYNAMODB_PORT (12112), LAMBDA_PORT (9000),
# STRIPE_API_VERSION (GA `2026-09-30.endive`; the seed's preview:
# "2025-03-31.basil; checkout_server_update_beta=v1;").
set -euo pipefail
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

STRIPE_EMULATOR_PORT=${STRIPE_EMULATOR_PORT:-12111}
LAMBDA_PORT=${LAMBDA_PORT:-9000}
DYNAMODB_PORT=${DYNAMODB_PORT:-12112}
STRIPE_API_VERSION=${STRIPE_API_VERSION:-2026-09-30.endive}
STACK="$ROOT/.stack"
STRIPE_URL="http://127.0.0.1:$STRIPE_EMULATOR_PORT"
SECRET_KEY=sk_test_local_dev
WEBHOOK_SECRET=whsec_local_dev_signing_secret

ensure_tools
mkdir -p "$STACK"

# Built up front, with cargo's progress, so the first call to each function answers at once.
packages=(-p stripe-emulator)
for crate in functions/*/; do packages+=(-p "$(basename "$crate")"); done
log "building the Stripe emulator and the functions (first run: ~2.5 min on 2 cores)"
cargo build --locked --bins "${packages[@]}"

log "starting the Stripe emulator on $STRIPE_URL"
# Each service reads its stdin from a pipe this script holds open: when the script ends, however it
# ends, the pipe closes and the service exits (--exit-on-stdin-eof).
# It signs checkout.session.* events and delivers them to the stripe-webhook function.
# shellcheck disable=SC2034 # the fd is held, never written
exec {emulator_in}> >(exec "$ROOT/target/debug/stripe-emulator" --host 127.0.0.1 \
    --port "$STRIPE_EMULATOR_PORT" --exit-on-stdin-eof \
    --webhook-url "http://127.0.0.1:$LAMBDA_PORT/lambda-url/stripe-webhook/stripe-webhook" \
    --webhook-secret "$WEBHOOK_SECRET" >/dev/null 2>"$STACK/stripe-emulator.log")
emulator_pid=$!
wait_for_port "$STRIPE_EMULATOR_PORT" 30

log "starting DynamoDB (moto) on http://127.0.0.1:$DYNAMODB_PORT"
# shellcheck disable=SC2034 # the fd is held, never written
exec {moto_in}> >(exec python3 infra/local/moto_server.py --port "$DYNAMODB_PORT" \
    --exit-on-stdin-eof >/dev/null 2>"$STACK/moto.log")
moto_pid=$!
trap 'kill "$emulator_pid" "$moto_pid" 2>/dev/null || true' EXIT
wait_for_port "$DYNAMODB_PORT" 60
python3 infra/local/create_tables.py --endpoint "http://127.0.0.1:$DYNAMODB_PORT" >/dev/null
python3 infra/local/receive_stock.py --endpoint "http://127.0.0.1:$DYNAMODB_PORT" \
    --sku TSHIRT --quantity 20 >/dev/null

log "seeding the demo catalog"
ids=$(python3 infra/local/seed.py --api-base "$STRIPE_URL" --secret-key "$SECRET_KEY" --out "$STACK/catalog.json")
price() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ids" "$1"; }


cat > "$STACK/functions.env" <<ENV
STRIPE_API_BASE=$STRIPE_URL
STRIPE_SECRET_KEY=$SECRET_KEY
STRIPE_API_VERSION=$STRIPE_API_VERSION
CATALOG_PATH=$STACK/catalog.json
IDEMPOTENCY_TABLE=IdempotencyTable
INVENTORY_TABLE=InventoryTable
CHECKOUT_RETURN_URL=http://127.0.0.1:$LAMBDA_PORT/return
STRIPE_WEBHOOK_SECRET=$WEBHOOK_SECRET
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=local
AWS_SECRET_ACCESS_KEY=local
AWS_EC2_METADATA_DISABLED=true
RUST_LOG=info
ENV

FN="http://127.0.0.1:$LAMBDA_PORT/lambda-url"
cat <<USAGE

Local stack ready (Stripe API version: $STRIPE_API_VERSION; 20 T-shirts in stock).
A function recompiles on its next call after you change its code.

1) Create a Checkout Session (Pro monthly + 2 T-shirts, which are held):

curl -s -X POST $FN/create-session/checkout-sessions -H 'content-type: application/json' \
  -d '{"items":[{"price":"$(price pro_monthly)","quantity":1},{"price":"$(price tshirt)","quantity":2}]}'

2) Switch it to yearly (paste the session id), idempotently:

curl -s -X POST $FN/change-interval/change-subscription-interval -H 'content-type: application/json' \
  -H 'Idempotency-Key: demo-1' \
  -d '{"checkout_session_id":"cs_test_PASTE_ID_HERE","interval":"yearly"}'

   (Send it again: the same answer comes back, marked Idempotent-Replayed: true.)

3) Change the T-shirts to 3 (paste the T-shirt line item id, li_...):

curl -s -X POST $FN/update-quantity/update-quantity -H 'content-type: application/json' \
  -d '{"checkout_session_id":"cs_test_PASTE_ID_HERE","line_item_id":"li_PASTE_ID_HERE","quantity":3}'

4) Pay (the emulator completes the session and sends the signed webhook; the T-shirts are sold):

curl -s -X POST $STRIPE_URL/_emulator/checkout/sessions/cs_test_PASTE_ID_HERE/complete

More stock (prints the SKU's counters; spread over its shards if the catalog's inventory_shards
splits it): python3 infra/local/receive_stock.py \\
  --endpoint http://127.0.0.1:$DYNAMODB_PORT --sku TSHIRT --quantity 10 --catalog $STACK/catalog.json
Logs: $STACK/*.log · requests Stripe saw: curl -s $STRIPE_URL/_emulator/requests

USAGE

log "starting cargo lambda watch on http://127.0.0.1:$LAMBDA_PORT (Ctrl-C to stop)"
cargo lambda watch -A 127.0.0.1 -P "$LAMBDA_PORT" --env-file "$STACK/functions.env"
