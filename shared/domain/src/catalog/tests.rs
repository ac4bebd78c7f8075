use super::*;

const GOOD: &str = r#"{
    "plans": [
        {"id": "pro", "monthly": "price_pro_m", "yearly": "price_pro_y"},
        {"id": "team", "monthly": "price_team_m", "yearly": "price_team_y"}
    ]
}"#;

#[test]
fn a_price_knows_its_plan_and_interval() {
    let catalog = Catalog::from_json(GOOD).unwrap();
    let yearly = PriceId::parse("price_team_y").unwrap();
    let found = catalog.plan_price(&yearly).unwrap();
    assert_eq!(found.plan.id, "team");
    assert_eq!(found.interval, Interval::Yearly);
    assert_eq!(found.plan.price(Interval::Monthly).as_str(), "price_team_m");
    assert!(catalog
        .plan_price(&PriceId::parse("price_other").unwrap())
        .is_none());
}

#[test]
fn a_price_may_belong_to_only_one_place() {
    let json = r#"{"plans":[{"id":"a","monthly":"price_1","yearly":"price_1"}]}"#;
    assert!(matches!(
        Catalog::from_json(json),
        Err(CatalogError::DuplicatePrice(_))
    ));
    let json = r#"{"plans":[{"id":"a","monthly":"price_1","yearly":"price_2"},
                            {"id":"a","monthly":"price_3","yearly":"price_4"}]}"#;
    assert!(matches!(
        Catalog::from_json(json),
        Err(CatalogError::DuplicatePlan(_))
    ));
}

#[test]
fn products_carry_bounds_and_skus_and_plans_default_to_1_to_99_seats() {
    let json = r#"{"plans":[{"id":"pro","monthly":"price_m","yearly":"price_y"}],
        "products":[{"price":"price_tee","sku":"TEE-M","quantity":{"min":1,"max":3}},
                    {"price":"price_tee_gift","sku":"TEE-M"},
                    {"price":"price_pdf"}]}"#;
    let catalog = Catalog::from_json(json).unwrap();
    assert_eq!(catalog.stock_skus(), [Sku::parse("TEE-M").unwrap()]);
    let tee = catalog.item(&PriceId::parse("price_tee").unwrap()).unwrap();
    assert_eq!(tee.sku().map(Sku::as_str), Some("TEE-M"));
    assert!(tee.bounds().contains(3) && !tee.bounds().contains(4));
    let pdf = catalog.item(&PriceId::parse("price_pdf").unwrap()).unwrap();
    assert_eq!(pdf.sku(), None);
    let plan = catalog.item(&PriceId::parse("price_y").unwrap()).unwrap();
    assert_eq!(plan.bounds(), QuantityBounds { min: 1, max: 99 });
    assert!(catalog
        .item(&PriceId::parse("price_other").unwrap())
        .is_none());
}

#[test]
fn products_are_checked_like_plans() {
    for json in [
        r#"{"plans":[],"products":[{"price":"price_a"},{"price":"price_a"}]}"#,
        r#"{"plans":[{"id":"p","monthly":"price_a","yearly":"price_b"}],"products":[{"price":"price_a"}]}"#,
        r#"{"plans":[],"products":[{"price":"price_a","quantity":{"min":0,"max":3}}]}"#,
        r#"{"plans":[],"products":[{"price":"price_a","quantity":{"min":4,"max":3}}]}"#,
        r#"{"plans":[],"products":[{"price":"price_a","sku":"has space"}]}"#,
    ] {
        assert!(Catalog::from_json(json).is_err(), "{json}");
    }
}

#[test]
fn typos_and_bad_ids_are_refused() {
    for json in [
        r#"{"plan":[]}"#,
        r#"{"plans":[{"id":"a","monthly":"prod_1","yearly":"price_2"}]}"#,
        r#"{"plans":[{"id":"a","monthly":"price_1","yearly":"price_2","weekly":"price_3"}]}"#,
        r#"{"plans":[{"id":" ","monthly":"price_1","yearly":"price_2"}]}"#,
    ] {
        assert!(Catalog::from_json(json).is_err(), "{json}");
    }
}

const PLANS: &str = r#""plans":[{"id":"p","monthly":"price_m","yearly":"price_y"}]"#;

fn with(extra: &str) -> Result<Catalog, CatalogError> {
    Catalog::from_json(&format!("{{{PLANS},{extra}}}"))
}

#[test]
fn shipping_tiers_and_tax_rates_load_and_match_the_most_specific_rule() {
    let catalog = with(
        r#""shipping":{"countries":["US","CA"],"tiers":[
            {"id":"std","display_name":"Standard","amount":500,"below":5000,"min_days":3,"max_days":5},
            {"id":"free","display_name":"Free","amount":0,"from":5000},
            {"id":"express","display_name":"Express","amount":1500,"currency":"usd","min_days":1,"max_days":1}]},
           "tax_rates":[{"country":"US","tax_rate":"txr_us"},
                        {"country":"US","state":"CA","tax_rate":"txr_us_ca"}]"#,
    )
    .unwrap();
    let shipping = catalog.shipping().unwrap();
    assert_eq!(shipping.countries, ["US", "CA"]);
    let ids = |subtotal| {
        shipping
            .tiers
            .iter()
            .filter(|t| t.applies_to(subtotal))
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(4999), ["std", "express"]);
    assert_eq!(ids(5000), ["free", "express"]);
    assert_eq!(catalog.tax_rate_for("US", Some("CA")), Some("txr_us_ca"));
    assert_eq!(catalog.tax_rate_for("US", Some("NY")), Some("txr_us"));
    assert_eq!(catalog.tax_rate_for("US", None), Some("txr_us"));
    assert_eq!(catalog.tax_rate_for("CA", Some("ON")), None);
}

#[test]
fn bad_shipping_and_tax_rates_are_refused_with_a_reason() {
    let tier = |id: &str, extra: &str| {
        format!(r#"{{"id":"{id}","display_name":"Ship","amount":100{extra}}}"#)
    };
    let six: Vec<String> = (0..6).map(|n| tier(&format!("t{n}"), "")).collect();
    let cases = [
        (r#""shipping":{"countries":[],"tiers":[]}"#.to_owned(), "at least one"),
        (r#""shipping":{"countries":["us"]}"#.to_owned(), "uppercase"),
        (r#""shipping":{"countries":["USA"]}"#.to_owned(), "uppercase"),
        (r#""shipping":{"countries":["US","US"]}"#.to_owned(), "more than once"),
        (
            format!(r#""shipping":{{"countries":["US"],"tiers":[{},{}]}}"#, tier("a", ""), tier("a", "")),
            "more than once",
        ),
        (
            format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, tier("a", r#","from":500,"below":500"#)),
            "less than below",
        ),
        (
            format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, tier("a", r#","min_days":5,"max_days":2"#)),
            "min_days",
        ),
        (
            format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, tier("a", r#","currency":"USD""#)),
            "currency",
        ),
        (
            r#""shipping":{"countries":["US"],"tiers":[{"id":"a","display_name":" ","amount":1}]}"#.to_owned(),
            "display_name",
        ),
        (
            r#""shipping":{"countries":["US"],"tiers":[{"id":"a","display_name":"A","amount":-1}]}"#.to_owned(),
            "amount",
        ),
        (
            format!(r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#, six.join(",")),
            "at most 5",
        ),
        (r#""tax_rates":[{"country":"US","tax_rate":"tax_1"}]"#.to_owned(), "txr_"),
        (r#""tax_rates":[{"country":"usa","tax_rate":"txr_1"}]"#.to_owned(), "uppercase"),
        (r#""tax_rates":[{"country":"US","state":"","tax_rate":"txr_1"}]"#.to_owned(), "state"),
        (
            r#""tax_rates":[{"country":"US","tax_rate":"txr_1"},{"country":"US","tax_rate":"txr_2"}]"#.to_owned(),
            "same country",
        ),
    ];
    for (extra, why) in cases {
        let error = with(&extra).unwrap_err().to_string();
        assert!(error.contains(why), "{extra}: {error}");
    }
    // Six tiers are fine when their bands never overlap more than five at a time.
    let banded: Vec<String> = (0..6)
        .map(|n| {
            tier(
                &format!("t{n}"),
                &format!(r#","from":{},"below":{}"#, n * 100, n * 100 + 100),
            )
        })
        .collect();
    assert!(with(&format!(
        r#""shipping":{{"countries":["US"],"tiers":[{}]}}"#,
        banded.join(",")
    ))
    .is_ok());
}

#[test]
fn a_hot_sku_may_be_split_over_up_to_64_stock_items() {
    let products =
        r#""products":[{"price":"price_tee","sku":"TEE"},{"price":"price_mug","sku":"MUG"}]"#;
    let catalog = with(&format!(r#"{products},"inventory_shards":{{"TEE":16}}"#)).unwrap();
    let (tee, mug) = (Sku::parse("TEE").unwrap(), Sku::parse("MUG").unwrap());
    assert_eq!(catalog.inventory_shards(&tee), 16);
    assert_eq!(catalog.inventory_shards(&mug), 1, "absent = one item");
    assert_eq!(catalog.inventory_shards(&Sku::parse("OTHER").unwrap()), 1);
    assert_eq!(with(products).unwrap().inventory_shards(&tee), 1);
    let edges = with(&format!(
        r#"{products},"inventory_shards":{{"TEE":64,"MUG":1}}"#
    ))
    .unwrap();
    assert_eq!(
        (edges.inventory_shards(&tee), edges.inventory_shards(&mug)),
        (64, 1)
    );
}

#[test]
fn bad_inventory_shards_are_refused_with_a_reason() {
    let products = r#""products":[{"price":"price_tee","sku":"TEE"},{"price":"price_pdf"}]"#;
    for (shards, why) in [
        (r#"{"TEE":0}"#, "1 to 64"),
        (r#"{"TEE":65}"#, "1 to 64"),
        (r#"{"MUG":2}"#, "no product"),
        (r#"{"TEE":-1}"#, "invalid value"),
        (r#"{"TEE":2.5}"#, "invalid type"),
        (r#"{"has space":2}"#, "not a SKU"),
        (r#"[2]"#, "invalid type"),
    ] {
        let error = with(&format!(r#"{products},"inventory_shards":{shards}"#))
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{shards}: {error}");
    }
}

#[test]
fn the_shipped_local_catalog_template_is_valid() {
    let json = include_str!("../../../../infra/local/catalog.example.json");
    assert!(!Catalog::from_json(json).unwrap().plans().is_empty());
}

#[test]
fn the_full_catalog_example_with_every_field_is_valid() {
    let json = include_str!("../../../../infra/local/catalog.full.example.json");
    let catalog = Catalog::from_json(json).unwrap();
    assert_eq!(catalog.stock_skus().len(), 2);
    assert_eq!(catalog.inventory_shards(&Sku::parse("TEE").unwrap()), 4);
}

/// The fields the loader accepts for `T`, as its unknown-field error lists them.
fn accepted_fields<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
    let error = serde_json::from_str::<T>(r#"{"probe-not-a-field": 0}"#)
        .unwrap_err()
        .to_string();
    let expected = error.split_once("expected").map_or("", |(_, rest)| rest);
    let mut fields: Vec<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    fields.sort();
    fields
}

#[test]
fn the_json_schema_documents_every_field_the_loader_accepts_and_no_other() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../catalog.schema.json")).unwrap();
    let documented = |pointer: &str| -> Vec<String> {
        let properties = schema
            .pointer(&format!("{pointer}/properties"))
            .and_then(serde_json::Value::as_object)
            .unwrap_or_else(|| panic!("no properties at {pointer}"));
        let mut fields: Vec<String> = properties.keys().cloned().collect();
        fields.sort();
        fields
    };
    let pairs = [
        ("", accepted_fields::<CatalogFile>()),
        ("/properties/plans/items", accepted_fields::<Plan>()),
        ("/properties/products/items", accepted_fields::<Product>()),
        ("/properties/offers/items", accepted_fields::<Offer>()),
        (
            "/properties/complimentary",
            accepted_fields::<Complimentary>(),
        ),
        ("/properties/shipping", accepted_fields::<Shipping>()),
        (
            "/properties/shipping/properties/tiers/items",
            accepted_fields::<ShippingTier>(),
        ),
        (
            "/properties/tax_rates/items",
            accepted_fields::<TaxRateRule>(),
        ),
        ("/$defs/quantity", accepted_fields::<QuantityBounds>()),
    ];
    for (pointer, accepted) in pairs {
        assert!(accepted.len() >= 2, "{pointer}: {accepted:?}");
        assert_eq!(documented(pointer), accepted, "schema at `{pointer}`");
    }
}
