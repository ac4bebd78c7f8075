//! The fields of each endpoint's body, the valid body a case starts from, and which values the
//! parser might accept: those are only ever sent aimed at nothing real.

use super::case::{Case, Expect};
use super::fixtures::{Fixtures, Target, FOREIGN_PRICES, MISSING_SESSION};
use super::text::{shorten, splice};
use crate::Endpoint;
use serde_json::{json, Value};

/// What a field holds, to tell a value the parser might accept from one it must refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    SessionId,
    LineItemId,
    PriceId,
    Interval,
    Quantity { min: u64 },
    Text,
    OptionalText,
    Country,
    Mode,
    Object,
    Items,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub(super) pointer: &'static str,
    pub(super) kind: Kind,
    pub(super) required: bool,
}

const fn field(pointer: &'static str, kind: Kind, required: bool) -> Field {
    Field {
        pointer,
        kind,
        required,
    }
}

pub(super) fn fields(endpoint: Endpoint) -> &'static [Field] {
    const SESSION: Field = field("/checkout_session_id", Kind::SessionId, true);
    const CHANGE: [Field; 2] = [SESSION, field("/interval", Kind::Interval, true)];
    const QUANTITY: [Field; 3] = [
        SESSION,
        field("/line_item_id", Kind::LineItemId, true),
        field("/quantity", Kind::Quantity { min: 0 }, true),
    ];
    const CROSS_SELL: [Field; 2] = [SESSION, field("/price_id", Kind::PriceId, true)];
    const SHIPPING: [Field; 10] = [
        SESSION,
        field("/shipping_details", Kind::Object, true),
        field("/shipping_details/name", Kind::Text, true),
        field("/shipping_details/address", Kind::Object, true),
        field("/shipping_details/address/line1", Kind::Text, true),
        field("/shipping_details/address/line2", Kind::OptionalText, false),
        field("/shipping_details/address/city", Kind::Text, true),
        field("/shipping_details/address/state", Kind::OptionalText, false),
        field("/shipping_details/address/postal_code", Kind::Text, true),
        field("/shipping_details/address/country", Kind::Country, true),
    ];
    const CREATE: [Field; 7] = [
        field("/items", Kind::Items, true),
        // Without its first item the cart is still a cart: not a required field.
        field("/items/0", Kind::Object, false),
        field("/items/0/price", Kind::PriceId, true),
        field("/items/0/quantity", Kind::Quantity { min: 1 }, true),
        field("/items/1/price", Kind::PriceId, true),
        field("/items/1/quantity", Kind::Quantity { min: 1 }, true),
        field("/mode", Kind::Mode, false),
    ];
    match endpoint {
        Endpoint::ChangeInterval => &CHANGE,
        Endpoint::UpdateQuantity => &QUANTITY,
        Endpoint::AddCrossSell => &CROSS_SELL,
        Endpoint::UpdateShipping => &SHIPPING,
        Endpoint::CreateSession => &CREATE,
        Endpoint::StripeWebhook => &[],
    }
}

/// A body the endpoint would carry out on `target` (for create-session: a cart of catalog
/// prices, or with `target` = the missing session, of prices the catalog does not hold).
pub(super) fn valid_body(endpoint: Endpoint, target: &Target, f: &Fixtures) -> Value {
    let c = &f.catalog;
    match endpoint {
        Endpoint::ChangeInterval => {
            json!({ "checkout_session_id": target.id, "interval": "yearly" })
        }
        Endpoint::UpdateQuantity => json!({
            "checkout_session_id": target.id, "line_item_id": target.item(), "quantity": 3
        }),
        Endpoint::AddCrossSell => json!({ "checkout_session_id": target.id, "price_id": c.mug }),
        Endpoint::UpdateShipping => json!({
            "checkout_session_id": target.id,
            "shipping_details": { "name": "Ada Lovelace", "address": {
                "line1": "1 Main St", "line2": "Apt 1", "city": "Springfield", "state": "CA",
                "postal_code": "94105", "country": "US" } }
        }),
        Endpoint::CreateSession => {
            let (first, second) = if target.id == MISSING_SESSION {
                (FOREIGN_PRICES[0], FOREIGN_PRICES[1])
            } else {
                (c.monthly.as_str(), c.tee.as_str())
            };
            json!({ "items": [ { "price": first, "quantity": 1 }, { "price": second, "quantity": 1 } ],
                    "mode": "subscription" })
        }
        Endpoint::StripeWebhook => Value::Null,
    }
}

/// The answer to a well-formed request that aims at nothing real: the missing session, or a cart
/// of prices outside the catalog.
pub(super) fn harmless_answer(endpoint: Endpoint) -> Expect {
    if endpoint == Endpoint::CreateSession {
        Expect::Exactly(422, "offer_not_available")
    } else {
        Expect::Exactly(404, "session_not_found")
    }
}

fn is_id(text: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        text.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && text.len() <= 255
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
    })
}

fn is_text(text: &str, optional: bool) -> bool {
    let trimmed = text.trim();
    (optional || !trimmed.is_empty())
        && trimmed.chars().count() <= 200
        && !trimmed.chars().any(char::is_control)
}

/// Whether the parser might accept `raw` (JSON text) in a field of `kind`: such a value is only
/// ever sent in a body aimed at nothing real, so that even its acceptance changes nothing.
pub(super) fn maybe_valid(kind: Kind, raw: &str) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(raw) else {
        return false; // the whole body is then not JSON
    };
    match (kind, &value) {
        (Kind::SessionId, Value::String(s)) => is_id(s, &["cs_test_", "cs_live_"]),
        (Kind::LineItemId, Value::String(s)) => is_id(s, &["li_"]),
        (Kind::PriceId, Value::String(s)) => is_id(s, &["price_"]),
        (Kind::Interval, Value::String(s)) => s == "monthly" || s == "yearly",
        (Kind::Quantity { min }, Value::Number(n)) => {
            n.as_u64().is_some_and(|q| (min..=999_999).contains(&q))
        }
        (Kind::Text, Value::String(s)) => is_text(s, false),
        (Kind::OptionalText, Value::String(s)) => is_text(s, true),
        (Kind::OptionalText | Kind::Mode, Value::Null) => true,
        (Kind::Country, Value::String(s)) => {
            let t = s.trim();
            t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase())
        }
        (Kind::Mode, Value::String(s)) => s == "payment" || s == "subscription",
        (Kind::Object, Value::Object(_)) => true,
        (Kind::Items, Value::Array(items)) => (1..=20).contains(&items.len()),
        _ => false,
    }
}

/// One field case: `raw` at `field`, aimed at the session (or cart) the parser must protect when
/// the value is invalid, at nothing real when it might be valid.
pub(super) fn field_case(
    endpoint: Endpoint,
    f: &Fixtures,
    category: &'static str,
    field: &Field,
    raw: &str,
    strict: Expect,
) -> Case {
    let name = format!("{} = {}", field.pointer, shorten(raw));
    if maybe_valid(field.kind, raw) {
        let body = splice(&valid_body(endpoint, &f.missing, f), field.pointer, raw);
        Case::post(endpoint, category, format!("{name} (aimed at nothing)")).body(body)
    } else {
        let body = splice(&valid_body(endpoint, &f.own, f), field.pointer, raw);
        Case::post(endpoint, category, name)
            .body(body)
            .expect(strict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_the_parsers_could_take_count_as_maybe_valid() {
        assert!(maybe_valid(Kind::SessionId, r#""cs_test_abc""#));
        assert!(!maybe_valid(Kind::SessionId, r#""cs_abc""#));
        assert!(!maybe_valid(Kind::SessionId, r#""cs_test_a b""#));
        assert!(maybe_valid(Kind::Quantity { min: 0 }, "0"));
        assert!(!maybe_valid(Kind::Quantity { min: 1 }, "0"));
        assert!(!maybe_valid(Kind::Quantity { min: 0 }, "1.5"));
        assert!(!maybe_valid(Kind::Quantity { min: 0 }, "1e400"));
        assert!(maybe_valid(Kind::Country, r#"" US ""#));
        assert!(!maybe_valid(Kind::Country, r#""us""#));
        assert!(maybe_valid(Kind::OptionalText, "null"));
        assert!(!maybe_valid(Kind::Text, "null"));
        assert!(!maybe_valid(Kind::Text, "\"a\\u0000b\""));
    }
}
