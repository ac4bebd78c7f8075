#!/usr/bin/env python3
"""Seed the local Stripe emulator with the demo catalog and write the matching catalog file.

Uses the official stripe-python client, so seeding doubles as a smoke test of the emulator.
Prices get ids chosen by Stripe (or the emulator), so the catalog the functions read is generated
here from what was actually created.

    python3 infra/local/seed.py --api-base http://127.0.0.1:12111 --out .stack/catalog.json
"""

import argparse
import json
import pathlib
import sys

import stripe

SECRET_KEY = "sk_test_local_dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-base", required=True, help="Stripe emulator URL")
    parser.add_argument("--out", required=True, help="catalog JSON file to write")
    parser.add_argument("--secret-key", default=SECRET_KEY)
    args = parser.parse_args()

    client = stripe.StripeClient(args.secret_key, base_addresses={"api": args.api_base})
    products = client.v1.products
    prices = client.v1.prices

    pro = products.create(params={"name": "Pro plan"})
    monthly = prices.create(params={"product": pro.id, "currency": "usd", "unit_amount": 1500,
                                    "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"})
    yearly = prices.create(params={"product": pro.id, "currency": "usd", "unit_amount": 15000,
                                   "recurring": {"interval": "year"}, "lookup_key": "pro_yearly"})
    one_time = {}
    for key, name, amount in [("sticker_pack", "Sticker pack", 500),
                              ("onboarding_call", "Onboarding call", 9900),
                              ("tshirt", "T-shirt", 2500)]:
        product = products.create(params={"name": name})
        one_time[key] = prices.create(params={"product": product.id, "currency": "usd",
                                              "unit_amount": amount, "lookup_key": key}).id

    catalog = {
        "$schema": "../shared/domain/catalog.schema.json",
        "plans": [{"id": "pro", "monthly": monthly.id, "yearly": yearly.id}],
        "products": [
            {"price": one_time["sticker_pack"]},
            {"price": one_time["onboarding_call"], "quantity": {"min": 1, "max": 1}},
            # Stock-tracked: infra/local/receive_stock.py puts T-shirts on the shelf.
            {"price": one_time["tshirt"], "sku": "TSHIRT", "quantity": {"min": 1, "max": 5}},
        ],
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(catalog, indent=2) + "\n")

    json.dump({"pro_monthly": monthly.id, "pro_yearly": yearly.id, **one_time}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
