//! Wire bodies -> validated commands ("parse, don't validate").
//!
//! Bodies are read through [`JsonBody`] rather than `#[derive(Deserialize)]` DTOs so every refusal names
//! the exact field (`param`) and says what is wrong with it in words safe to show a shopper.

use crate::commands::{CartAction, Command, NewCartRequest};
use crate::error::Rejection;
use crate::ids::{CheckoutSessionId, LineItemId, PriceId};
use crate::session::{Address, SessionMode};
use crate::terms::Interval;
use serde_json::{Map, Value};

/// Largest body a cart endpoint accepts (413 above it); API Gateway allows more, the cart never
/// needs it.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Refuses a body above `limit` bytes before anything parses it.
pub fn check_size(bytes: &[u8], limit: usize) -> Result<(), Rejection> {
    if bytes.len() > limit {
        return Err(Rejection::PayloadTooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(())
}

/// A request body known to be a JSON object, with typed field accessors.
#[derive(Debug)]
pub struct JsonBody(Map<String, Value>);

impl JsonBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, Rejection> {
        check_size(bytes, MAX_BODY_BYTES)?;
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(Rejection::InvalidJson {
                detail: format!("expected an object, got {}", kind(&other)),
            }),
            Err(e) => Err(Rejection::InvalidJson {
                detail: e.to_string(),
            }),
        }
    }

    /// A required string field.
    pub fn string(&self, field: &str) -> Result<&str, Rejection> {
        match self.0.get(field) {
            Some(Value::String(s)) => Ok(s),
            None | Some(Value::Null) => Err(missing(field)),
            Some(other) => Err(wrong_type(field, "a string", other)),
        }
    }

    /// A required whole number within `range`.
    pub fn integer(
        &self,
        field: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, Rejection> {
        let out_of_range = || {
            Rejection::invalid_field(
                field,
                format!(
                    "`{field}` must be a whole number from {} to {}.",
                    range.start(),
                    range.end()
                ),
            )
        };
        match self.0.get(field) {
            None | Some(Value::Null) => Err(missing(field)),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if range.contains(&v) => Ok(v),
                _ => Err(out_of_range()),
            },
            Some(other) => Err(wrong_type(field, "a number", other)),
        }
    }

    pub fn line_item_id(&self, field: &str) -> Result<LineItemId, Rejection> {
        let raw = self.string(field)?;
        LineItemId::parse(raw).map_err(|e| {
            Rejection::invalid_field(field, format!("`{field}` is not a line item id: it {e}."))
        })
    }

    pub fn session_id(&self, field: &str) -> Result<CheckoutSessionId, Rejection> {
        let raw = self.string(field)?;
        CheckoutSessionId::parse(raw).map_err(|e| {
            Rejection::invalid_field(
                field,
                format!("`{field}` is not a Checkout Session id: it {e}."),
            )
        })
    }
}

/// The refusal of a required field that is absent or null.
fn missing(path: &str) -> Rejection {
    Rejection::invalid_field(path, format!("`{path}` is required."))
}

/// The refusal of a field of another JSON type than `expected` ("a string", "an object", …).
fn wrong_type(path: &str, expected: &str, got: &Value) -> Rejection {
    Rejection::invalid_field(
        path,
        format!("`{path}` must be {expected}, not {}.", kind(got)),
    )
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `POST /change-subscription-interval` `{checkout_session_id, interval: "monthly"|"yearly"}`.
pub fn change_interval(body: &[u8]) -> Result<Command, Rejection> {
    let body = JsonBody::parse(body)?;
    let session_id = body.session_id("checkout_session_id")?;
    let raw = body.string("interval")?;
    let interval = Interval::parse(raw).ok_or_else(|| {
        Rejection::invalid_field("interval", "`interval` must be \"monthly\" or \"yearly\".")
    })?;
    Ok(Command {
        session_id,
        action: CartAction::ChangeInterval(interval),
    })
}

/// Stripe's own ceiling for a line item's quantity.
pub const MAX_QUANTITY: u64 = 999_999;
/// Most distinct items a new cart may hold.
pub const MAX_CART_ITEMS: usize = 20;

/// `POST /checkout-sessions` `{items:[{price, quantity}], mode?}`.
pub fn create_session(body: &[u8]) -> Result<NewCartRequest, Rejection> {
    let body = JsonBody::parse(body)?;
    let items = match body.0.get("items") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_CART_ITEMS => items,
        Some(Value::Array(_)) => {
            return Err(Rejection::invalid_field(
                "items",
                format!("`items` must hold 1 to {MAX_CART_ITEMS} entries."),
            ))
        }
        None | Some(Value::Null) => return Err(missing("items")),
        Some(other) => return Err(wrong_type("items", "an array", other)),
    };
    let mut parsed = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(Rejection::invalid_field(
                format!("items[{n}]"),
                format!("`items[{n}]` must be an object with `price` and `quantity`."),
            ));
        };
        let entry = JsonBody(map.clone());
        let price = entry.string("price").map_err(|e| prefixed(e, n))?;
        let price = PriceId::parse(price).map_err(|e| {
            Rejection::invalid_field(
                format!("items[{n}].price"),
                format!("`items[{n}].price` is not a Price id: it {e}."),
            )
        })?;
        let quantity = entry
            .integer("quantity", 1..=MAX_QUANTITY)
            .map_err(|e| prefixed(e, n))?;
        parsed.push((price, quantity));
    }
    let mode = match body.0.get("mode") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if m == "payment" => Some(SessionMode::Payment),
        Some(Value::String(m)) if m == "subscription" => Some(SessionMode::Subscription),
        Some(_) => {
            return Err(Rejection::invalid_field(
                "mode",
                "`mode` must be \"payment\" or \"subscription\".",
            ))
        }
    };
    Ok(NewCartRequest {
        items: parsed,
        mode,
    })
}

/// Names a field of `items[n]` by its full path.
fn prefixed(rejection: Rejection, n: usize) -> Rejection {
    match rejection {
        Rejection::InvalidField { param, message } => Rejection::InvalidField {
            message: message.replace(&format!("`{param}`"), &format!("`items[{n}].{param}`")),
            param: format!("items[{n}].{param}"),
        },
        other => other,
    }
}

/// `POST /add-cross-sell` `{checkout_session_id, price_id}`.
pub fn add_cross_sell(body: &[u8]) -> Result<Command, Rejection> {
    let body = JsonBody::parse(body)?;
    let session_id = body.session_id("checkout_session_id")?;
    let raw = body.string("price_id")?;
    let price = PriceId::parse(raw).map_err(|e| {
        Rejection::invalid_field("price_id", format!("`price_id` is not a Price id: it {e}."))
    })?;
    Ok(Command {
        session_id,
        action: CartAction::AddOffer(price),
    })
}

/// `POST /update-quantity` `{checkout_session_id, line_item_id, quantity}`; 0 removes the item.
pub fn update_quantity(body: &[u8]) -> Result<Command, Rejection> {
    let body = JsonBody::parse(body)?;
    let session_id = body.session_id("checkout_session_id")?;
    let line_item = body.line_item_id("line_item_id")?;
    let quantity = body.integer("quantity", 0..=MAX_QUANTITY)?;
    Ok(Command {
        session_id,
        action: CartAction::SetQuantity {
            line_item,
            quantity,
        },
    })
}

/// Longest shipping name or address line accepted (Stripe's own limit for address fields is
/// larger; nothing real needs more).
pub const MAX_ADDRESS_FIELD: usize = 200;

/// An object field of `map`, named `path` in refusals.
fn object<'a>(
    map: &'a Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, Rejection> {
    match map.get(field) {
        Some(Value::Object(inner)) => Ok(inner),
        None | Some(Value::Null) => Err(missing(path)),
        Some(other) => Err(wrong_type(path, "an object", other)),
    }
}

/// A text field of `map` named `path`: trimmed, 1 to [`MAX_ADDRESS_FIELD`] characters; absent
/// (or empty) is `None`.
fn text(map: &Map<String, Value>, field: &str, path: &str) -> Result<Option<String>, Rejection> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.chars().count() > MAX_ADDRESS_FIELD {
                return Err(Rejection::invalid_field(
                    path,
                    format!("`{path}` must be at most {MAX_ADDRESS_FIELD} characters."),
                ));
            }
            if trimmed.chars().any(char::is_control) {
                return Err(Rejection::invalid_field(
                    path,
                    format!("`{path}` must not contain control characters."),
                ));
            }
            Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
        }
        Some(other) => Err(wrong_type(path, "a string", other)),
    }
}

fn required_text(map: &Map<String, Value>, field: &str, path: &str) -> Result<String, Rejection> {
    text(map, field, path)?.ok_or_else(|| missing(path))
}

/// `POST /update-shipping-details`
/// `{checkout_session_id, shipping_details:{name, address:{line1, line2?, city, state?, postal_code, country}}}`.
pub fn update_shipping(body: &[u8]) -> Result<Command, Rejection> {
    let body = JsonBody::parse(body)?;
    let session_id = body.session_id("checkout_session_id")?;
    let details = object(&body.0, "shipping_details", "shipping_details")?;
    let name = required_text(details, "name", "shipping_details.name")?;
    let address = object(details, "address", "shipping_details.address")?;
    let field = |name: &str| format!("shipping_details.address.{name}");
    let country = required_text(address, "country", &field("country"))?;
    if !crate::catalog::is_country_code(&country) {
        return Err(Rejection::invalid_field(
            field("country"),
            format!(
                "`{}` must be a two-letter ISO country code in capitals, like \"US\".",
                field("country")
            ),
        ));
    }
    let address = Address {
        line1: required_text(address, "line1", &field("line1"))?,
        line2: text(address, "line2", &field("line2"))?,
        city: Some(required_text(address, "city", &field("city"))?),
        state: text(address, "state", &field("state"))?,
        postal_code: Some(required_text(
            address,
            "postal_code",
            &field("postal_code"),
        )?),
        country,
    };
    Ok(Command {
        session_id,
        action: CartAction::SetShipping { name, address },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn param_of(r: Rejection) -> String {
        match r {
            Rejection::InvalidField { param, .. } => param,
            other => panic!("expected InvalidField, got {other:?}"),
        }
    }

    #[test]
    fn a_well_formed_body_becomes_a_command() {
        let cmd = change_interval(br#"{"checkout_session_id":"cs_test_abc","interval":"yearly"}"#)
            .unwrap();
        assert_eq!(cmd.session_id.as_str(), "cs_test_abc");
        assert_eq!(cmd.action, CartAction::ChangeInterval(Interval::Yearly));
    }

    #[test]
    fn unknown_extra_fields_are_ignored() {
        assert!(change_interval(
            br#"{"checkout_session_id":"cs_test_abc","interval":"monthly","session":{}}"#
        )
        .is_ok());
    }

    #[test]
    fn bad_json_and_non_objects_are_invalid_json() {
        for body in [&b"{"[..], b"", b"[]", b"\"x\"", b"null", b"\xff\xfe"] {
            assert!(
                matches!(change_interval(body), Err(Rejection::InvalidJson { .. })),
                "{body:?}"
            );
        }
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert!(matches!(
            change_interval(big.as_bytes()),
            Err(Rejection::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
                ..
            })
        ));
        // Not even looked at: garbage of that size is too large, not invalid JSON.
        assert!(matches!(
            update_quantity(&[b'['; MAX_BODY_BYTES + 1]),
            Err(Rejection::PayloadTooLarge { .. })
        ));
        // Exactly at the limit it is parsed.
        let at_limit = format!(
            r#"{{"checkout_session_id":"cs_test_a","interval":"yearly","pad":"{}"}}"#,
            "x".repeat(MAX_BODY_BYTES - 64)
        );
        assert_eq!(at_limit.len(), MAX_BODY_BYTES);
        assert!(change_interval(at_limit.as_bytes()).is_ok());
        assert!(check_size(&[0; 8], 8).is_ok());
        assert!(check_size(&[0; 9], 8).is_err());
    }

    #[test]
    fn update_quantity_wants_a_line_item_and_a_whole_quantity() {
        let ok = update_quantity(
            br#"{"checkout_session_id":"cs_test_a","line_item_id":"li_1","quantity":0}"#,
        )
        .unwrap();
        assert!(matches!(
            ok.action,
            CartAction::SetQuantity { quantity: 0, .. }
        ));
        for (body, param) in [
            (
                &br#"{"checkout_session_id":"cs_test_a","quantity":2}"#[..],
                "line_item_id",
            ),
            (
                br#"{"checkout_session_id":"cs_test_a","line_item_id":"price_1","quantity":2}"#,
                "line_item_id",
            ),
            (
                br#"{"checkout_session_id":"cs_test_a","line_item_id":"li_1","quantity":-1}"#,
                "quantity",
            ),
            (
                br#"{"checkout_session_id":"cs_test_a","line_item_id":"li_1","quantity":1.5}"#,
                "quantity",
            ),
            (
                br#"{"checkout_session_id":"cs_test_a","line_item_id":"li_1","quantity":"2"}"#,
                "quantity",
            ),
            (
                br#"{"checkout_session_id":"cs_test_a","line_item_id":"li_1","quantity":1000000}"#,
                "quantity",
            ),
            (
                br#"{"checkout_session_id":"cs_test_a","line_item_id":"li_1"}"#,
                "quantity",
            ),
        ] {
            assert_eq!(param_of(update_quantity(body).unwrap_err()), param);
        }
    }

    #[test]
    fn add_cross_sell_wants_a_price_id() {
        assert!(
            add_cross_sell(br#"{"checkout_session_id":"cs_test_a","price_id":"price_m"}"#).is_ok()
        );
        for (body, param) in [
            (&br#"{"checkout_session_id":"cs_test_a"}"#[..], "price_id"),
            (
                br#"{"checkout_session_id":"cs_test_a","price_id":"prod_1"}"#,
                "price_id",
            ),
            (br#"{"price_id":"price_m"}"#, "checkout_session_id"),
        ] {
            assert_eq!(param_of(add_cross_sell(body).unwrap_err()), param);
        }
    }

    #[test]
    fn update_shipping_wants_a_name_and_a_full_address() {
        let ok = update_shipping(
            br#"{"checkout_session_id":"cs_test_a","shipping_details":{"name":" Ada ","address":
                {"line1":"1 Main St","city":"Springfield","state":"CA","postal_code":"94000","country":"US"}}}"#,
        )
        .unwrap();
        let CartAction::SetShipping { name, address } = ok.action else {
            panic!("expected SetShipping");
        };
        assert_eq!(name, "Ada");
        assert_eq!(address.country, "US");
        assert_eq!(address.state.as_deref(), Some("CA"));
        assert_eq!(address.line2, None);
        let long = "x".repeat(MAX_ADDRESS_FIELD + 1);
        let body = |details: &str| {
            format!(r#"{{"checkout_session_id":"cs_test_a","shipping_details":{details}}}"#)
        };
        let address = |fields: &str| body(&format!(r#"{{"name":"Ada","address":{{{fields}}}}}"#));
        let full = r#""line1":"1 Main","city":"X","postal_code":"1","country":"US""#;
        for (raw, param) in [
            (
                r#"{"checkout_session_id":"cs_test_a"}"#.to_owned(),
                "shipping_details",
            ),
            (body("[]"), "shipping_details"),
            (body(r#"{"address":{}}"#), "shipping_details.name"),
            (
                body(r#"{"name":"  ","address":{}}"#),
                "shipping_details.name",
            ),
            (
                body(&format!(r#"{{"name":"{long}","address":{{}}}}"#)),
                "shipping_details.name",
            ),
            (body(r#"{"name":"Ada"}"#), "shipping_details.address"),
            (
                address(r#""line1":"1 Main","city":"X","postal_code":"1""#),
                "shipping_details.address.country",
            ),
            (
                address(r#""line1":"1 Main","city":"X","postal_code":"1","country":"us""#),
                "shipping_details.address.country",
            ),
            (
                address(r#""line1":"1 Main","city":"X","postal_code":"1","country":"USA""#),
                "shipping_details.address.country",
            ),
            (
                address(r#""city":"X","postal_code":"1","country":"US""#),
                "shipping_details.address.line1",
            ),
            (
                address(r#""line1":"1 Main","postal_code":"1","country":"US""#),
                "shipping_details.address.city",
            ),
            (
                address(r#""line1":"1 Main","city":"X","country":"US""#),
                "shipping_details.address.postal_code",
            ),
            (
                address(&format!(r#"{full},"line2":"{long}""#)),
                "shipping_details.address.line2",
            ),
            (
                address(&format!(r#"{full},"state":7"#)),
                "shipping_details.address.state",
            ),
            (
                address(&format!(r#"{full},"line2":"a\u0000b""#)),
                "shipping_details.address.line2",
            ),
        ] {
            assert_eq!(
                param_of(update_shipping(raw.as_bytes()).unwrap_err()),
                param,
                "{raw}"
            );
        }
    }

    #[test]
    fn create_session_names_the_bad_item_field() {
        let ok =
            create_session(br#"{"items":[{"price":"price_a","quantity":2}],"mode":"payment"}"#)
                .unwrap();
        assert_eq!(ok.items[0].1, 2);
        for (body, param) in [
            (&br#"{}"#[..], "items"),
            (br#"{"items":[]}"#, "items"),
            (br#"{"items":{}}"#, "items"),
            (br#"{"items":[1]}"#, "items[0]"),
            (br#"{"items":[{"quantity":1}]}"#, "items[0].price"),
            (
                br#"{"items":[{"price":"prod_1","quantity":1}]}"#,
                "items[0].price",
            ),
            (
                br#"{"items":[{"price":"price_1","quantity":0}]}"#,
                "items[0].quantity",
            ),
            (
                br#"{"items":[{"price":"price_1","quantity":1}],"mode":"setup"}"#,
                "mode",
            ),
        ] {
            assert_eq!(param_of(create_session(body).unwrap_err()), param);
        }
        let many: Vec<String> = (0..21)
            .map(|n| format!(r#"{{"price":"price_{n}","quantity":1}}"#))
            .collect();
        let body = format!(r#"{{"items":[{}]}}"#, many.join(","));
        assert_eq!(
            param_of(create_session(body.as_bytes()).unwrap_err()),
            "items"
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: [(&[u8], &str); 6] = [
            (br#"{"interval":"yearly"}"#, "checkout_session_id"),
            (
                br#"{"checkout_session_id":42,"interval":"yearly"}"#,
                "checkout_session_id",
            ),
            (
                br#"{"checkout_session_id":"sess_1","interval":"yearly"}"#,
                "checkout_session_id",
            ),
            (br#"{"checkout_session_id":"cs_test_abc"}"#, "interval"),
            (
                br#"{"checkout_session_id":"cs_test_abc","interval":"weekly"}"#,
                "interval",
            ),
            (
                br#"{"checkout_session_id":"cs_test_abc","interval":["yearly"]}"#,
                "interval",
            ),
        ];
        for (body, param) in cases {
            assert_eq!(param_of(change_interval(body).unwrap_err()), param);
        }
    }

    #[test]
    fn deep_nesting_is_invalid_json_not_a_stack_overflow() {
        let deep = "[".repeat(10_000);
        let deep_object = r#"{"a":"#.repeat(3_000);
        for body in [deep.as_bytes(), deep_object.as_bytes()] {
            for parse in PARSERS {
                assert!(matches!(parse(body), Err(Rejection::InvalidJson { .. })));
            }
        }
    }

    type AnyParser = fn(&[u8]) -> Result<(), Rejection>;

    /// Every request parser, its result reduced to what the property checks.
    const PARSERS: [AnyParser; 5] = [
        |b| change_interval(b).map(drop),
        |b| create_session(b).map(drop),
        |b| add_cross_sell(b).map(drop),
        |b| update_quantity(b).map(drop),
        |b| update_shipping(b).map(drop),
    ];

    /// A valid body of each parser, in the order of [`PARSERS`].
    fn valid_bodies() -> [Value; 5] {
        let address = serde_json::json!({ "name": "Ada", "address": {
            "line1": "1 Main St", "city": "Springfield", "postal_code": "94105", "country": "US" } });
        [
            serde_json::json!({ "checkout_session_id": "cs_test_a", "interval": "yearly" }),
            serde_json::json!({ "items": [{ "price": "price_a", "quantity": 1 }], "mode": "payment" }),
            serde_json::json!({ "checkout_session_id": "cs_test_a", "price_id": "price_m" }),
            serde_json::json!({ "checkout_session_id": "cs_test_a", "line_item_id": "li_1", "quantity": 2 }),
            serde_json::json!({ "checkout_session_id": "cs_test_a", "shipping_details": address }),
        ]
    }

    /// Field names the parsers read, and a few they do not.
    const FIELDS: [&str; 20] = [
        "checkout_session_id",
        "interval",
        "line_item_id",
        "quantity",
        "price_id",
        "items",
        "price",
        "mode",
        "shipping_details",
        "name",
        "address",
        "line1",
        "line2",
        "city",
        "state",
        "postal_code",
        "country",
        "__proto__",
        "$ne",
        "",
    ];

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("cs_test_a".to_owned()),
            Just("cs_".to_owned()),
            Just("li_1".to_owned()),
            Just("price_a".to_owned()),
            Just("monthly".to_owned()),
            Just("payment".to_owned()),
            Just("US".to_owned()),
            Just("' OR 1=1--".to_owned()),
            Just("${7*7}".to_owned()),
            Just("cs_test_\u{0}".to_owned()),
            "[a-z_]{0,12}",
            any::<String>(),
            "\\PC{0,300}",
        ]
    }

    fn arb_number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (0u64..8).prop_map(Value::from),
            any::<f64>().prop_map(Value::from), // NaN and infinities become null
            Just(serde_json::json!(1e300)),
            Just(serde_json::json!(-0.0)),
            Just(serde_json::json!(2.5)),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            arb_number(),
            arb_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                proptest::sample::select(&FIELDS[..]).prop_map(str::to_owned),
                any::<String>(),
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((key, inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    /// A valid body with one field, at any depth, replaced by `value` (or removed, or renamed).
    fn splice(body: &mut Value, path: &[usize], value: Value, edit: u8) {
        let Some((&first, rest)) = path.split_first() else {
            *body = value;
            return;
        };
        match body {
            Value::Object(map) if !map.is_empty() => {
                let key = map
                    .keys()
                    .nth(first % map.len())
                    .cloned()
                    .unwrap_or_default();
                if rest.is_empty() && edit == 1 {
                    map.remove(&key);
                } else if rest.is_empty() && edit == 2 {
                    if let Some(moved) = map.remove(&key) {
                        map.insert(format!("{key}_"), moved);
                    }
                } else if let Some(inner) = map.get_mut(&key) {
                    splice(inner, rest, value, edit);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let n = first % items.len();
                splice(&mut items[n], rest, value, edit);
            }
            other => *other = value,
        }
    }

    /// Every refusal says what was wrong (for the logs; the runtime maps each variant to a
    /// 4xx, pinned by its `every_rejection_is_a_4xx` test).
    fn assert_refusal_is_4xx(result: Result<(), Rejection>) -> Result<(), TestCaseError> {
        if let Err(rejection) = result {
            prop_assert!(!rejection.to_string().is_empty(), "{rejection:?}");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_are_refused_with_a_4xx(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            for parse in PARSERS {
                assert_refusal_is_4xx(parse(&bytes))?;
            }
        }

        #[test]
        fn arbitrary_json_never_panics_and_is_refused_with_a_4xx(
            value in arb_json(),
            cut in any::<prop::sample::Index>(),
        ) {
            let text = value.to_string();
            let truncated = &text.as_bytes()[..cut.index(text.len() + 1)];
            for parse in PARSERS {
                assert_refusal_is_4xx(parse(text.as_bytes()))?;
                assert_refusal_is_4xx(parse(truncated))?;
            }
        }

        #[test]
        fn valid_bodies_with_a_hostile_field_never_panic_and_are_refused_with_a_4xx(
            which in 0usize..5,
            path in proptest::collection::vec(any::<usize>(), 0..5),
            value in arb_json(),
            edit in 0u8..3,
        ) {
            let mut body = valid_bodies()[which].clone();
            splice(&mut body, &path, value, edit);
            let text = body.to_string();
            assert_refusal_is_4xx(PARSERS[which](text.as_bytes()))?;
            // With the field duplicated: serde_json keeps the last.
            let doubled = text.replacen('{', &format!("{{{}:1,", serde_json::json!(FIELDS[path.len() % FIELDS.len()])), 1);
            assert_refusal_is_4xx(PARSERS[which](doubled.as_bytes()))?;
        }
    }

    #[test]
    fn the_valid_bodies_are_valid() {
        for (parse, body) in PARSERS.iter().zip(valid_bodies()) {
            assert_eq!(parse(body.to_string().as_bytes()), Ok(()), "{body}");
        }
    }
}
