#!/usr/bin/env python3
"""Create the DynamoDB tables of template.yaml in a local DynamoDB (moto).

template.yaml is the one source of truth for key schemas and TTL attributes: every
`AWS::DynamoDB::Table` resource is created here under its logical id (e.g. `IdempotencyTable`), with
the same KeySchema, AttributeDefinitions, indexes and TimeToLiveSpecification.

    python3 infra/local/create_tables.py --endpoint http://127.0.0.1:PORT [--template template.yaml]
"""

import argparse
import json
import pathlib
import sys

import boto3
import yaml


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML; intrinsic functions (!Ref, !Sub, …) are kept as plain values."""


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


CfnLoader.add_multi_constructor("!", _intrinsic)


def table_definitions(template_path):
    template = yaml.load(pathlib.Path(template_path).read_text(), Loader=CfnLoader)
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            yield logical_id, resource.get("Properties", {})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--template", default=str(pathlib.Path(__file__).resolve().parents[2] / "template.yaml"))
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()

    dynamodb = boto3.client("dynamodb", endpoint_url=args.endpoint, region_name=args.region,
                            aws_access_key_id="local", aws_secret_access_key="local")
    existing = set(dynamodb.list_tables()["TableNames"])
    created = {}
    for name, props in table_definitions(args.template):
        if name not in existing:
            spec = {
                "TableName": name,
                "KeySchema": props["KeySchema"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if props.get("GlobalSecondaryIndexes"):
                spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            dynamodb.create_table(**spec)
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": True})
        created[name] = name
    json.dump(created, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
