#!/usr/bin/env python3
"""Receive stock of a SKU into the local inventory table (what a warehouse delivery would do).

    python3 infra/local/receive_stock.py --endpoint http://127.0.0.1:12112 --sku TSHIRT --quantity 20

Adds to `available` and `received` in one update, so `available + held + sold == received` holds.
"""

import argparse
import sys

import boto3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="local DynamoDB URL")
    parser.add_argument("--sku", required=True)
    parser.add_argument("--quantity", type=int, required=True)
    parser.add_argument("--table", default="InventoryTable")
    args = parser.parse_args()
    if args.quantity < 1:
        parser.error("--quantity must be at least 1")
    dynamodb = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")
    item = dynamodb.update_item(
        TableName=args.table,
        Key={"pk": {"S": f"sku#{args.sku}"}},
        UpdateExpression="SET available = if_not_exists(available, :zero) + :q, "
                         "received = if_not_exists(received, :zero) + :q, "
                         "held = if_not_exists(held, :zero), sold = if_not_exists(sold, :zero)",
        ExpressionAttributeValues={":q": {"N": str(args.quantity)}, ":zero": {"N": "0"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    print({k: v.get("N", v.get("S")) for k, v in item.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
