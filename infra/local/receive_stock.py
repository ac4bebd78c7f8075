#!/usr/bin/env python3
"""Receive stock of a SKU into the inventory table (what a warehouse delivery would do).

    python3 infra/local/receive_stock.py --endpoint http://127.0.0.1:12112 --sku TSHIRT --quantity 20 \
        [--catalog .stack/catalog.json]

Without --endpoint it writes to the deployed table on AWS, with your AWS credentials and region
(--table <the stack's InventoryTableName output>).

Adds to `available` and `received` in one update, so `available + held + sold == received` holds.
A SKU the catalog's `inventory_shards` splits over N stock items (shards) gets the units spread
over them exactly as the functions' `receive` does (evenly, the remainder one each to the first
shards; shard 0 is `sku#<SKU>`, shard i `sku#<SKU>#<i>`), all shards in one transaction.
"""

import argparse
import json
import pathlib
import sys

import boto3

RECEIVE = ("SET available = if_not_exists(available, :zero) + :q, "
           "received = if_not_exists(received, :zero) + :q, "
           "held = if_not_exists(held, :zero), sold = if_not_exists(sold, :zero)")


def shard_count(catalog: pathlib.Path | None, sku: str) -> int:
    """The SKU's shards according to the catalog file (1 without one, or when it does not say)."""
    if catalog is None:
        return 1
    return int(json.loads(catalog.read_text()).get("inventory_shards", {}).get(sku, 1))


def spread(quantity: int, shards: int) -> list[int]:
    """Units per shard: shared/runtime/src/inventory/mod.rs `spread`, the same rule."""
    return [quantity // shards + (1 if shard < quantity % shards else 0) for shard in range(shards)]


def sku_key(sku: str, shard: int) -> dict:
    return {"pk": {"S": f"sku#{sku}" if shard == 0 else f"sku#{sku}#{shard}"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="local DynamoDB URL; omit it for AWS (your credentials)")
    parser.add_argument("--sku", required=True)
    parser.add_argument("--quantity", type=int, required=True)
    parser.add_argument("--table", default="InventoryTable")
    parser.add_argument("--catalog", type=pathlib.Path,
                        help="catalog JSON whose inventory_shards says how many shards the SKU has")
    args = parser.parse_args()
    if args.quantity < 1:
        parser.error("--quantity must be at least 1")
    shards = shard_count(args.catalog, args.sku)
    if not 1 <= shards <= 64:
        parser.error(f"the catalog gives {args.sku} {shards} shards; 1 to 64 are allowed")
    if args.endpoint:
        dynamodb = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name="us-east-1",
                                aws_access_key_id="local", aws_secret_access_key="local")
    else:
        dynamodb = boto3.client("dynamodb")  # AWS: credentials and region from the environment
    if shards == 1:
        item = dynamodb.update_item(
            TableName=args.table,
            Key=sku_key(args.sku, 0),
            UpdateExpression=RECEIVE,
            ExpressionAttributeValues={":q": {"N": str(args.quantity)}, ":zero": {"N": "0"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        print({k: v.get("N", v.get("S")) for k, v in item.items()})
        return 0
    dynamodb.transact_write_items(TransactItems=[
        {"Update": {
            "TableName": args.table,
            "Key": sku_key(args.sku, shard),
            "UpdateExpression": RECEIVE,
            "ExpressionAttributeValues": {":q": {"N": str(units)}, ":zero": {"N": "0"}},
        }}
        for shard, units in enumerate(spread(args.quantity, shards)) if units > 0
    ])
    total = {"available": 0, "held": 0, "sold": 0, "received": 0}
    for shard in range(shards):
        item = dynamodb.get_item(TableName=args.table, Key=sku_key(args.sku, shard),
                                 ConsistentRead=True).get("Item", {})
        counters = {name: int(item.get(name, {}).get("N", "0")) for name in total}
        print({"shard": shard, **counters})
        total = {name: total[name] + counters[name] for name in total}
    print({"sku": args.sku, "shards": shards, **total})
    return 0


if __name__ == "__main__":
    sys.exit(main())
