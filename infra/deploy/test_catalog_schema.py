"""The catalog's JSON Schema (shared/domain/catalog.schema.json), which operators and editors
check their catalog file against, is itself valid and accepts the shipped examples. That it
documents exactly the fields the loader accepts is checked on the Rust side
(`cart_domain::catalog` tests), where the loader's field lists are."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import checks

SCHEMA = json.loads((checks.ROOT / "shared/domain/catalog.schema.json").read_text())
EXAMPLES = ["infra/local/catalog.example.json", "infra/local/catalog.full.example.json"]


def errors(catalog: dict[str, Any]) -> list[str]:
    return [e.message for e in Draft202012Validator(SCHEMA).iter_errors(catalog)]


def full_example() -> dict[str, Any]:
    return json.loads((checks.ROOT / "infra/local/catalog.full.example.json").read_text())


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", EXAMPLES)
def test_the_shipped_examples_match_the_schema(path: str):
    assert errors(json.loads((checks.ROOT / path).read_text())) == []


@pytest.mark.parametrize(
    ("label", "mutate"),
    [
        ("an unknown top-level field", lambda c: c.update(discounts=[])),
        ("an offer with both a plan and a price", lambda c: c["offers"][1].update(price="price_1MugExample")),
        ("an offer with neither", lambda c: c["offers"].append({"requires": ["pro"]})),
        ("a complimentary item without a threshold", lambda c: c["complimentary"].pop("threshold")),
        ("an unknown cart mode", lambda c: c["complimentary"].update(eligible_modes=["setup"])),
        ("a negative unit amount", lambda c: c["products"][0].update(unit_amount=-1)),
        ("too many shards", lambda c: c["inventory_shards"].update(TEE=65)),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(label: str, mutate: Any):
    catalog = copy.deepcopy(full_example())
    mutate(catalog)
    assert errors(catalog), f"{label} passed the schema"
