//! Default object shapes against Stripe's own: every field the emulator returns must exist in
//! Stripe's default object (`tests/fixtures/stripe-objects.json`, vendored from stripe/openapi's
//! `fixtures3.json` and `fixtures3.private_preview.json`), and includable fields (`line_items` on a
//! session, `taxes`/`discounts` on an item) must be absent unless expanded and present when
//! expanded. Requests go straight to `dispatch`, no sockets involved.

use serde_json::{Map, Value};
use stripe_emulator::api::dispatch;
use stripe_emulator::dialect::ApiVersion;
use stripe_emulator::form;
use stripe_emulator::store::{now, Store};

const FIXTURES: &str = include_str!("fixtures/stripe-objects.json");
const ENDIVE: &str = "2026-09-30.endive";
const PREVIEW: &str = "2025-03-31.basil; checkout_server_update_beta=v1";

/// Fields the emulator returns that Stripe's default object lacks, on purpose. Each names why.
const KNOWN_EXTRAS: &[&str] = &[
    // Optional, not nullable: on sessions given a return_url (stripe-python
    // `checkout/_session.py`: "Applies to Checkout Sessions with `ui_mode: embedded_page` or
    // `ui_mode: elements`").
    "checkout.session.return_url",
    // The basil private-preview dialect only (stripe-node v18.1.0-beta.1
    // `types/Checkout/Sessions.d.ts`); today's fixtures no longer have it.
    "checkout.session.permissions.update_line_items",
];

/// Stripe's default `name` object: the union of both fixture files (the private preview one
/// lacks a few GA fields and has a few of its own).
fn reference(name: &str) -> Value {
    let all: Value = serde_json::from_str(FIXTURES).expect("fixtures parse");
    let ga = &all["fixtures3.json"][name];
    let preview = &all["fixtures3.private_preview.json"][name];
    assert!(ga.is_object(), "no fixture for {name}");
    union(ga, preview)
}

fn union(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let mut out = a.clone();
            for (k, v) in b {
                let merged = match a.get(k) {
                    Some(existing) => union(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Null, b) => b.clone(),
        (a, _) => a.clone(),
    }
}

/// Collects `path.field` for every field of `value` that `reference` does not have, descending
/// into objects (and the first element of object arrays) that the reference spells out.
fn unknown_fields(value: &Value, reference: &Value, path: &str, out: &mut Vec<String>) {
    let (Value::Object(value), Value::Object(reference)) = (value, reference) else {
        return;
    };
    for (key, field) in value {
        let here = format!("{path}.{key}");
        let Some(expected) = reference.get(key) else {
            if !KNOWN_EXTRAS.contains(&here.as_str()) {
                out.push(here);
            }
            continue;
        };
        // Metadata keys are the caller's own.
        if key == "metadata" {
            continue;
        }
        match (field, expected) {
            (Value::Object(_), Value::Object(_)) => unknown_fields(field, expected, &here, out),
            (Value::Array(items), Value::Array(model)) => {
                if let Some(model) = model.first().filter(|m| m.is_object()) {
                    for item in items {
                        unknown_fields(item, model, &format!("{here}[]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[track_caller]
fn assert_conforms(name: &str, value: &Value) {
    assert_conforms_to(name, value, &reference(name));
}

#[track_caller]
fn assert_conforms_to(name: &str, value: &Value, reference: &Value) {
    assert!(value.is_object(), "{name}: not an object: {value}");
    let mut unknown = Vec::new();
    unknown_fields(value, reference, name, &mut unknown);
    assert!(
        unknown.is_empty(),
        "fields Stripe's default {name} does not have: {unknown:?}"
    );
}

fn keys(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

struct Account {
    store: Store,
}

impl Account {
    fn call(&mut self, version: &str, method: &str, path: &str, body: &str) -> Value {
        let params = form::parse(&[body.as_bytes()]).expect("form");
        let dialect = ApiVersion::parse(version).expect("version").dialect();
        dispatch(&mut self.store, method, path, params, dialect, now())
            .unwrap_or_else(|e| panic!("{method} {path} {body}: {e}"))
    }

    fn id(&mut self, path: &str, body: &str) -> String {
        self.call(ENDIVE, "POST", path, body)["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }
}

/// A payment session with a taxed item, an untaxed item and two shipping options.
fn seed() -> (Account, String) {
    let mut a = Account {
        store: Store::default(),
    };
    let product = a.id("/v1/products", "name=Mug&metadata[sku]=MUG");
    let mug = a.id(
        "/v1/prices",
        &format!("product={product}&currency=usd&unit_amount=900"),
    );
    let gift = a.id(
        "/v1/prices",
        "currency=usd&unit_amount=250&product_data[name]=Gift+wrap",
    );
    let vat = a.id(
        "/v1/tax_rates",
        "display_name=VAT&percentage=20&inclusive=true&country=GB&jurisdiction=GB",
    );
    let sales = a.id(
        "/v1/tax_rates",
        "display_name=Sales+tax&percentage=8.25&inclusive=false",
    );
    let session = a.id(
        "/v1/checkout/sessions",
        &format!(
            "mode=payment&ui_mode=elements&return_url=https://shop.test/r\
             &line_items[0][price]={mug}&line_items[0][quantity]=2\
             &line_items[0][tax_rates][0]={vat}&line_items[0][tax_rates][1]={sales}\
             &line_items[1][price]={gift}&line_items[1][quantity]=1\
             &shipping_address_collection[allowed_countries][0]=GB\
             &shipping_options[0][shipping_rate_data][display_name]=Standard\
             &shipping_options[0][shipping_rate_data][type]=fixed_amount\
             &shipping_options[0][shipping_rate_data][fixed_amount][amount]=500\
             &shipping_options[0][shipping_rate_data][fixed_amount][currency]=usd\
             &shipping_options[0][shipping_rate_data][delivery_estimate][minimum][unit]=day\
             &shipping_options[0][shipping_rate_data][delivery_estimate][minimum][value]=2\
             &shipping_options[1][shipping_rate_data][display_name]=Express\
             &shipping_options[1][shipping_rate_data][type]=fixed_amount\
             &shipping_options[1][shipping_rate_data][fixed_amount][amount]=1500\
             &shipping_options[1][shipping_rate_data][fixed_amount][currency]=usd\
             &metadata[cart]=c1"
        ),
    );
    (a, session)
}

#[test]
fn every_default_field_exists_in_stripes_objects() {
    let (mut a, id) = seed();
    let path = format!("/v1/checkout/sessions/{id}");
    let session = a.call(ENDIVE, "GET", &path, "");
    assert_conforms("checkout.session", &session);
    assert!(session.get("line_items").is_none(), "line_items by default");

    let expanded = a.call(
        ENDIVE,
        "GET",
        &path,
        "expand[]=line_items.data.price.product&expand[]=shipping_options.shipping_rate",
    );
    // Expanded, line_items is Stripe's list of `item`s.
    let mut model = reference("checkout.session");
    model["line_items"] = serde_json::json!({
        "object": "list",
        "data": [reference("item")],
        "has_more": false,
        "url": "/v1/checkout/sessions/{id}/line_items",
    });
    assert_conforms_to("checkout.session", &expanded, &model);
    let items = expanded["line_items"]["data"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for item in items {
        assert_conforms("item", item);
        assert_conforms("price", &item["price"]);
        assert_conforms("product", &item["price"]["product"]);
    }
    let rate = &expanded["shipping_options"][0]["shipping_rate"];
    assert_conforms("shipping_rate", rate);
    let rate_id = rate["id"].as_str().expect("rate id");
    assert_conforms(
        "shipping_rate",
        &a.call(ENDIVE, "GET", &format!("/v1/shipping_rates/{rate_id}"), ""),
    );

    let price_id = items[0]["price"]["id"].as_str().expect("price id");
    assert_conforms(
        "price",
        &a.call(ENDIVE, "GET", &format!("/v1/prices/{price_id}"), ""),
    );
    let product_id = items[0]["price"]["product"]["id"]
        .as_str()
        .expect("product id");
    assert_conforms(
        "product",
        &a.call(ENDIVE, "GET", &format!("/v1/products/{product_id}"), ""),
    );
    for rate in a.call(ENDIVE, "GET", "/v1/tax_rates", "")["data"]
        .as_array()
        .expect("tax rates")
    {
        assert_conforms("tax_rate", rate);
    }
    let recurring = a.call(
        ENDIVE,
        "POST",
        "/v1/prices",
        &format!("product={product_id}&currency=usd&unit_amount=1500&recurring[interval]=month"),
    );
    assert_conforms("price", &recurring);

    // The preview dialect's session (permissions.update_line_items is its own, listed above).
    let preview = a.call(
        PREVIEW,
        "POST",
        "/v1/checkout/sessions",
        &format!(
            "mode=subscription&ui_mode=custom&permissions[update_line_items]=server_only\
             &return_url=https://shop.test/r&line_items[0][price]={}&line_items[0][quantity]=1",
            recurring["id"].as_str().expect("id")
        ),
    );
    assert_conforms("checkout.session", &preview);
    assert_eq!(preview["permissions"]["update_line_items"], "server_only");
}

#[test]
fn events_and_their_session_conform_without_line_items() {
    let (mut a, id) = seed();
    a.call(
        ENDIVE,
        "POST",
        &format!("/v1/checkout/sessions/{id}/expire"),
        "",
    );
    let events = a.call(ENDIVE, "GET", "/v1/events", "");
    let event = &events["data"][0];
    assert_eq!(event["type"], "checkout.session.expired");
    // The fixture's event carries a plan; ours carries a session, held to the session fixture.
    let by_id = a.call(
        ENDIVE,
        "GET",
        &format!("/v1/events/{}", event["id"].as_str().expect("id")),
        "",
    );
    for event in [event, &by_id] {
        let mut model = reference("event");
        model["data"]["object"] = event["data"]["object"].clone();
        assert_conforms_to("event", event, &model);
        assert_conforms("checkout.session", &event["data"]["object"]);
        assert!(event["data"]["object"].get("line_items").is_none());
    }
}

#[test]
fn includable_fields_are_absent_unless_expanded() {
    let (mut a, id) = seed();
    let path = format!("/v1/checkout/sessions/{id}");
    let items_of = |session: &Value| -> Vec<Map<String, Value>> {
        session["line_items"]["data"]
            .as_array()
            .expect("items")
            .iter()
            .map(keys)
            .collect()
    };

    // Expanding line_items alone does not include the items' taxes or discounts.
    let plain = a.call(ENDIVE, "GET", &path, "expand[]=line_items");
    for item in items_of(&plain) {
        assert!(!item.contains_key("taxes"), "taxes by default: {item:?}");
        assert!(!item.contains_key("discounts"), "discounts by default");
    }
    assert_eq!(plain["line_items"]["data"][0]["amount_tax"], 300 + 124);

    // Each on every session endpoint; the deeper path implies line_items.
    let retrieved = a.call(ENDIVE, "GET", &path, "expand[]=line_items.data.taxes");
    let updated = a.call(
        ENDIVE,
        "POST",
        &path,
        "metadata[step]=2&expand[]=line_items.data.taxes&expand[]=line_items.data.discounts",
    );
    for session in [&retrieved, &updated] {
        let items = items_of(session);
        let taxes = items[0]["taxes"].as_array().expect("taxes");
        assert_eq!(taxes.len(), 2);
        // 1800 including 20 %, then 8.25 % on the net 1500.
        assert_eq!(taxes[0]["amount"], 300);
        assert_eq!(taxes[1]["amount"], 124);
        assert_eq!(taxes[1]["taxable_amount"], 1500);
        assert_eq!(items[1]["taxes"], Value::Array(Vec::new()));
    }
    assert!(!items_of(&retrieved)[0].contains_key("discounts"));
    assert_eq!(items_of(&updated)[0]["discounts"], Value::Array(Vec::new()));

    // The line item list takes the same paths under `data`.
    let list_path = format!("{path}/line_items");
    let list = a.call(ENDIVE, "GET", &list_path, "");
    assert!(!keys(&list["data"][0]).contains_key("taxes"));
    assert!(!keys(&list["data"][0]).contains_key("discounts"));
    let list = a.call(
        ENDIVE,
        "GET",
        &list_path,
        "expand[]=data.taxes&expand[]=data.discounts",
    );
    assert_eq!(list["data"][0]["taxes"][0]["amount"], 300);
    assert_eq!(list["data"][0]["discounts"], Value::Array(Vec::new()));

    let expired = a.call(
        ENDIVE,
        "POST",
        &format!("{path}/expire"),
        "expand[]=line_items.data.discounts",
    );
    assert_eq!(items_of(&expired)[0]["discounts"], Value::Array(Vec::new()));
    assert!(!items_of(&expired)[0].contains_key("taxes"));
}

#[test]
fn the_vendored_fixtures_have_no_includable_fields() {
    // Guards the premise: if Stripe ever made these default, this test (not the emulator) is stale.
    assert!(reference("checkout.session").get("line_items").is_none());
    let item = reference("item");
    assert!(item.get("taxes").is_none() && item.get("discounts").is_none());
    assert!(reference("checkout.session")["total_details"]
        .get("breakdown")
        .is_none());
}
