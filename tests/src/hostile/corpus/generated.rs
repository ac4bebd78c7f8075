//! The generated corpus: seeded random cases (random values in fields, dropped, renamed or repeated
//! fields, cut bodies, any JSON, random bytes; for the webhook, payloads under a signature that is
//! never theirs). The same seed gives the same cases.

use super::case::Case;
use super::fields::{fields, maybe_valid, valid_body};
use super::fixtures::Fixtures;
use super::text::{base64, quoted, shorten, splice, without};
use crate::{Endpoint, Rng};
use serde_json::Value;

const GENERATED_KEYS: [&str; 16] = [
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
    "country",
    "__proto__",
    "$ne",
    "",
    "id",
];

const GENERATED_STRINGS: [&str; 16] = [
    "",
    " ",
    "cs_test_hostileGenerated",
    "cs_",
    "li_1",
    "price_1",
    "monthly",
    "yearly",
    "payment",
    "US",
    "' OR 1=1--",
    "${7*7}",
    "{{7*7}}",
    "__proto__",
    "evt_1",
    "checkout.session.completed",
];

const GENERATED_NUMBERS: [&str; 20] = [
    "0",
    "1",
    "-1",
    "2",
    "5",
    "999999",
    "1000000",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "1e400",
    "-1e400",
    "1.5",
    "-0",
    "0.0",
    "1E2",
    "1e-400",
    "123456789012345678901234567890",
    "3.0000000000000001",
];

/// A random string as JSON text: plain, control characters, escapes (lone surrogates included),
/// non-ASCII, long.
fn random_string(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => quoted(rng.pick(&GENERATED_STRINGS).copied().unwrap_or_default()),
        1 => {
            let len = rng.below(24);
            let text: String = (0..len)
                .map(|_| {
                    let code = match rng.below(4) {
                        0 => rng.below(0x20),
                        1 => 0x20 + rng.below(0x5f),
                        2 => 0x80 + rng.below(0x780),
                        _ => rng.below(0x11_0000),
                    };
                    char::from_u32(u32::try_from(code).unwrap_or(0)).unwrap_or('\u{fffd}')
                })
                .collect();
            quoted(&text)
        }
        2 => {
            let escapes = [
                r"\u0000",
                r"\ud800",
                r"\udfff",
                r"\ud83d\ude00",
                r"\n",
                r"\\",
                r#"\""#,
                r"\/",
            ];
            let n = 1 + rng.below(4);
            let body: String = (0..n)
                .map(|_| rng.pick(&escapes).copied().unwrap_or_default())
                .collect();
            format!("\"{body}\"")
        }
        3 => quoted(&"a".repeat(rng.below(2_000))),
        4 => {
            let prefix = rng
                .pick(&["cs_test_", "cs_live_", "li_", "price_", "evt_"])
                .copied()
                .unwrap_or_default();
            let suffix = rng.pick(&GENERATED_STRINGS).copied().unwrap_or_default();
            quoted(&format!("{prefix}{suffix}"))
        }
        _ => quoted(&format!("x{}", rng.next_u64())),
    }
}

/// A random JSON value as text (it may not parse: 1e400, lone surrogates).
fn random_json(rng: &mut Rng, depth: usize) -> String {
    let choice = if depth == 0 {
        rng.below(5)
    } else {
        rng.below(8)
    };
    match choice {
        0 => "null".into(),
        1 => if rng.chance(50) { "true" } else { "false" }.into(),
        2 => rng.pick(&GENERATED_NUMBERS).copied().unwrap_or("0").into(),
        3 => format!("{}", i64::from_ne_bytes(rng.next_u64().to_ne_bytes())),
        4 => random_string(rng),
        5 => {
            let n = rng.below(5);
            let items: Vec<String> = (0..n).map(|_| random_json(rng, depth - 1)).collect();
            format!("[{}]", items.join(","))
        }
        6 => {
            let n = rng.below(5);
            let fields: Vec<String> = (0..n)
                .map(|_| {
                    let key = if rng.chance(70) {
                        quoted(rng.pick(&GENERATED_KEYS).copied().unwrap_or_default())
                    } else {
                        random_string(rng)
                    };
                    format!("{key}:{}", random_json(rng, depth - 1))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        _ => {
            let n = 100 + rng.below(300);
            format!("{}{}", "[".repeat(n), "]".repeat(n))
        }
    }
}

const BAD_CONTENT_TYPES: [&str; 5] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/json; charset=utf-16",
];

pub(crate) fn generated_case(rng: &mut Rng, n: usize, f: &Fixtures) -> Case {
    let endpoint = Endpoint::ALL[n % Endpoint::ALL.len()];
    let mut case = if endpoint == Endpoint::StripeWebhook {
        generated_webhook_case(rng, n, f)
    } else {
        generated_cart_case(rng, n, endpoint, f)
    };
    if rng.chance(10) {
        let content_type = rng.pick(&BAD_CONTENT_TYPES).copied().unwrap_or_default();
        case = case
            .content_type(Some(content_type.as_bytes()))
            .exactly(415, "unsupported_media_type");
        case.name = format!("{} as {content_type}", case.name);
    }
    case
}

fn generated_cart_case(rng: &mut Rng, n: usize, endpoint: Endpoint, f: &Fixtures) -> Case {
    let own = valid_body(endpoint, &f.own, f);
    let missing = valid_body(endpoint, &f.missing, f);
    let all = fields(endpoint);
    let Some(field) = rng.pick(all).copied() else {
        return Case::post(endpoint, "generated", format!("#{n}: no fields"));
    };
    let case = |name: String, body: String| {
        Case::post(endpoint, "generated", format!("#{n}: {name}")).body(body)
    };
    match rng.below(8) {
        // A random value in a field (at any depth of the body).
        0..=2 => {
            let raw = random_json(rng, 3);
            let base = if maybe_valid(field.kind, &raw) {
                &missing
            } else {
                &own
            };
            case(
                format!("{} = {}", field.pointer, shorten(&raw)),
                splice(base, field.pointer, &raw),
            )
        }
        // A field dropped or renamed.
        3 => {
            let base = if field.required { &own } else { &missing };
            let renamed = format!("{}_", field.pointer.rsplit('/').next().unwrap_or_default());
            let rename = rng.chance(50).then_some(renamed.as_str());
            let verb = if rename.is_some() {
                "renamed"
            } else {
                "dropped"
            };
            case(
                format!("{} {verb}", field.pointer),
                without(base, field.pointer, rename),
            )
        }
        // A top-level field repeated last (the last one counts) with a random value.
        4 => {
            let top = all
                .iter()
                .filter(|f| f.pointer.matches('/').count() == 1)
                .collect::<Vec<_>>();
            let chosen = rng.pick(&top).map_or(field, |f| **f);
            let raw = random_json(rng, 2);
            let base = if maybe_valid(chosen.kind, &raw) {
                &missing
            } else {
                &own
            };
            let text = base.to_string();
            let open = text.get(..text.len().saturating_sub(1)).unwrap_or_default();
            let key = chosen.pointer.trim_start_matches('/');
            case(
                format!("{key} repeated as {}", shorten(&raw)),
                format!("{open},\"{key}\":{raw}}}"),
            )
        }
        // The valid body cut short.
        5 => {
            let text = own.to_string();
            let at = rng.below(text.len());
            case(
                format!("cut at byte {at}"),
                text.get(..at).unwrap_or_default().to_owned(),
            )
            .exactly(400, "invalid_json")
        }
        // Any JSON at all.
        6 => {
            let raw = random_json(rng, 3);
            let name = format!("the body {}", shorten(&raw));
            // Random keys can spell a well-formed request: only ever for nothing real.
            case(name, raw)
        }
        // Random bytes, as API Gateway hands over a binary body.
        _ => {
            let len = rng.below(300);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect();
            case(format!("{len} random bytes, base64"), base64(&bytes)).invoke(true)
        }
    }
}

fn generated_webhook_case(rng: &mut Rng, n: usize, f: &Fixtures) -> Case {
    const POINTERS: [&str; 7] = [
        "/id",
        "/type",
        "/data",
        "/data/object",
        "/data/object/id",
        "/data/object/metadata",
        "/data/object/metadata/cart_reservation",
    ];
    let event: Value = serde_json::from_str(&f.event).unwrap_or_default();
    let (name, body) = match rng.below(3) {
        0 => {
            let pointer = rng.pick(&POINTERS).copied().unwrap_or("/id");
            let raw = random_json(rng, 3);
            (
                format!("{pointer} = {}", shorten(&raw)),
                splice(&event, pointer, &raw),
            )
        }
        1 => {
            let at = rng.below(f.event.len());
            (
                format!("event cut at byte {at}"),
                f.event.get(..at).unwrap_or_default().to_owned(),
            )
        }
        _ => {
            let raw = random_json(rng, 3);
            (format!("the body {}", shorten(&raw)), raw)
        }
    };
    // Never a signature of this body: one of another payload, of another secret, stale, garbled.
    let labels = ["another payload", "wrong secret", "a day old", "t=i64::MIN"];
    let (label, header) = if rng.chance(15) {
        (
            "random header",
            random_string(rng).trim_matches('"').to_owned(),
        )
    } else {
        let label = rng.pick(&labels).copied().unwrap_or("another payload");
        (label, f.signatures.get(label).cloned().unwrap_or_default())
    };
    let header: Vec<u8> = header
        .bytes()
        .filter(|b| (0x20..0x7f).contains(b))
        .collect();
    Case::post(
        Endpoint::StripeWebhook,
        "generated",
        format!("#{n}: {name}, signature: {label}"),
    )
    .body(body)
    .header("Stripe-Signature", header)
    .exactly(400, "invalid_signature")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_seeded() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        let one: Vec<String> = (0..50).map(|_| random_json(&mut a, 3)).collect();
        let two: Vec<String> = (0..50).map(|_| random_json(&mut b, 3)).collect();
        assert_eq!(one, two);
    }
}
