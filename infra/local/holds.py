#!/usr/bin/env python3
"""Bulk access to the local inventory table (moto) for end-to-end tests: one process, many items.

    python3 infra/local/holds.py --endpoint URL put    < items.jsonl   # DynamoDB JSON, one item a line
    python3 infra/local/holds.py --endpoint URL get    < keys.json     # ["pk", ...] -> [item|null, ...]
    python3 infra/local/holds.py --endpoint URL live                   # {"live": n, "due": m}

`put` writes with BatchWriteItem (25 items a call, unprocessed items sent again); `get` reads
consistently with BatchGetItem (100 keys a call) and answers in the order asked; `live` counts the
holds listed in the sweeper's index (`holds-by-expiry`: live holds) and those of them already due.
"""

import argparse
import json
import sys
import time

import boto3

INDEX = "holds-by-expiry"


def client(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def put(dynamodb, table, lines):
    items = [json.loads(line) for line in lines if line.strip()]
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        for attempt in range(8):
            answer = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
            time.sleep(0.01 * 2 ** attempt)
        if requests:
            raise SystemExit(f"{len(requests)} items still unprocessed")
    json.dump({"written": len(items)}, sys.stdout)


def get(dynamodb, table, keys):
    found = {}
    for start in range(0, len(keys), 100):
        wanted = [{"pk": {"S": pk}} for pk in dict.fromkeys(keys[start:start + 100])]
        for attempt in range(8):
            answer = dynamodb.batch_get_item(
                RequestItems={table: {"Keys": wanted, "ConsistentRead": True}})
            for item in answer.get("Responses", {}).get(table, []):
                found[item["pk"]["S"]] = item
            wanted = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not wanted:
                break
            time.sleep(0.01 * 2 ** attempt)
        if wanted:
            raise SystemExit(f"{len(wanted)} keys still unprocessed")
    json.dump([found.get(pk) for pk in keys], sys.stdout)


def live(dynamodb, table):
    now = int(time.time())
    counts = {}
    for name, condition, values in [
        ("live", "sweep = :held", {":held": {"S": "HELD"}}),
        ("due", "sweep = :held AND expires_at < :now",
         {":held": {"S": "HELD"}, ":now": {"N": str(now)}}),
    ]:
        total, start = 0, None
        while True:
            args = {"TableName": table, "IndexName": INDEX, "Select": "COUNT",
                    "KeyConditionExpression": condition, "ExpressionAttributeValues": values}
            if start:
                args["ExclusiveStartKey"] = start
            answer = dynamodb.query(**args)
            total += answer["Count"]
            start = answer.get("LastEvaluatedKey")
            if not start:
                break
        counts[name] = total
    json.dump(counts, sys.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", default="InventoryTable")
    parser.add_argument("command", choices=["put", "get", "live"])
    args = parser.parse_args()
    dynamodb = client(args.endpoint)
    if args.command == "put":
        put(dynamodb, args.table, sys.stdin.read().splitlines())
    elif args.command == "get":
        get(dynamodb, args.table, json.load(sys.stdin))
    else:
        live(dynamodb, args.table)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
