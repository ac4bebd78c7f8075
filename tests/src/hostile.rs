//! The hostile corpus: every HTTP endpoint of a running [`Stack`] is sent a fixed corpus of
//! malformed, malicious and out-of-place requests plus `generated` seeded random ones, through the
//! function URLs of `cargo lambda watch` and, for what only API Gateway can send (base64 bodies,
//! control characters in headers), as API Gateway HTTP API (payload 2.0) events through the Lambda
//! Invoke API.
//!
//! Each answer must be a 4xx `{"type":"error","code":…,"message":…}` with a code of the taxonomy
//! and a message free of internals; most cases also name the exact status and code. After the whole
//! corpus nothing may have changed: no Stripe write to a Checkout Session, the sessions used
//! byte-identical, the inventory table (stock and holds) identical; and no function log may hold a
//! secret (the Stripe key, the webhook signing secret, a session's `client_secret`).
//!
//! Used by `tests/tests/hostile.rs` and by the `reliability` command.

use crate::{
    agent, Result, Rng, Stack, MUG_SKU, PREVIEW_VERSION, SECRET_KEY, TEE_SKU, WEBHOOK_SECRET,
};
use cart_runtime::http::ErrorCode;
use cart_runtime::http::MAX_WEBHOOK_BODY_BYTES;
use cart_validation::request::MAX_BODY_BYTES;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Largest body of a cart endpoint and of the webhook.
const CART_LIMIT: usize = MAX_BODY_BYTES;
const WEBHOOK_LIMIT: usize = MAX_WEBHOOK_BODY_BYTES;

/// A session id of the right shape that Stripe does not know.
const MISSING_SESSION: &str = "cs_test_hostileSessionThatDoesNotExist0000";
const MISSING_ITEM: &str = "li_hostileItemThatDoesNotExist0";
/// Well-formed prices the catalog does not hold (a cart of them is refused, never created).
const FOREIGN_PRICES: [&str; 2] = ["price_hostileNotInCatalog1", "price_hostileNotInCatalog2"];

/// Fragments an error message must never carry: runtime and library internals, Stripe's own
/// texts, secrets, and the hostile inputs themselves echoed back.
const FORBIDDEN_IN_MESSAGES: [&str; 27] = [
    "panicked",
    "backtrace",
    ".rs:",
    "src/",
    "Stripe",
    "stripe",
    "sk_test",
    "rk_",
    "whsec",
    "_secret_",
    "No such",
    "resource_missing",
    "invalid_request_error",
    "Dynamo",
    "ConditionalCheck",
    "Traceback",
    "Error {",
    "Error(",
    "at line",
    "column",
    "OR 1=1",
    "${",
    "{{",
    "<script",
    "$ne",
    "__proto__",
    "\u{0}",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Endpoint {
    function: &'static str,
    route: &'static str,
    limit: usize,
}

const CHANGE_INTERVAL: Endpoint = Endpoint {
    function: "change-interval",
    route: "/change-subscription-interval",
    limit: CART_LIMIT,
};
const UPDATE_QUANTITY: Endpoint = Endpoint {
    function: "update-quantity",
    route: "/update-quantity",
    limit: CART_LIMIT,
};
const ADD_CROSS_SELL: Endpoint = Endpoint {
    function: "add-cross-sell",
    route: "/add-cross-sell",
    limit: CART_LIMIT,
};
const UPDATE_SHIPPING: Endpoint = Endpoint {
    function: "update-shipping",
    route: "/update-shipping-details",
    limit: CART_LIMIT,
};
const CREATE_SESSION: Endpoint = Endpoint {
    function: "create-session",
    route: "/checkout-sessions",
    limit: CART_LIMIT,
};
const STRIPE_WEBHOOK: Endpoint = Endpoint {
    function: "stripe-webhook",
    route: "/stripe-webhook",
    limit: WEBHOOK_LIMIT,
};
/// The endpoints that change an existing session.
const SESSION_ENDPOINTS: [Endpoint; 4] = [
    CHANGE_INTERVAL,
    UPDATE_QUANTITY,
    ADD_CROSS_SELL,
    UPDATE_SHIPPING,
];
const CART_ENDPOINTS: [Endpoint; 5] = [
    CHANGE_INTERVAL,
    UPDATE_QUANTITY,
    ADD_CROSS_SELL,
    UPDATE_SHIPPING,
    CREATE_SESSION,
];

// --- cases ----------------------------------------------------------------------------------------

/// What a case must be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Any 4xx error of the taxonomy.
    Refused,
    /// This status and code.
    Exactly(u16, &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// The function URL of `cargo lambda watch`.
    Url,
    /// An API Gateway HTTP API event through the Invoke API; the body goes in verbatim (already
    /// base64 when `base64`).
    Invoke { base64: bool },
}

#[derive(Debug, Clone)]
struct Case {
    endpoint: Endpoint,
    category: &'static str,
    name: String,
    method: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    transport: Transport,
    expect: Expect,
}

impl Case {
    /// A JSON POST to `endpoint`.
    fn post(endpoint: Endpoint, category: &'static str, name: impl Into<String>) -> Self {
        Self {
            endpoint,
            category,
            name: name.into(),
            method: "POST",
            headers: vec![("Content-Type".into(), b"application/json".to_vec())],
            body: Vec::new(),
            transport: Transport::Url,
            expect: Expect::Refused,
        }
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    fn exactly(self, status: u16, code: &'static str) -> Self {
        self.expect(Expect::Exactly(status, code))
    }

    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Replaces (or, with `None`, removes) the Content-Type.
    fn content_type(mut self, value: Option<&[u8]>) -> Self {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        if let Some(value) = value {
            self.headers
                .insert(0, ("Content-Type".into(), value.to_vec()));
        }
        self
    }

    fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    fn invoke(mut self, base64: bool) -> Self {
        self.transport = Transport::Invoke { base64 };
        self
    }
}

// --- the sessions the corpus aims at ---------------------------------------------------------------

/// A session and its line item ids, in order.
#[derive(Debug, Clone)]
struct Target {
    id: String,
    items: Vec<String>,
    reservation: String,
}

impl Target {
    fn missing() -> Self {
        Self {
            id: MISSING_SESSION.into(),
            items: vec![MISSING_ITEM.into(), MISSING_ITEM.into()],
            reservation: "rsv_hostileMissing".into(),
        }
    }

    /// The second item (the T-shirt), else the first.
    fn item(&self) -> &str {
        self.items
            .get(1)
            .or_else(|| self.items.first())
            .map_or(MISSING_ITEM, String::as_str)
    }
}

#[derive(Debug)]
struct Fixtures {
    catalog: crate::Catalog,
    /// Created through create-session: the plan monthly and 2 T-shirts (held).
    own: Target,
    expired: Target,
    completed: Target,
    /// Sessions of another integration (label, session): refused with 409 even when well-formed.
    foreign: Vec<(&'static str, Target)>,
    missing: Target,
    /// Every `client_secret` seen; none may appear in a log.
    client_secrets: BTreeSet<String>,
    /// Precomputed `Stripe-Signature` headers (label → value), and the event they sign.
    signatures: BTreeMap<&'static str, String>,
    event: String,
}

impl Fixtures {
    fn sessions(&self) -> Vec<&Target> {
        let mut all = vec![&self.own, &self.expired, &self.completed];
        all.extend(self.foreign.iter().map(|(_, t)| t));
        all
    }
}

fn session_target(stack: &Stack, session: &Value) -> Result<Target> {
    let id = session["id"].as_str().ok_or("session id")?.to_owned();
    let full = stack.stripe.session(&id)?;
    Ok(Target {
        items: crate::line_item_ids(&full),
        reservation: full["metadata"]["cart_reservation"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        id,
    })
}

/// A session through create-session (so owned by the app, its stock held): the plan monthly and
/// `tees` T-shirts, or stickers when none.
fn created(stack: &Stack, tees: i64, secrets: &mut BTreeSet<String>) -> Result<Target> {
    let c = &stack.catalog;
    let second = if tees > 0 {
        (c.tee.as_str(), tees)
    } else {
        (c.sticker.as_str(), 1)
    };
    let reply = stack.create_cart(&[(&c.monthly, 1), second], None)?;
    if reply.status != 200 {
        return Err(format!("create-session: {} {}", reply.status, reply.body).into());
    }
    if let Some(secret) = reply.body["session"]["client_secret"].as_str() {
        secrets.insert(secret.to_owned());
    }
    session_target(stack, &reply.body["session"])
}

/// A session made straight in the emulator, as another integration of the account would.
fn foreign(stack: &Stack, ui_mode: &str, extra: &[(&str, &str)]) -> Result<Target> {
    let c = &stack.catalog;
    let mut form = vec![
        ("mode", "subscription"),
        ("ui_mode", ui_mode),
        ("line_items[0][price]", c.monthly.as_str()),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", c.tee.as_str()),
        ("line_items[1][quantity]", "1"),
    ];
    form.extend_from_slice(extra);
    let created = stack
        .stripe
        .create("/v1/checkout/sessions", &form, stack.api_version)?;
    session_target(stack, &created)
}

fn setup(stack: &Stack) -> Result<Fixtures> {
    // Stock for the carts (2 T-shirts a run) and for offers that would be taken if accepted.
    for sku in [TEE_SKU, MUG_SKU] {
        if stack.dynamo.stock(sku)?.received == 0 {
            stack.dynamo.receive(sku, 100)?;
        }
    }
    let mut client_secrets = BTreeSet::new();
    let own = created(stack, 2, &mut client_secrets)?;
    let expired = created(stack, 0, &mut client_secrets)?;
    let (status, body) = stack.stripe.post(
        &format!("/v1/checkout/sessions/{}/expire", expired.id),
        &[],
        stack.api_version,
    )?;
    if status != 200 {
        return Err(format!("expiring a session: {status} {body}").into());
    }
    let completed = created(stack, 0, &mut client_secrets)?;
    stack.stripe.complete_session(&completed.id)?;

    let preview = stack.api_version == PREVIEW_VERSION;
    let (elements, hosted) = if preview {
        ("custom", "hosted")
    } else {
        ("elements", "hosted_page")
    };
    let tag = [("metadata[cart_reservation]", "rsv_hostileForeign")];
    let return_url = ("return_url", "https://other.example/return");
    let mut foreign_sessions = Vec::new();
    let untagged: Vec<(&str, &str)> = if preview {
        vec![
            return_url,
            ("permissions[update_line_items]", "server_only"),
        ]
    } else {
        vec![return_url]
    };
    foreign_sessions.push((
        "no cart_reservation tag",
        foreign(stack, elements, &untagged)?,
    ));
    foreign_sessions.push((
        "hosted ui_mode",
        foreign(
            stack,
            hosted,
            &[tag[0], ("success_url", "https://other.example/done")],
        )?,
    ));
    if preview {
        foreign_sessions.push((
            "client_only permission",
            foreign(
                stack,
                elements,
                &[
                    tag[0],
                    return_url,
                    ("permissions[update_line_items]", "client_only"),
                ],
            )?,
        ));
    }
    for target in [&own, &expired, &completed]
        .into_iter()
        .chain(foreign_sessions.iter().map(|(_, t)| t))
    {
        if let Some(secret) = stack.stripe.session(&target.id)?["client_secret"].as_str() {
            client_secrets.insert(secret.to_owned());
        }
    }

    let event = webhook_event("evt_hostileRealEvent", &own);
    let now = crate::now_s();
    let sign = |payload: &str, secret: &str, t: i64| crate::stripe_signature(payload, secret, t);
    let mut signatures = BTreeMap::new();
    signatures.insert("good", sign(&event, WEBHOOK_SECRET, now)?);
    signatures.insert("wrong secret", sign(&event, "whsec_hostileWrong", now)?);
    signatures.insert(
        "another payload",
        sign("hostile: another payload", WEBHOOK_SECRET, now)?,
    );
    for (label, t) in [
        ("301 s old", now - 301),
        ("a day old", now - 86_400),
        ("an hour ahead", now + 3_600),
        ("t=0", 0),
        ("t=-1", -1),
        ("t=i64::MIN", i64::MIN),
        ("t=i64::MAX", i64::MAX),
    ] {
        signatures.insert(label, sign(&event, WEBHOOK_SECRET, t)?);
    }
    Ok(Fixtures {
        catalog: stack.catalog.clone(),
        own,
        expired,
        completed,
        foreign: foreign_sessions,
        missing: Target::missing(),
        client_secrets,
        signatures,
        event,
    })
}

fn webhook_event(id: &str, session: &Target) -> String {
    json!({
        "id": id, "object": "event", "type": "checkout.session.expired",
        "data": { "object": { "id": session.id, "object": "checkout.session",
                              "metadata": { "cart_reservation": session.reservation } } }
    })
    .to_string()
}

// --- bodies and their fields ----------------------------------------------------------------------

/// What a field holds, to tell a value the parser might accept from one it must refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
struct Field {
    pointer: &'static str,
    kind: Kind,
    required: bool,
}

const fn field(pointer: &'static str, kind: Kind, required: bool) -> Field {
    Field {
        pointer,
        kind,
        required,
    }
}

fn fields(endpoint: Endpoint) -> &'static [Field] {
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
    match endpoint.function {
        "change-interval" => &CHANGE,
        "update-quantity" => &QUANTITY,
        "add-cross-sell" => &CROSS_SELL,
        "update-shipping" => &SHIPPING,
        "create-session" => &CREATE,
        _ => &[],
    }
}

/// A body the endpoint would carry out on `target` (for create-session: a cart of catalog
/// prices, or with `target` = the missing session, of prices the catalog does not hold).
fn valid_body(endpoint: Endpoint, target: &Target, f: &Fixtures) -> Value {
    let c = &f.catalog;
    match endpoint.function {
        "change-interval" => json!({ "checkout_session_id": target.id, "interval": "yearly" }),
        "update-quantity" => json!({
            "checkout_session_id": target.id, "line_item_id": target.item(), "quantity": 3
        }),
        "add-cross-sell" => json!({ "checkout_session_id": target.id, "price_id": c.mug }),
        "update-shipping" => json!({
            "checkout_session_id": target.id,
            "shipping_details": { "name": "Ada Lovelace", "address": {
                "line1": "1 Main St", "line2": "Apt 1", "city": "Springfield", "state": "CA",
                "postal_code": "94105", "country": "US" } }
        }),
        "create-session" => {
            let (first, second) = if target.id == MISSING_SESSION {
                (FOREIGN_PRICES[0], FOREIGN_PRICES[1])
            } else {
                (c.monthly.as_str(), c.tee.as_str())
            };
            json!({ "items": [ { "price": first, "quantity": 1 }, { "price": second, "quantity": 1 } ],
                    "mode": "subscription" })
        }
        _ => Value::Null,
    }
}

/// The answer to a well-formed request that aims at nothing real: the missing session, or a cart
/// of prices outside the catalog.
fn harmless_answer(endpoint: Endpoint) -> Expect {
    if endpoint == CREATE_SESSION {
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
fn maybe_valid(kind: Kind, raw: &str) -> bool {
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

const PLACEHOLDER: &str = "\u{1}hostile\u{1}";

/// `body` with the value at `pointer` replaced by the raw JSON text `raw` (which need not parse).
fn splice(body: &Value, pointer: &str, raw: &str) -> String {
    let mut copy = body.clone();
    if let Some(slot) = copy.pointer_mut(pointer) {
        *slot = Value::String(PLACEHOLDER.into());
    } else if let Some((parent, name)) = pointer.rsplit_once('/') {
        if let Some(Value::Object(map)) = copy.pointer_mut(parent) {
            map.insert(name.to_owned(), Value::String(PLACEHOLDER.into()));
        }
    }
    let quoted = serde_json::to_string(PLACEHOLDER).unwrap_or_default();
    copy.to_string().replacen(&quoted, raw, 1)
}

/// `body` without the field at `pointer`, or with it renamed to `rename`.
fn without(body: &Value, pointer: &str, rename: Option<&str>) -> String {
    let mut copy = body.clone();
    if let Some((parent, name)) = pointer.rsplit_once('/') {
        match copy.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                if let Some(value) = map.remove(name) {
                    if let Some(new_name) = rename {
                        map.insert(new_name.to_owned(), value);
                    }
                }
            }
            Some(Value::Array(items)) => {
                if let Some(n) = name.parse::<usize>().ok().filter(|n| *n < items.len()) {
                    items.remove(n);
                }
            }
            _ => {}
        }
    }
    copy.to_string()
}

/// One field case: `raw` at `field`, aimed at the session (or cart) the parser must protect when
/// the value is invalid, at nothing real when it might be valid.
fn field_case(
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

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        let _ = write!(short, "…({} chars)", text.chars().count());
    }
    short.escape_debug().to_string()
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

// --- the fixed corpus -----------------------------------------------------------------------------

fn invalid_json_cases(endpoint: Endpoint, text: &str) -> Vec<Case> {
    let cut = |n: usize| text.get(..n).unwrap_or(text).to_owned();
    let first_value = |raw: &str| text.replacen(':', &format!(":{raw},\"x\":"), 1);
    let open = cut(text.len().saturating_sub(1));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", cut(text.len() / 2).into_bytes()),
        ("only the opening brace", b"{".to_vec()),
        (
            "unterminated string",
            br#"{"checkout_session_id":"cs_test_a"#.to_vec(),
        ),
        ("trailing garbage", format!("{text} x").into_bytes()),
        ("two objects", format!("{text}{text}").into_bytes()),
        ("trailing comma", format!("{open},}}").into_bytes()),
        ("NaN", first_value("NaN").into_bytes()),
        ("Infinity", first_value("Infinity").into_bytes()),
        ("-Infinity", first_value("-Infinity").into_bytes()),
        ("hex number", first_value("0x10").into_bytes()),
        ("leading zero", first_value("007").into_bytes()),
        ("number 1e400", first_value("1e400").into_bytes()),
        ("lone surrogate", first_value(r#""\ud800""#).into_bytes()),
        ("bad escape", first_value(r#""\q""#).into_bytes()),
        (
            "raw control char in a string",
            first_value("\"a\u{1}b\"").into_bytes(),
        ),
        (
            "raw newline in a string",
            first_value("\"a\nb\"").into_bytes(),
        ),
        ("block comment", format!("/* c */{text}").into_bytes()),
        ("line comment", format!("// c\n{text}").into_bytes()),
        ("single quotes", text.replace('"', "'").into_bytes()),
        (
            "unquoted keys",
            text.replace("\":", ":")
                .replacen("{\"", "{", 1)
                .into_bytes(),
        ),
        ("byte order mark", format!("\u{feff}{text}").into_bytes()),
        (
            "UTF-16",
            text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        ),
    ];
    bodies
        .into_iter()
        .map(|(name, body)| {
            Case::post(endpoint, "invalid-json", name)
                .body(body)
                .exactly(400, "invalid_json")
        })
        .collect()
}

fn shape_cases(endpoint: Endpoint, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, body) in [
        ("array", "[]".to_owned()),
        ("array holding the body", format!("[{text}]")),
        ("string", "\"x\"".into()),
        ("the body as a JSON string", quoted(text)),
        ("number", "42".into()),
        ("negative number", "-1".into()),
        ("null", "null".into()),
        ("true", "true".into()),
    ] {
        cases.push(
            Case::post(endpoint, "non-object", name)
                .body(body)
                .exactly(400, "invalid_json"),
        );
    }
    for (name, body) in [("empty", ""), ("whitespace", " \n\t "), ("NUL", "\u{0}")] {
        cases.push(
            Case::post(endpoint, "empty", name)
                .body(body)
                .exactly(400, "invalid_json"),
        );
    }
    cases
}

fn size_cases(endpoint: Endpoint, base: &Value) -> Vec<Case> {
    let limit = endpoint.limit;
    let padded = |size: usize| {
        let mut body = base.clone();
        body["pad"] = Value::String(String::new());
        let bare = body.to_string().len();
        body["pad"] = Value::String("x".repeat(size.saturating_sub(bare)));
        body.to_string()
    };
    let mut cases = vec![
        Case::post(
            endpoint,
            "too-large",
            "the valid body padded to the limit + 1",
        )
        .body(padded(limit + 1))
        .exactly(413, "payload_too_large"),
        Case::post(endpoint, "too-large", "1 MiB of garbage")
            .body(vec![b'a'; 1 << 20])
            .exactly(413, "payload_too_large"),
        Case::post(endpoint, "too-large", "limit + 1 of `[`")
            .body(vec![b'['; limit + 1])
            .exactly(413, "payload_too_large"),
    ];
    if endpoint != STRIPE_WEBHOOK {
        let at_limit = format!(r#"{{"pad":"{}"}}"#, "x".repeat(limit - 10));
        cases.push(
            Case::post(
                endpoint,
                "too-large",
                "exactly at the limit, fields missing",
            )
            .body(at_limit)
            .exactly(400, "invalid_request"),
        );
    }
    let deep = |depth: usize| "[".repeat(depth);
    cases.extend([
        Case::post(endpoint, "deep-nesting", "10,000 `[`")
            .body(deep(10_000))
            .exactly(400, "invalid_json"),
        Case::post(endpoint, "deep-nesting", "10,000 closed `[]`")
            .body(format!("{}{}", deep(5_000), "]".repeat(5_000)))
            .exactly(400, "invalid_json"),
        Case::post(endpoint, "deep-nesting", "3,000 nested objects")
            .body(r#"{"a":"#.repeat(3_000))
            .exactly(400, "invalid_json"),
    ]);
    if let Some(first) = fields(endpoint).first() {
        cases.push(
            Case::post(
                endpoint,
                "deep-nesting",
                format!("5,000 `[` in {}", first.pointer),
            )
            .body(splice(base, first.pointer, &deep(5_000)))
            .exactly(400, "invalid_json"),
        );
    }
    cases
}

/// The raw JSON values every field gets instead of its own.
const WRONG_TYPES: [&str; 12] = [
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    "1e300",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    r#"{"$ne":null}"#,
    r#"{"$gt":""}"#,
];

const INJECTIONS: [&str; 14] = [
    "' OR 1=1--",
    "\" OR \"\"=\"",
    "1; DROP TABLE sessions; --",
    "${7*7}",
    "{{7*7}}",
    "#{7*7}",
    "<%= 7*7 %>",
    "__proto__",
    "constructor",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "$where: function() { return true }",
    "%00",
    "\u{202e}evil",
];

fn field_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let mut cases = Vec::new();
    let own = valid_body(endpoint, &f.own, f);
    let invalid_request = Expect::Exactly(400, "invalid_request");
    for field in fields(endpoint) {
        let valid = own.pointer(field.pointer).cloned().unwrap_or(Value::Null);
        let wrapped = format!("[{valid}]");
        for raw in WRONG_TYPES.iter().copied().chain([wrapped.as_str()]) {
            cases.push(field_case(
                endpoint,
                f,
                "wrong-type",
                field,
                raw,
                invalid_request,
            ));
        }
        if field.required {
            let name = field.pointer;
            cases.push(
                Case::post(endpoint, "missing-field", format!("{name} missing"))
                    .body(without(&own, name, None))
                    .expect(invalid_request),
            );
            let renamed = name.rsplit('/').next().unwrap_or_default().to_uppercase();
            cases.push(
                Case::post(
                    endpoint,
                    "missing-field",
                    format!("{name} renamed to {renamed}"),
                )
                .body(without(&own, name, Some(&renamed)))
                .expect(invalid_request),
            );
            let nulled = splice(&own, name, "null");
            cases.push(
                Case::post(endpoint, "missing-field", format!("{name} null"))
                    .body(nulled)
                    .expect(invalid_request),
            );
        }
        let prefix = match field.kind {
            Kind::SessionId => Some("cs_test_"),
            Kind::LineItemId => Some("li_"),
            Kind::PriceId => Some("price_"),
            _ => None,
        };
        if let Some(prefix) = prefix {
            cases.extend(id_cases(endpoint, f, field, prefix));
        }
        let is_string_field = !matches!(
            field.kind,
            Kind::Object | Kind::Items | Kind::Quantity { .. }
        );
        if is_string_field {
            for injection in INJECTIONS {
                let raw = quoted(injection);
                cases.push(field_case(
                    endpoint,
                    f,
                    "injection",
                    field,
                    &raw,
                    invalid_request,
                ));
                if let Some(prefix) = prefix {
                    let raw = quoted(&format!("{prefix}{injection}"));
                    cases.push(field_case(
                        endpoint,
                        f,
                        "injection",
                        field,
                        &raw,
                        invalid_request,
                    ));
                }
            }
        }
        if let Kind::Quantity { .. } = field.kind {
            cases.extend(quantity_cases(endpoint, f, field));
        }
    }
    // Keys that mean something to other stacks; ignored here, so aimed at nothing real.
    let missing = valid_body(endpoint, &f.missing, f);
    for (key, value) in [
        ("__proto__", json!({ "admin": true })),
        ("constructor", json!({ "prototype": { "admin": true } })),
        ("$where", json!("1 == 1")),
        ("$ne", Value::Null),
    ] {
        let mut body = missing.clone();
        body[key] = value;
        cases.push(
            Case::post(endpoint, "injection", format!("extra key {key}"))
                .body(body.to_string())
                .expect(harmless_answer(endpoint)),
        );
    }
    let text = own.to_string();
    cases.push(
        Case::post(endpoint, "injection", "the body inside __proto__ only")
            .body(format!(r#"{{"__proto__":{text}}}"#))
            .expect(invalid_request),
    );
    if let Some(first) = fields(endpoint).first() {
        // Duplicate keys: the last one counts, so the invalid one must be what is refused.
        let key = first.pointer.trim_start_matches('/');
        let open = text.get(..text.len().saturating_sub(1)).unwrap_or_default();
        cases.push(
            Case::post(
                endpoint,
                "injection",
                format!("{key} repeated with {{\"$ne\":null}}"),
            )
            .body(format!(r#"{open},"{key}":{{"$ne":null}}}}"#))
            .expect(invalid_request),
        );
    }
    cases
}

fn id_cases(endpoint: Endpoint, f: &Fixtures, field: &Field, prefix: &str) -> Vec<Case> {
    let mut raws: Vec<String> = [
        "\u{0}",
        "a\u{0}b",
        "é",
        "\u{202e}",
        "🛒",
        "a b",
        "a\n",
        "a\t",
        "../../v1/customers",
        "a/expire",
        "a?expand[]=customer",
        "a%2Fexpire",
        "a#fragment",
        "a\u{301}",
    ]
    .iter()
    .map(|rest| quoted(&format!("{prefix}{rest}")))
    .collect();
    raws.extend([
        quoted(&format!("{prefix}{}", "a".repeat(300))),
        quoted(&format!("{prefix}{}", "a".repeat(10_000))),
        quoted(&format!("{prefix}{}", "a".repeat(255 - prefix.len() + 1))),
        quoted(&prefix.to_uppercase()),
        quoted(&format!("{}a", prefix.to_uppercase())),
        quoted(&format!(" {prefix}a")),
        quoted(&format!("{prefix}a ")),
        quoted(prefix),
        quoted(prefix.trim_end_matches('_')),
        quoted("ｃｓ_test_a"),
        quoted("cs_a"),
        quoted("cs_prod_a"),
        quoted("li_a"),
        quoted("price_a"),
        quoted("prod_a"),
        quoted("sess_a"),
        quoted("pi_a"),
        r#""\u0000""#.to_owned(),
    ]);
    let mut cases: Vec<Case> = raws
        .iter()
        .map(|raw| {
            field_case(
                endpoint,
                f,
                "bad-id",
                field,
                raw,
                Expect::Exactly(400, "invalid_request"),
            )
        })
        .collect();
    // At the longest length an id may have: well-formed, so aimed at nothing real.
    let longest = quoted(&format!("{prefix}{}", "a".repeat(255 - prefix.len())));
    cases.push(field_case(
        endpoint,
        f,
        "bad-id",
        field,
        &longest,
        Expect::Refused,
    ));
    cases
}

fn quantity_cases(endpoint: Endpoint, f: &Fixtures, field: &Field) -> Vec<Case> {
    [
        "-1",
        "-0.5",
        "1.5",
        "2.0",
        "1e2",
        "1E+2",
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551616",
        "18446744073709551615",
        "9223372036854775808",
        "-9223372036854775809",
        "1000000",
        "\"3\"",
        "[3]",
        r#"{"$gt":0}"#,
        "true",
    ]
    .iter()
    .map(|raw| {
        let strict = if raw.contains("e400") {
            Expect::Exactly(400, "invalid_json")
        } else {
            Expect::Exactly(400, "invalid_request")
        };
        field_case(endpoint, f, "bad-quantity", field, raw, strict)
    })
    .collect()
}

/// Well-formed requests the cart rules refuse: refused with nothing held or sent to Stripe.
fn business_cases(f: &Fixtures) -> Vec<Case> {
    let c = &f.catalog;
    let own = &f.own;
    let quantity = |item: &str, quantity: i64| {
        json!({ "checkout_session_id": own.id, "line_item_id": item, "quantity": quantity })
            .to_string()
    };
    let plan = own.items.first().map_or(MISSING_ITEM, String::as_str);
    let offer =
        |price: &str| json!({ "checkout_session_id": own.id, "price_id": price }).to_string();
    let mut ship = valid_body(UPDATE_SHIPPING, own, f);
    ship["shipping_details"]["address"]["country"] = json!("FR");
    let create = |price: &str, quantity: i64| {
        json!({ "items": [ { "price": price, "quantity": quantity } ] }).to_string()
    };
    vec![
        Case::post(UPDATE_QUANTITY, "business-rules", "above the product's bounds")
            .body(quantity(own.item(), 6))
            .exactly(422, "quantity_out_of_range"),
        Case::post(UPDATE_QUANTITY, "business-rules", "Stripe's maximum")
            .body(quantity(own.item(), 999_999))
            .exactly(422, "quantity_out_of_range"),
        Case::post(UPDATE_QUANTITY, "business-rules", "remove the plan")
            .body(quantity(plan, 0))
            .exactly(422, "cannot_remove_last_item"),
        Case::post(UPDATE_QUANTITY, "nonexistent", "item of another session")
            .body(quantity(f.expired.item(), 1))
            .exactly(404, "line_item_not_found"),
        Case::post(UPDATE_QUANTITY, "nonexistent", "item that does not exist")
            .body(quantity(MISSING_ITEM, 1))
            .exactly(404, "line_item_not_found"),
        Case::post(ADD_CROSS_SELL, "business-rules", "not an offer")
            .body(offer(&c.sticker))
            .exactly(422, "offer_not_available"),
        Case::post(ADD_CROSS_SELL, "business-rules", "offer of the other interval")
            .body(offer(&c.support_yearly))
            .exactly(422, "offer_not_available"),
        Case::post(ADD_CROSS_SELL, "business-rules", "a price outside the catalog")
            .body(offer(FOREIGN_PRICES[0]))
            .exactly(422, "offer_not_available"),
        Case::post(UPDATE_SHIPPING, "business-rules", "a country not served")
            .body(ship.to_string())
            .exactly(422, "destination_not_supported"),
        Case::post(CREATE_SESSION, "business-rules", "above the product's bounds")
            .body(create(&c.tee, 6))
            .exactly(422, "quantity_out_of_range"),
        Case::post(CREATE_SESSION, "business-rules", "a price outside the catalog")
            .body(create(FOREIGN_PRICES[0], 1))
            .exactly(422, "offer_not_available"),
        Case::post(CREATE_SESSION, "business-rules", "21 items")
            .body(
                json!({ "items": (0..21).map(|n| json!({ "price": format!("price_{n}"), "quantity": 1 }))
                    .collect::<Vec<_>>() })
                .to_string(),
            )
            .exactly(400, "invalid_request"),
    ]
}

fn session_state_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let mut cases = Vec::new();
    for (prefix, category) in [("cs_test_", "nonexistent"), ("cs_live_", "nonexistent")] {
        let mut target = f.missing.clone();
        target.id = format!("{prefix}hostileSessionThatDoesNotExist0000");
        cases.push(
            Case::post(
                endpoint,
                category,
                format!("a {prefix}… session Stripe does not know"),
            )
            .body(valid_body(endpoint, &target, f).to_string())
            .exactly(404, "session_not_found"),
        );
    }
    let mut refused: Vec<(String, &Target, &'static str)> = vec![
        (
            "an expired session".into(),
            &f.expired,
            "expired-or-completed",
        ),
        (
            "a completed session".into(),
            &f.completed,
            "expired-or-completed",
        ),
    ];
    for (label, target) in &f.foreign {
        refused.push((
            format!("another integration's session: {label}"),
            target,
            "other-integration",
        ));
    }
    for (name, target, category) in refused {
        cases.push(
            Case::post(endpoint, category, name)
                .body(valid_body(endpoint, target, f).to_string())
                .exactly(409, "session_not_updatable"),
        );
    }
    cases
}

fn header_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let own = valid_body(endpoint, &f.own, f).to_string();
    let missing = valid_body(endpoint, &f.missing, f).to_string();
    let key = |name: &str, value: &[u8]| {
        Case::post(endpoint, "idempotency-key", name)
            .body(missing.clone())
            .header("Idempotency-Key", value)
            .exactly(400, "invalid_request")
    };
    let mut cases = vec![
        key("empty", b""),
        key("256 characters", &[b'k'; 256]),
        key("a space", b"a b"),
        key("a tab", b"a\tb"),
        key("non-ASCII", "clé".as_bytes()),
        // cargo-lambda keeps one of the two, API Gateway joins them with a comma (a well-formed
        // key): either way the function sees one, so only a refusal is certain.
        key("two keys", b"key-1")
            .header("Idempotency-Key", b"key-2".to_vec())
            .expect(Expect::Refused),
    ];
    for (name, value) in [
        ("NUL", "a\u{0}b"),
        ("newline", "a\nb"),
        ("DEL", "a\u{7f}b"),
        ("escape", "a\u{1b}b"),
    ] {
        // No HTTP request can carry these; only a hand-made event can.
        cases.push(
            key(name, value.as_bytes())
                .invoke(false)
                .expect(Expect::Refused),
        );
    }
    for method in ["GET", "DELETE"] {
        cases.push(
            Case::post(endpoint, "wrong-method", method)
                .method(method)
                .exactly(405, "method_not_allowed"),
        );
    }
    for method in ["PUT", "PATCH"] {
        cases.push(
            Case::post(
                endpoint,
                "wrong-method",
                format!("{method} with the valid body"),
            )
            .method(method)
            .body(own.clone())
            .exactly(405, "method_not_allowed"),
        );
    }
    cases.push(
        Case::post(endpoint, "wrong-method", "GET as an API Gateway event")
            .method("GET")
            .body(own.clone())
            .invoke(false)
            .exactly(405, "method_not_allowed"),
    );
    // The valid body with every content type a browser could send without a preflight (and
    // others): none may be read.
    let form = missing_form(&missing);
    for (name, content_type, body) in [
        ("no Content-Type", None, own.clone()),
        ("text/plain", Some("text/plain"), own.clone()),
        (
            "text/plain; charset=utf-8",
            Some("text/plain; charset=utf-8"),
            own.clone(),
        ),
        ("form", Some("application/x-www-form-urlencoded"), form),
        (
            "multipart",
            Some("multipart/form-data; boundary=x"),
            own.clone(),
        ),
        ("empty Content-Type", Some(""), own.clone()),
        ("*/*", Some("*/*"), own.clone()),
        ("text/json", Some("text/json"), own.clone()),
        ("application/jsonp", Some("application/jsonp"), own.clone()),
        (
            "application/json-patch+json",
            Some("application/json-patch+json"),
            own.clone(),
        ),
        (
            "application/vnd.api+json",
            Some("application/vnd.api+json"),
            own.clone(),
        ),
        (
            "application/javascript",
            Some("application/javascript"),
            own.clone(),
        ),
        (
            "JSON in Latin-1",
            Some("application/json; charset=iso-8859-1"),
            own.clone(),
        ),
        (
            "JSON, then text",
            Some("application/json, text/plain"),
            own.clone(),
        ),
    ] {
        cases.push(
            Case::post(endpoint, "content-type", name)
                .content_type(content_type.map(str::as_bytes))
                .body(body)
                .exactly(415, "unsupported_media_type"),
        );
    }
    cases.push(
        Case::post(
            endpoint,
            "content-type",
            "two Content-Types (API Gateway joins them)",
        )
        .content_type(Some(b"application/json,text/plain"))
        .body(own.clone())
        .invoke(false)
        .exactly(415, "unsupported_media_type"),
    );
    cases.push(
        Case::post(
            endpoint,
            "content-type",
            "no Content-Type, as an API Gateway event",
        )
        .content_type(None)
        .body(own)
        .invoke(false)
        .exactly(415, "unsupported_media_type"),
    );
    cases
}

fn missing_form(json_body: &str) -> String {
    let value: Value = serde_json::from_str(json_body).unwrap_or_default();
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn base64_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let webhook = endpoint == STRIPE_WEBHOOK;
    let (own, missing) = if webhook {
        (f.event.clone(), f.event.clone())
    } else {
        (
            valid_body(endpoint, &f.own, f).to_string(),
            valid_body(endpoint, &f.missing, f).to_string(),
        )
    };
    // Unsigned, the webhook refuses the signature before it reads the payload.
    let not_json = if webhook {
        Expect::Exactly(400, "invalid_signature")
    } else {
        Expect::Exactly(400, "invalid_json")
    };
    let encoded = |bytes: &[u8]| base64(bytes).into_bytes();
    let case = |name: &str, body: Vec<u8>, expect: Expect| {
        Case::post(endpoint, "base64", name)
            .body(body)
            .invoke(true)
            .expect(expect)
    };
    let mut cases = vec![
        case(
            "a well-formed body, decoded (control)",
            encoded(missing.as_bytes()),
            if webhook {
                not_json
            } else {
                harmless_answer(endpoint)
            },
        ),
        case("`{`", encoded(b"{"), not_json),
        case(
            "invalid UTF-8",
            encoded(b"{\"checkout_session_id\":\"\xff\xfe\"}"),
            not_json,
        ),
        case(
            "larger than the limit once decoded",
            encoded(&vec![b' '; endpoint.limit + 1]),
            Expect::Exactly(413, "payload_too_large"),
        ),
        case(
            "invalid base64",
            b"!!! not base64 !!!".to_vec(),
            Expect::Refused,
        ),
        case(
            "base64 without its padding",
            encoded(own.as_bytes())
                .into_iter()
                .filter(|b| *b != b'=')
                .chain(*b"x")
                .collect(),
            Expect::Refused,
        ),
        case(
            "the JSON itself, not base64",
            own.clone().into_bytes(),
            Expect::Refused,
        ),
        case(
            "text/plain",
            encoded(own.as_bytes()),
            Expect::Exactly(415, "unsupported_media_type"),
        )
        .content_type(Some(b"text/plain")),
    ];
    if !webhook {
        cases.push(case(
            "a trailing byte of garbage",
            encoded(format!("{own}\u{0}").as_bytes()),
            Expect::Exactly(400, "invalid_json"),
        ));
    }
    cases
}

fn webhook_cases(f: &Fixtures) -> Vec<Case> {
    let e = STRIPE_WEBHOOK;
    let event = f.event.as_str();
    let sig = |label: &str| f.signatures.get(label).cloned().unwrap_or_default();
    let good = sig("good");
    let now = crate::now_s();
    let good_hex = good.split_once("v1=").map_or("", |(_, hex)| hex).to_owned();
    let signed = |name: &str, header: String| {
        Case::post(e, "signature", name)
            .body(event)
            .header("Stripe-Signature", header)
            .exactly(400, "invalid_signature")
    };
    let mut cases = vec![
        Case::post(e, "signature", "no Stripe-Signature")
            .body(event)
            .exactly(400, "invalid_signature"),
        signed("empty", String::new()),
        signed("garbage", "garbage".into()),
        signed("t= only", "t=".into()),
        signed("v1 without t", format!("v1={good_hex}")),
        signed("t not a number", format!("t=abc,v1={good_hex}")),
        signed("t only", format!("t={now}")),
        signed("empty v1", format!("t={now},v1=")),
        signed("v1 not hex", format!("t={now},v1=zz{}", "0".repeat(62))),
        signed("v1 of zeros", format!("t={now},v1={}", "0".repeat(64))),
        signed(
            "v1 cut short",
            format!("t={now},v1={}", &good_hex.get(..32).unwrap_or_default()),
        ),
        signed(
            "the right signature as v0",
            format!("t={now},v0={good_hex}"),
        ),
        signed("a later t=0 overrides", format!("{good},t=0")),
        signed("only commas", ",,,,".into()),
        signed(
            "t beyond i64",
            format!("t=99999999999999999999,v1={good_hex}"),
        ),
        signed("4 KiB of v1", format!("t={now},{}", "v1=00,".repeat(680))),
        signed("wrong secret", sig("wrong secret")),
        signed("signature of another payload", sig("another payload")),
    ];
    for label in [
        "301 s old",
        "a day old",
        "an hour ahead",
        "t=0",
        "t=-1",
        "t=i64::MIN",
        "t=i64::MAX",
    ] {
        cases.push(signed(&format!("timestamp {label}"), sig(label)));
    }
    cases.push(
        Case::post(e, "signature", "the event with one byte changed")
            .body(event.replacen("expired", "expirex", 1))
            .header("Stripe-Signature", good.clone())
            .exactly(400, "invalid_signature"),
    );
    cases.push(
        Case::post(e, "signature", "the event with a trailing space")
            .body(format!("{event} "))
            .header("Stripe-Signature", good.clone())
            .exactly(400, "invalid_signature"),
    );
    // The real event with the right signature, but not as a POST of JSON.
    for method in ["GET", "DELETE", "PUT", "PATCH"] {
        cases.push(
            Case::post(e, "wrong-method", format!("{method}, signed"))
                .method(method)
                .body(if matches!(method, "GET" | "DELETE") {
                    ""
                } else {
                    event
                })
                .header("Stripe-Signature", good.clone())
                .exactly(405, "method_not_allowed"),
        );
    }
    for (name, content_type) in [
        ("no Content-Type, signed", None),
        ("text/plain, signed", Some(&b"text/plain"[..])),
        (
            "form, signed",
            Some(&b"application/x-www-form-urlencoded"[..]),
        ),
    ] {
        cases.push(
            Case::post(e, "content-type", name)
                .content_type(content_type)
                .body(event)
                .header("Stripe-Signature", good.clone())
                .exactly(415, "unsupported_media_type"),
        );
    }
    cases
}

/// Signed bodies that are not events: the signature passes, the payload is refused. Needs a
/// signature per body, computed up front.
fn signed_non_events(f: &Fixtures) -> Result<Vec<Case>> {
    let own = &f.own;
    let event_with = |object: Value, id: Value| {
        json!({ "id": id, "type": "checkout.session.expired", "data": { "object": object } })
            .to_string()
    };
    let bodies: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("{}", "{}".into()),
        ("[]", "[]".into()),
        ("null", "null".into()),
        ("a string", "\"evt\"".into()),
        (
            "no data",
            json!({ "id": "evt_h1", "type": "checkout.session.expired" }).to_string(),
        ),
        ("no object id", event_with(json!({}), json!("evt_h2"))),
        (
            "a number for the id",
            event_with(json!({ "id": own.id }), json!(1)),
        ),
        (
            "metadata with a number",
            event_with(
                json!({ "id": own.id, "metadata": { "cart_reservation": 1 } }),
                json!("evt_h3"),
            ),
        ),
        (
            "a 300-character event id",
            event_with(
                json!({ "id": own.id, "metadata": { "cart_reservation": own.reservation } }),
                json!(format!("evt_{}", "a".repeat(296))),
            ),
        ),
        (
            "an event id with a space",
            event_with(
                json!({ "id": own.id, "metadata": { "cart_reservation": own.reservation } }),
                json!("evt 1"),
            ),
        ),
        ("10,000 `[`", "[".repeat(10_000)),
        (
            "truncated event",
            f.event
                .get(..f.event.len() / 2)
                .unwrap_or_default()
                .to_owned(),
        ),
        ("NaN", f.event.replacen(':', ":NaN,\"x\":", 1)),
    ];
    let now = crate::now_s();
    let mut cases = Vec::new();
    for (name, body) in bodies {
        let header = crate::stripe_signature(&body, WEBHOOK_SECRET, now)?;
        cases.push(
            Case::post(STRIPE_WEBHOOK, "signed-non-event", name)
                .body(body)
                .header("Stripe-Signature", header)
                .exactly(400, "invalid_json"),
        );
    }
    Ok(cases)
}

fn fixed_corpus(f: &Fixtures) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for endpoint in CART_ENDPOINTS {
        let own = valid_body(endpoint, &f.own, f);
        let text = own.to_string();
        cases.extend(invalid_json_cases(endpoint, &text));
        cases.extend(shape_cases(endpoint, &text));
        cases.extend(size_cases(endpoint, &own));
        cases.extend(field_cases(endpoint, f));
        cases.extend(header_cases(endpoint, f));
        cases.extend(base64_cases(endpoint, f));
    }
    for endpoint in SESSION_ENDPOINTS {
        cases.extend(session_state_cases(endpoint, f));
    }
    cases.extend(business_cases(f));

    let event: Value = serde_json::from_str(&f.event)?;
    // Unsigned: the signature is checked before the payload is read.
    for case in invalid_json_cases(STRIPE_WEBHOOK, &f.event)
        .into_iter()
        .chain(shape_cases(STRIPE_WEBHOOK, &f.event))
    {
        cases.push(case.exactly(400, "invalid_signature"));
    }
    for case in size_cases(STRIPE_WEBHOOK, &event) {
        let expect = if case.category == "too-large" {
            Expect::Exactly(413, "payload_too_large")
        } else {
            Expect::Exactly(400, "invalid_signature")
        };
        cases.push(case.expect(expect));
    }
    cases.extend(webhook_cases(f));
    cases.extend(signed_non_events(f)?);
    cases.extend(base64_cases(STRIPE_WEBHOOK, f));
    Ok(cases)
}

// --- the generated corpus -------------------------------------------------------------------------

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

fn generated_case(rng: &mut Rng, n: usize, f: &Fixtures) -> Case {
    let endpoint = [
        CHANGE_INTERVAL,
        UPDATE_QUANTITY,
        ADD_CROSS_SELL,
        UPDATE_SHIPPING,
        CREATE_SESSION,
        STRIPE_WEBHOOK,
    ][n % 6];
    let mut case = if endpoint == STRIPE_WEBHOOK {
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
        STRIPE_WEBHOOK,
        "generated",
        format!("#{n}: {name}, signature: {label}"),
    )
    .body(body)
    .header("Stripe-Signature", header)
    .exactly(400, "invalid_signature")
}

// --- sending --------------------------------------------------------------------------------------

/// What one case got back.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub function: &'static str,
    pub category: &'static str,
    pub name: String,
    /// The HTTP status; for an invocation error of the runtime, the 502 API Gateway answers it
    /// with; 0 when nothing answered.
    pub status: u16,
    pub code: Option<String>,
    /// Why this answer is wrong (empty: it is right).
    pub problems: Vec<String>,
}

/// An answer as the client saw it.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
    /// The runtime's invocation error (Invoke only): the handler never answered.
    function_error: Option<String>,
}

fn send(stack: &Stack, agent: &ureq::Agent, case: &Case) -> Result<Answer> {
    match case.transport {
        Transport::Url => send_url(stack, agent, case),
        Transport::Invoke { base64 } => send_event(stack, agent, case, base64),
    }
}

fn send_url(stack: &Stack, agent: &ureq::Agent, case: &Case) -> Result<Answer> {
    let url = stack
        .functions
        .url(case.endpoint.function, case.endpoint.route);
    let mut request = ureq::http::Request::builder().method(case.method).uri(url);
    for (name, value) in &case.headers {
        request = request.header(name.as_str(), ureq::http::HeaderValue::from_bytes(value)?);
    }
    let mut response = if case.body.is_empty() {
        agent.run(request.body(())?)?
    } else {
        agent.run(request.body(case.body.clone())?)?
    };
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(1 << 24)
        .read_to_vec()?;
    Ok(Answer {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        function_error: None,
    })
}

/// As API Gateway's HTTP API (payload format 2.0) would invoke the function.
fn send_event(stack: &Stack, agent: &ureq::Agent, case: &Case, base64: bool) -> Result<Answer> {
    let Endpoint {
        function, route, ..
    } = case.endpoint;
    let mut headers = serde_json::Map::new();
    for (name, value) in &case.headers {
        headers.insert(
            name.to_ascii_lowercase(),
            Value::String(String::from_utf8_lossy(value).into_owned()),
        );
    }
    let event = json!({
        "version": "2.0",
        "routeKey": format!("POST {route}"),
        "rawPath": route,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "hostile", "domainName": "hostile.example",
            "domainPrefix": "hostile", "requestId": format!("hostile-{}", case.name.len()),
            "routeKey": format!("POST {route}"), "stage": "$default",
            "time": "01/Jan/2030:00:00:00 +0000", "timeEpoch": 1_893_456_000_000_u64,
            "http": { "method": case.method, "path": route, "protocol": "HTTP/1.1",
                      "sourceIp": "203.0.113.7", "userAgent": "hostile-corpus" }
        },
        "body": String::from_utf8_lossy(&case.body),
        "isBase64Encoded": base64,
    });
    let root = stack
        .functions
        .url(function, "")
        .split("/lambda-url/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut response = agent
        .post(format!(
            "{root}/2015-03-31/functions/{function}/invocations"
        ))
        .send_json(&event)?;
    let invoke_status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    let payload: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if invoke_status != 200 || payload.get("errorType").is_some() {
        // API Gateway answers a function error with 502 {"message":"Internal server error"}.
        return Ok(Answer {
            status: 502,
            content_type: Some("application/json".into()),
            body: json!({ "message": "Internal server error" }).to_string(),
            function_error: Some(format!(
                "{}: {}",
                payload["errorType"].as_str().unwrap_or("invoke failed"),
                payload["errorMessage"].as_str().unwrap_or(&text)
            )),
        });
    }
    let status = payload["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(0);
    let content_type = payload["headers"]["content-type"]
        .as_str()
        .map(str::to_owned);
    let body = payload["body"].as_str().unwrap_or_default().to_owned();
    let mut answer = Answer {
        status,
        content_type,
        body,
        function_error: None,
    };
    if payload["isBase64Encoded"] == true {
        answer.body = format!("(base64 response) {}", answer.body);
    }
    Ok(answer)
}

/// Every way `answer` falls short of what `case` must get.
fn judge(case: &Case, answer: &Answer) -> (Vec<String>, Option<String>) {
    let mut problems = Vec::new();
    if let Some(error) = &answer.function_error {
        problems.push(format!("the function failed: {error}"));
        return (problems, None);
    }
    let status = answer.status;
    match status {
        500..=599 => problems.push(format!("server error {status}")),
        200..=299 => problems.push(format!("{status}: a hostile request was carried out")),
        400..=499 => {}
        _ => problems.push(format!("status {status} is not an error")),
    }
    if !answer
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/json"))
    {
        problems.push(format!("content type {:?}", answer.content_type));
    }
    for secret in [SECRET_KEY, WEBHOOK_SECRET, "_secret_"] {
        if answer.body.contains(secret) {
            problems.push("the answer holds a secret".into());
        }
    }
    let body: Value = match serde_json::from_str(&answer.body) {
        Ok(body) => body,
        Err(_) => {
            problems.push(format!("not JSON: {}", shorten(&answer.body)));
            return (problems, None);
        }
    };
    let code = body["code"].as_str().map(str::to_owned);
    let fields_ok = body.as_object().is_some_and(|fields| {
        fields.keys().all(|k| {
            matches!(
                k.as_str(),
                "type" | "code" | "message" | "param" | "available"
            )
        })
    });
    if body["type"] != "error" || !fields_ok {
        problems.push(format!("not an error body: {}", shorten(&answer.body)));
    }
    match code
        .as_deref()
        .and_then(|c| ErrorCode::ALL.iter().find(|known| known.as_str() == c))
    {
        None => problems.push(format!("code {:?} is not in the taxonomy", body["code"])),
        Some(c) if c.status() != status => {
            problems.push(format!(
                "code {} answered with {status}, not {}",
                c.as_str(),
                c.status()
            ));
        }
        Some(_) => {}
    }
    match body["message"].as_str() {
        Some(message) if !message.trim().is_empty() => {
            for fragment in FORBIDDEN_IN_MESSAGES {
                if message.contains(fragment) {
                    problems.push(format!("message holds {fragment:?}: {message:?}"));
                }
            }
        }
        _ => problems.push("no message".into()),
    }
    if body.get("param").is_some_and(|p| !p.is_string())
        || body.get("available").is_some_and(|a| !a.is_u64())
    {
        problems.push(format!("bad param or available: {}", shorten(&answer.body)));
    }
    if let Expect::Exactly(want_status, want_code) = case.expect {
        if status != want_status || code.as_deref() != Some(want_code) {
            problems.push(format!(
                "answered {status} {}, expected {want_status} {want_code}",
                code.as_deref().unwrap_or("-")
            ));
        }
    }
    (problems, code)
}

fn run_case(stack: &Stack, agent: &ureq::Agent, case: &Case) -> Outcome {
    let mut outcome = Outcome {
        function: case.endpoint.function,
        category: case.category,
        name: case.name.clone(),
        status: 0,
        code: None,
        problems: Vec::new(),
    };
    match send(stack, agent, case) {
        Ok(answer) => {
            let (problems, code) = judge(case, &answer);
            outcome.status = answer.status;
            outcome.code = code;
            outcome.problems = problems;
        }
        Err(error) => outcome.problems.push(format!("no answer: {error}")),
    }
    outcome
}

/// Runs the cases, one thread per function (each function has one instance: its requests queue
/// anyway), in the order given within a function.
fn run_all(stack: &Stack, cases: &[Case]) -> Vec<Outcome> {
    let mut groups: BTreeMap<&str, Vec<(usize, &Case)>> = BTreeMap::new();
    for (n, case) in cases.iter().enumerate() {
        groups
            .entry(case.endpoint.function)
            .or_default()
            .push((n, case));
    }
    let agent = agent();
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(cases.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_values()
            .map(|group| {
                let agent = agent.clone();
                scope.spawn(move || {
                    group
                        .into_iter()
                        .map(|(n, case)| (n, run_case(stack, &agent, case)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => outcomes.extend(done),
                Err(_) => outcomes.push((
                    usize::MAX,
                    Outcome {
                        function: "-",
                        category: "-",
                        name: "a sending thread panicked".into(),
                        status: 0,
                        code: None,
                        problems: vec!["a sending thread panicked".into()],
                    },
                )),
            }
        }
    });
    outcomes.sort_by_key(|(n, _)| *n);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

// --- state and logs -------------------------------------------------------------------------------

/// Every item of the inventory table (stock and holds), by key.
fn inventory(stack: &Stack) -> Result<BTreeMap<String, Value>> {
    let script = r#"
import boto3, json, sys
client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
items, kwargs = [], {"TableName": "InventoryTable", "ConsistentRead": True}
while True:
    page = client.scan(**kwargs)
    items.extend(page.get("Items", []))
    if "LastEvaluatedKey" not in page:
        break
    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
print(json.dumps(items))
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script, &stack.dynamo.endpoint])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("scanning the inventory failed: {}", output.status).into());
    }
    let items: Vec<Value> = serde_json::from_slice(&output.stdout)?;
    Ok(items
        .into_iter()
        .map(|item| {
            (
                item["pk"]["S"].as_str().unwrap_or_default().to_owned(),
                item,
            )
        })
        .collect())
}

fn last_stripe_request(stack: &Stack) -> Result<u64> {
    Ok(stack
        .stripe
        .requests()?
        .iter()
        .filter_map(|r| r["seq"].as_u64())
        .max()
        .unwrap_or(0))
}

#[derive(Debug)]
struct Snapshot {
    last_request: u64,
    sessions: Vec<(String, Value)>,
    inventory: BTreeMap<String, Value>,
}

fn snapshot(stack: &Stack, f: &Fixtures) -> Result<Snapshot> {
    let sessions = f
        .sessions()
        .into_iter()
        .map(|t| Ok((t.id.clone(), stack.stripe.session(&t.id)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Snapshot {
        last_request: last_stripe_request(stack)?,
        sessions,
        inventory: inventory(stack)?,
    })
}

/// Everything that changed since `before`.
fn state_changes(stack: &Stack, before: &Snapshot) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    for request in stack.stripe.requests()? {
        let seq = request["seq"].as_u64().unwrap_or(0);
        let path = request["path"].as_str().unwrap_or_default();
        if seq > before.last_request
            && request["method"] == "POST"
            && path.starts_with("/v1/checkout/sessions")
        {
            changes.push(format!("Stripe was sent POST {path}"));
        }
    }
    for (id, was) in &before.sessions {
        let now = stack.stripe.session(id)?;
        if &now != was {
            changes.push(format!("session {id} changed"));
        }
    }
    let after = inventory(stack)?;
    for (pk, item) in &after {
        match before.inventory.get(pk) {
            None if pk.starts_with("hold#") => changes.push(format!("hold created: {pk}")),
            None => changes.push(format!("inventory item created: {pk}")),
            Some(was) if was != item => changes.push(format!("{pk} changed: {was} -> {item}")),
            Some(_) => {}
        }
    }
    for pk in before.inventory.keys() {
        if !after.contains_key(pk) {
            changes.push(format!("inventory item deleted: {pk}"));
        }
    }
    Ok(changes)
}

/// Where the harness writes this process's logs (`target/e2e-logs/<name>-<pid>-<n>.log`).
fn log_files() -> Vec<std::path::PathBuf> {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe
        .parent()
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir
            .parent()
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
    }
    let dir = dir.join("..").join("e2e-logs");
    let marker = format!("-{}-", std::process::id());
    let functions = [
        "add-cross-sell",
        "change-interval",
        "create-session",
        "update-quantity",
        "update-shipping",
        "stripe-webhook",
        "release-holds",
        "cargo-lambda-watch",
    ];
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(std::result::Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name.contains(&marker) && functions.iter().any(|f| name.starts_with(f))
        })
        .collect()
}

/// Secrets in the functions' logs (stdout and stderr) of this process.
fn secrets_in_logs(f: &Fixtures) -> Vec<String> {
    let mut needles: Vec<(String, &str)> = vec![
        ("the Stripe secret key".into(), SECRET_KEY),
        ("the webhook signing secret".into(), WEBHOOK_SECRET),
    ];
    for secret in &f.client_secrets {
        let shown: String = secret.chars().take(12).collect();
        needles.push((format!("the client_secret {shown}…"), secret.as_str()));
    }
    let mut found = Vec::new();
    for path in log_files() {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
        for (what, needle) in &needles {
            if let Some(line) = text.lines().position(|l| l.contains(needle)) {
                found.push(format!(
                    "{what} is in {} (line {})",
                    path.display(),
                    line + 1
                ));
            }
        }
    }
    found
}

// --- the report -----------------------------------------------------------------------------------

/// What the corpus found.
#[derive(Debug, Clone)]
pub struct CorpusReport {
    pub outcomes: Vec<Outcome>,
    /// Stripe writes, changed sessions, stock or holds that moved.
    pub state_changes: Vec<String>,
    /// Secrets found in function logs.
    pub secrets_found: Vec<String>,
    /// Log files searched for secrets, and the `client_secret`s looked for.
    pub logs_searched: usize,
    pub client_secrets_searched: usize,
    pub api_version: &'static str,
    pub seed: u64,
    pub elapsed: Duration,
}

impl CorpusReport {
    pub fn total(&self) -> usize {
        self.outcomes.len()
    }

    /// 5xx answers (the function's own, or 502 for an invocation the runtime failed).
    pub fn server_errors(&self) -> usize {
        self.outcomes.iter().filter(|o| o.status >= 500).count()
    }

    pub fn non_conforming(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !o.problems.is_empty())
            .count()
    }

    /// Every failure, one line each: empty when the API held.
    pub fn failures(&self) -> Vec<String> {
        let mut failures: Vec<String> = self
            .outcomes
            .iter()
            .flat_map(|o| {
                o.problems
                    .iter()
                    .map(move |p| format!("{} [{}] {}: {p}", o.function, o.category, o.name))
            })
            .collect();
        failures.extend(
            self.state_changes
                .iter()
                .map(|c| format!("state changed: {c}")),
        );
        failures.extend(
            self.secrets_found
                .iter()
                .map(|s| format!("secret in a log: {s}")),
        );
        if self.logs_searched == 0 {
            failures.push("no function log was found to search for secrets".into());
        }
        if self.client_secrets_searched == 0 {
            failures.push("no client_secret was seen, so none was looked for in the logs".into());
        }
        failures
    }

    /// The counts per endpoint and per category by status, aligned.
    pub fn table(&self) -> String {
        let statuses: BTreeSet<u16> = self.outcomes.iter().map(|o| o.status).collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "hostile corpus ({}, seed {}): {} requests in {:.1} s; {} failed; {} answered 5xx; \
             {} state changes; {} secrets in {} function logs",
            self.api_version,
            self.seed,
            self.total(),
            self.elapsed.as_secs_f64(),
            self.non_conforming(),
            self.server_errors(),
            self.state_changes.len(),
            self.secrets_found.len(),
            self.logs_searched,
        );
        for (title, key) in [
            (
                "endpoint",
                (|o: &Outcome| o.function.to_owned()) as fn(&Outcome) -> String,
            ),
            ("category", |o: &Outcome| o.category.to_owned()),
        ] {
            out.push('\n');
            out.push_str(&self.section(title, &statuses, key));
        }
        let state = if self.state_changes.is_empty() {
            "unchanged (no Stripe write to a session, sessions byte-identical, stock and holds identical)".to_owned()
        } else {
            self.state_changes.join("; ")
        };
        let _ = writeln!(out, "\nstate: {state}");
        let secrets = if self.secrets_found.is_empty() {
            format!(
                "none (looked for the Stripe key, the webhook secret and {} client_secrets)",
                self.client_secrets_searched
            )
        } else {
            self.secrets_found.join("; ")
        };
        let _ = writeln!(out, "secrets in logs: {secrets}");
        out
    }

    fn section(
        &self,
        title: &str,
        statuses: &BTreeSet<u16>,
        key: fn(&Outcome) -> String,
    ) -> String {
        let mut rows: BTreeMap<String, (usize, BTreeMap<u16, usize>, usize)> = BTreeMap::new();
        for outcome in &self.outcomes {
            let row = rows.entry(key(outcome)).or_default();
            row.0 += 1;
            *row.1.entry(outcome.status).or_default() += 1;
            row.2 += usize::from(!outcome.problems.is_empty());
        }
        let mut header = vec![title.to_owned(), "total".into()];
        header.extend(statuses.iter().map(|s| {
            if *s == 0 {
                "none".into()
            } else {
                s.to_string()
            }
        }));
        header.push("failed".into());
        let mut table = vec![header];
        let mut totals = (0, BTreeMap::<u16, usize>::new(), 0);
        for (name, (total, by_status, failed)) in &rows {
            let mut line = vec![name.clone(), total.to_string()];
            line.extend(
                statuses
                    .iter()
                    .map(|s| by_status.get(s).map_or("·".into(), usize::to_string)),
            );
            line.push(failed.to_string());
            table.push(line);
            totals.0 += total;
            for (s, n) in by_status {
                *totals.1.entry(*s).or_default() += n;
            }
            totals.2 += failed;
        }
        let mut line = vec!["all".to_owned(), totals.0.to_string()];
        line.extend(
            statuses
                .iter()
                .map(|s| totals.1.get(s).map_or("·".into(), usize::to_string)),
        );
        line.push(totals.2.to_string());
        table.push(line);
        let columns = table.first().map_or(0, Vec::len);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                table
                    .iter()
                    .map(|row| row.get(c).map_or(0, |v| v.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in table {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, width))| {
                    if c == 0 {
                        format!("{cell:<width$}")
                    } else {
                        format!("{cell:>width$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
        out
    }
}

/// Sends the fixed corpus and `generated` seeded random cases to every HTTP endpoint of `stack`,
/// then checks that nothing changed and that no secret reached a function log.
pub fn run_corpus(stack: &Stack, generated: usize, seed: u64) -> Result<CorpusReport> {
    let started = Instant::now();
    let fixtures = setup(stack)?;
    let mut cases = fixed_corpus(&fixtures)?;
    let mut rng = Rng(seed);
    cases.extend((0..generated).map(|n| generated_case(&mut rng, n, &fixtures)));
    let before = snapshot(stack, &fixtures)?;
    let outcomes = run_all(stack, &cases);
    let state_changes = state_changes(stack, &before)?;
    let secrets_found = secrets_in_logs(&fixtures);
    Ok(CorpusReport {
        outcomes,
        state_changes,
        secrets_found,
        logs_searched: log_files().len(),
        client_secrets_searched: fixtures.client_secrets.len(),
        api_version: stack.api_version,
        seed,
        elapsed: started.elapsed(),
    })
}

/// Standard base64 with padding, as API Gateway encodes binary bodies.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                let index = usize::try_from((n >> shift) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"{}"), "e30=");
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn splicing_puts_raw_text_where_the_field_was() {
        let body = json!({ "a": { "b": 1 }, "c": "x" });
        assert_eq!(
            splice(&body, "/a/b", "1e400"),
            r#"{"a":{"b":1e400},"c":"x"}"#
        );
        assert_eq!(
            splice(&body, "/d", "NaN"),
            r#"{"a":{"b":1},"c":"x","d":NaN}"#
        );
        assert_eq!(without(&body, "/c", None), r#"{"a":{"b":1}}"#);
        assert_eq!(without(&body, "/c", Some("C")), r#"{"C":"x","a":{"b":1}}"#);
    }

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

    #[test]
    fn the_generator_is_seeded() {
        let mut a = Rng(7);
        let mut b = Rng(7);
        let one: Vec<String> = (0..50).map(|_| random_json(&mut a, 3)).collect();
        let two: Vec<String> = (0..50).map(|_| random_json(&mut b, 3)).collect();
        assert_eq!(one, two);
    }
}
