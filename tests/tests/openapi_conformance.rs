//! openapi.yaml against reality: each built HTTP function, behind cargo-lambda's runtime emulation
//! with the Stripe emulator and local DynamoDB, is driven into every answer the spec says it gives,
//! and each real status, body and header is validated against the spec. A field, type, status, code
//! or header the spec does not allow fails the test, and so does a status or code the spec lists for
//! a function that no request produced (bar the few named as not reproducible locally).
//!
//! The validator itself is `e2e_tests::openapi`.

use cart_runtime::http::ErrorCode;
use cart_runtime::http::MAX_WEBHOOK_BODY_BYTES;
use cart_validation::request::MAX_BODY_BYTES;
use e2e_tests::openapi::{Spec, HTTP_METHODS};
use e2e_tests::{Reply, Result, Stack, GA_VERSION, PREVIEW_VERSION, TEE_SKU, WEBHOOK_SECRET};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A function and its route, as in its Cargo.toml `[package.metadata.api]`.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    function: &'static str,
    route: &'static str,
}

const CHANGE_INTERVAL: Endpoint = Endpoint {
    function: "change-interval",
    route: "/change-subscription-interval",
};
const CREATE_SESSION: Endpoint = Endpoint {
    function: "create-session",
    route: "/checkout-sessions",
};
const ADD_CROSS_SELL: Endpoint = Endpoint {
    function: "add-cross-sell",
    route: "/add-cross-sell",
};
const UPDATE_SHIPPING: Endpoint = Endpoint {
    function: "update-shipping",
    route: "/update-shipping-details",
};
const UPDATE_QUANTITY: Endpoint = Endpoint {
    function: "update-quantity",
    route: "/update-quantity",
};
const STRIPE_WEBHOOK: Endpoint = Endpoint {
    function: "stripe-webhook",
    route: "/stripe-webhook",
};
/// The route the validator's own tests use.
const ROUTE: &str = CHANGE_INTERVAL.route;

/// Every error code of the taxonomy (each one the API answers belongs in openapi.yaml).
const ALL_CODES: [ErrorCode; 21] = ErrorCode::ALL;

/// What one test saw of one endpoint: (method, status) -> codes.
#[derive(Debug)]
struct Seen {
    endpoint: Endpoint,
    answers: BTreeMap<(String, u16), BTreeSet<String>>,
}

impl Seen {
    fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            answers: BTreeMap::new(),
        }
    }

    /// Asserts the answer (status, body and headers) conforms, and remembers it.
    fn record(&mut self, spec: &Spec, what: &str, method: &str, reply: &Reply) {
        let route = self.endpoint.route;
        let mut problems = spec.check(route, method, reply.status, &reply.body);
        problems.extend(spec.check_headers(route, method, reply));
        assert!(
            problems.is_empty(),
            "{what}: {method} {route} answered {} {} (Retry-After {:?}, replayed {}), which \
             openapi.yaml does not allow:\n  {}",
            reply.status,
            reply.body,
            reply.retry_after,
            reply.replayed,
            problems.join("\n  ")
        );
        let codes = self
            .answers
            .entry((method.to_owned(), reply.status))
            .or_default();
        if let Some(code) = reply.body["code"].as_str() {
            codes.insert(code.to_owned());
        }
    }

    /// POSTs to the endpoint, records the answer, and returns it.
    fn post(
        &mut self,
        spec: &Spec,
        stack: &Stack,
        what: &str,
        input: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let reply = send(stack, self.endpoint, input, headers)?;
        self.record(spec, what, "POST", &reply);
        Ok(reply)
    }

    /// The answers given before the body is read: too large (413, checked before the signature
    /// on the webhook) and not JSON (415), each also with a body that would otherwise be valid.
    fn unread(&mut self, spec: &Spec, stack: &Stack) -> Result {
        let limit = if self.endpoint.route == STRIPE_WEBHOOK.route {
            MAX_WEBHOOK_BODY_BYTES
        } else {
            MAX_BODY_BYTES
        };
        let big = json!({ "pad": "x".repeat(limit) }).to_string();
        let too_large = send(stack, self.endpoint, &big, &[])?;
        assert_eq!(too_large.status, 413, "{}", too_large.body);
        self.record(spec, "a body over the limit", "POST", &too_large);
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let reply = send_as(stack, self.endpoint, content_type, "{}")?;
            assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.body);
            self.record(spec, "not sent as JSON", "POST", &reply);
        }
        let charset = send_as(
            stack,
            self.endpoint,
            Some("Application/JSON; charset=UTF-8"),
            "[]",
        )?;
        assert_ne!(charset.status, 415, "{}", charset.body);
        self.record(spec, "JSON with a charset", "POST", &charset);
        Ok(())
    }

    /// GETs the endpoint straight from its function URL (the HTTP API would not route it).
    fn get(&mut self, spec: &Spec, stack: &Stack) -> Result {
        let Endpoint { function, route } = self.endpoint;
        let reply = get(&stack.functions.url(function, route))?;
        self.record(spec, "GET on the function URL", "GET", &reply);
        Ok(())
    }

    /// Asserts that every answer the spec says the function gives was produced, with every code,
    /// except those listed as not reproducible locally.
    fn assert_covers(&self, spec: &Spec, not_reproducible: &[(u16, &str)]) -> Result {
        let route = self.endpoint.route;
        for method in ["POST", "GET"] {
            for (status, mut codes) in spec.function_answers(route, method)? {
                codes.retain(|c| !not_reproducible.contains(&(status, c.as_str())));
                let key = (method.to_owned(), status);
                let seen = self.answers.get(&key).cloned().unwrap_or_default();
                assert!(
                    self.answers.contains_key(&key) || codes.is_empty() && status != 200,
                    "openapi.yaml lists {method} {route} -> {status}, which no request produced; \
                     seen: {:?}",
                    self.answers
                );
                assert_eq!(
                    seen, codes,
                    "{method} {route} {status}: codes produced vs listed in openapi.yaml"
                );
            }
        }
        Ok(())
    }
}

fn body(session_id: &str, interval: &str) -> String {
    json!({ "checkout_session_id": session_id, "interval": interval }).to_string()
}

fn session_id(created: &Value) -> Result<String> {
    Ok(created["id"].as_str().ok_or("session id")?.to_owned())
}

/// POSTs to a function, with optional headers, keeping the answer's headers.
fn send(stack: &Stack, endpoint: Endpoint, input: &str, headers: &[(&str, &str)]) -> Result<Reply> {
    stack
        .functions
        .send(endpoint.function, endpoint.route, input, headers)
}

fn get(url: &str) -> Result<Reply> {
    let response = agent().get(url).call()?;
    reply(response)
}

/// POSTs `input` with the given Content-Type (or none).
fn send_as(
    stack: &Stack,
    endpoint: Endpoint,
    content_type: Option<&str>,
    input: &str,
) -> Result<Reply> {
    let mut request = agent().post(stack.functions.url(endpoint.function, endpoint.route));
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    reply(request.send(input)?)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Result<Reply> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (retry_after, replayed) = (header("retry-after"), header("idempotent-replayed"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok(Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        replayed: replayed.as_deref() == Some("true"),
        retry_after,
    })
}

/// A stack with two instances of each function, so answers that need a request in flight (in
/// progress, busy) can happen; short waits keep those quick, and a long Stripe budget lets a slowed
/// call finish on its first attempt.
fn concurrent_stack() -> Result<Stack> {
    let env = [
        ("IDEMPOTENCY_WAIT_MS", "300"),
        ("LEASE_WAIT_MS", "300"),
        ("STRIPE_TIMEOUT_MS", "10000"),
    ];
    Stack::builder(GA_VERSION).env(&env).instances(2).start()
}

/// A recurring price of a product the catalog does not know.
fn off_catalog_price(stack: &Stack) -> Result<String> {
    let product = stack
        .stripe
        .create("/v1/products", &[("name", "Legacy plan")], GA_VERSION)?;
    let price = stack.stripe.create(
        "/v1/prices",
        &[
            ("currency", "usd"),
            ("unit_amount", "900"),
            ("recurring[interval]", "month"),
            ("product", product["id"].as_str().ok_or("product id")?),
        ],
        GA_VERSION,
    )?;
    Ok(price["id"].as_str().ok_or("price id")?.to_owned())
}

/// Sends `first` and, while Stripe holds its `stripe_method` call to `stripe_path` for 4 s, `twin`
/// then `other`; returns the three answers.
fn while_one_is_slow(
    stack: &Stack,
    endpoint: Endpoint,
    (stripe_method, stripe_path): (&str, &str),
    first: (&str, &[(&str, &str)]),
    twin: (&str, &[(&str, &str)]),
    other: (&str, &[(&str, &str)]),
) -> Result<[Reply; 3]> {
    stack.stripe.inject_fault(&json!({
        "method": stripe_method, "path_prefix": stripe_path, "latency_ms": 4000, "count": 1
    }))?;
    let (slow, twin, other) = std::thread::scope(|scope| {
        let slow = scope.spawn(|| send(stack, endpoint, first.0, first.1));
        std::thread::sleep(Duration::from_millis(700));
        let twin = send(stack, endpoint, twin.0, twin.1);
        let other = send(stack, endpoint, other.0, other.1);
        (slow.join(), twin, other)
    });
    Ok([
        slow.map_err(|_| "the slow request panicked")??,
        twin?,
        other?,
    ])
}

// --- the spec itself ------------------------------------------------------------------------------

#[test]
fn openapi_error_codes_sit_under_the_status_the_taxonomy_answers_them_with() -> Result {
    let spec = Spec::load();
    let by_name: BTreeMap<&str, ErrorCode> = ALL_CODES.iter().map(|c| (c.as_str(), *c)).collect();
    let paths = spec.doc["paths"].as_object().ok_or("paths")?;
    let mut checked = 0;
    for (path, item) in paths {
        let item = item.as_object().ok_or("path item")?;
        // An operation's own responses, and those of methods the path does not route.
        let mut all: Vec<&Value> = item
            .iter()
            .filter(|(key, _)| HTTP_METHODS.contains(&key.as_str()))
            .map(|(_, operation)| &operation["responses"])
            .collect();
        if let Some(other) = item.get("x-other-methods") {
            all.push(&spec.deref(other)?["responses"]);
        }
        for responses in all {
            for (status, response) in responses.as_object().ok_or("responses")? {
                let status: u16 = status.parse()?;
                for code in spec.codes(response) {
                    let known = by_name
                        .get(code.as_str())
                        .ok_or_else(|| format!("{path} {status}: `{code}` is not an ErrorCode"))?;
                    assert_eq!(
                        known.status(),
                        status,
                        "{path}: `{code}` is listed under {status}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 8,
        "only {checked} codes found: is the spec readable?"
    );
    Ok(())
}

#[test]
fn openapi_validator_refuses_what_the_spec_does_not_allow() {
    let spec = Spec::load();
    let success = json!({"type": "success", "session": {
        "id": "cs_test_abc", "status": "open", "currency": "usd", "amount_subtotal": 1500,
        "amount_total": 1500,
        "line_items": [{"id": "li_1", "price": "price_1", "quantity": 1, "amount_total": 1500}]
    }});
    let error =
        json!({"type": "error", "code": "invalid_request", "message": "m", "param": "interval"});
    assert_eq!(
        spec.check(ROUTE, "POST", 200, &success),
        Vec::<String>::new()
    );
    assert_eq!(spec.check(ROUTE, "POST", 400, &error), Vec::<String>::new());
    let mut nulls = success.clone();
    nulls["session"]["currency"] = Value::Null;
    assert_eq!(spec.check(ROUTE, "POST", 200, &nulls), Vec::<String>::new());

    let mutate = |base: &Value, pointer: &str, value: Value| {
        let mut copy = base.clone();
        if let Some(slot) = copy.pointer_mut(pointer) {
            *slot = value;
        }
        copy
    };
    let mut extra_field = success.clone();
    extra_field["session"]["client_secret"] = json!("cs_secret");
    let mut missing = error.clone();
    if let Some(fields) = missing.as_object_mut() {
        fields.remove("message");
    }
    let refused: [(&str, u16, Value); 11] = [
        ("field the spec does not allow", 200, extra_field),
        (
            "wrong type",
            200,
            mutate(&success, "/session/amount_total", json!("1500")),
        ),
        (
            "float for an integer",
            200,
            mutate(&success, "/session/amount_total", json!(15.5)),
        ),
        (
            "null where not nullable",
            200,
            mutate(&success, "/session/line_items/0/quantity", Value::Null),
        ),
        (
            "unknown status value",
            200,
            mutate(&success, "/session/status", json!("paid")),
        ),
        (
            "id of the wrong kind",
            200,
            mutate(&success, "/session/line_items/0/price", json!("prod_1")),
        ),
        (
            "code not listed under this status",
            400,
            mutate(&error, "/code", json!("session_not_found")),
        ),
        ("missing required field", 400, missing),
        ("empty message", 400, mutate(&error, "/message", json!(""))),
        ("status the spec does not list", 418, error.clone()),
        ("success shape for an error status", 404, success.clone()),
    ];
    for (what, status, body) in refused {
        assert!(
            !spec.check(ROUTE, "POST", status, &body).is_empty(),
            "{what} must be refused: {status} {body}"
        );
    }
    // Exactly one branch of the 500 oneOf must match.
    assert!(spec
        .check(
            ROUTE,
            "POST",
            500,
            &json!({"message": "Internal Server Error"})
        )
        .is_empty());
    assert!(!spec
        .check(
            ROUTE,
            "POST",
            500,
            &json!({"message": "x", "code": "internal_error"})
        )
        .is_empty());

    // Headers: only where declared, with the declared value.
    let reply = |status: u16, retry_after: Option<&str>, replayed: bool| Reply {
        status,
        body: Value::Null,
        replayed,
        retry_after: retry_after.map(str::to_owned),
    };
    assert!(spec
        .check_headers(ROUTE, "POST", &reply(409, Some("1"), false))
        .is_empty());
    assert!(spec
        .check_headers(ROUTE, "POST", &reply(200, None, true))
        .is_empty());
    for (what, bad) in [
        ("Retry-After on a 200", reply(200, Some("1"), false)),
        (
            "Retry-After that is not seconds",
            reply(409, Some("soon"), false),
        ),
        ("a replayed 400 (never stored)", reply(400, None, true)),
    ] {
        assert!(
            !spec.check_headers(ROUTE, "POST", &bad).is_empty(),
            "{what}"
        );
    }
}

// --- the real function ----------------------------------------------------------------------------

#[test]
fn openapi_every_change_interval_answer_conforms_under_the_ga_api() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    let c = &stack.catalog;
    let mut seen = Seen::new(CHANGE_INTERVAL);
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let id = session_id(&stack.create_session(&[(&c.sticker, 2), (&c.monthly, 1)])?)?;
    let changed = post("change to yearly", &body(&id, "yearly"), &[])?;
    assert_eq!(changed.body["type"], "success", "{}", changed.body);
    post("no-op change", &body(&id, "yearly"), &[])?;
    post("not JSON", "{\"checkout_session_id\": ", &[])?;
    post("JSON but not an object", "[1]", &[])?;
    let no_interval = json!({ "checkout_session_id": id }).to_string();
    post("interval missing", &no_interval, &[])?;
    post(
        "session id of another kind",
        &body("sub_123", "monthly"),
        &[],
    )?;
    let long_key = "k".repeat(256);
    let long_key = [("Idempotency-Key", long_key.as_str())];
    post("Idempotency-Key too long", &body(&id, "monthly"), &long_key)?;
    post(
        "unknown session",
        &body("cs_test_doesNotExist0000", "monthly"),
        &[],
    )?;

    let expired = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &body(&expired, "yearly"), &[])?;

    // A plan price the catalog does not know: there is no counterpart to switch to.
    let legacy = off_catalog_price(&stack)?;
    let off_catalog = session_id(&stack.create_session(&[(&legacy, 1)])?)?;
    post(
        "plan not in the catalog",
        &body(&off_catalog, "yearly"),
        &[],
    )?;

    // Idempotency: a replay carries Idempotent-Replayed; the key with another body is refused.
    let keyed = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    let key = [("Idempotency-Key", "conformance-1")];
    let first = post("keyed change", &body(&keyed, "yearly"), &key)?;
    let replay = post("keyed replay", &body(&keyed, "yearly"), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &body(&keyed, "monthly"),
        &key,
    )?;

    // Stripe refusing the update we built is our fault: 500 internal_error.
    let refused = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post("Stripe refuses the update", &body(&refused, "yearly"), &[])?;

    // Stripe failing every attempt: 502 after the bounded retries.
    let down = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &body(&down, "yearly"), &[])?;

    // While one change of a session waits on a slow Stripe: its twin is in progress, and any other
    // change of that session finds the session busy.
    let slow = session_id(&stack.create_session(&[(&c.monthly, 1)])?)?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "conformance-slow")];
    let other_key: &[(&str, &str)] = &[("Idempotency-Key", "other")];
    let yearly = body(&slow, "yearly");
    let [first, twin, other] = while_one_is_slow(
        &stack,
        CHANGE_INTERVAL,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&yearly, slow_key),
        (&yearly, slow_key),
        (&yearly, other_key),
    )?;
    seen.record(&spec, "slow change", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    assert_eq!(twin.body["code"], "request_in_progress", "{}", twin.body);
    seen.record(&spec, "other change of a leased session", "POST", &other);
    assert_eq!(other.body["code"], "session_busy", "{}", other.body);

    seen.unread(&spec, &stack)?;
    seen.get(&spec, &stack)?;
    seen.assert_covers(&spec, &[])
}

#[test]
fn openapi_every_create_session_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 3)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(CREATE_SESSION);
    let cart = |items: &[(&str, i64)]| {
        let items: Vec<Value> = items
            .iter()
            .map(|(price, quantity)| json!({ "price": price, "quantity": quantity }))
            .collect();
        json!({ "items": items }).to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let created = post(
        "a plan and stickers",
        &cart(&[(&c.monthly, 1), (&c.sticker, 2)]),
        &[],
    )?;
    assert!(
        created.body["session"]["client_secret"].is_string(),
        "{}",
        created.body
    );
    post("stock-tracked item", &cart(&[(&c.tee, 2)]), &[])?;
    post("more than the stock left", &cart(&[(&c.tee, 2)]), &[])?;
    post("not JSON", "{\"items\": [", &[])?;
    post("no items", &json!({ "items": [] }).to_string(), &[])?;
    post("not a price id", &cart(&[("prod_1", 1)]), &[])?;
    post("quantity 0", &cart(&[(&c.sticker, 0)]), &[])?;
    let wrong_mode =
        json!({ "items": [{ "price": c.sticker, "quantity": 1 }], "mode": "subscription" });
    post("mode that does not fit", &wrong_mode.to_string(), &[])?;
    let legacy = off_catalog_price(&stack)?;
    post("price not in the catalog", &cart(&[(&legacy, 1)]), &[])?;
    post(
        "above the product's bounds",
        &cart(&[(&c.onboarding, 2)]),
        &[],
    )?;

    let key = [("Idempotency-Key", "create-1")];
    let first = post("keyed create", &cart(&[(&c.sticker, 1)]), &key)?;
    let replay = post("keyed replay", &cart(&[(&c.sticker, 1)]), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &cart(&[(&c.sticker, 3)]),
        &key,
    )?;

    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": "/v1/checkout/sessions", "status": 400, "count": 1
    }))?;
    post("Stripe refuses the session", &cart(&[(&c.sticker, 1)]), &[])?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": "/v1/checkout/sessions", "status": 500, "count": 3
    }))?;
    post("Stripe unavailable", &cart(&[(&c.sticker, 1)]), &[])?;

    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "create-slow")];
    let stickers = cart(&[(&c.sticker, 1)]);
    let [first, twin, other] = while_one_is_slow(
        &stack,
        CREATE_SESSION,
        ("POST", "/v1/checkout/sessions"),
        (&stickers, slow_key),
        (&stickers, slow_key),
        (&stickers, &[]),
    )?;
    seen.record(&spec, "slow create", "POST", &first);
    seen.record(&spec, "twin of a running create", "POST", &twin);
    assert_eq!(twin.body["code"], "request_in_progress", "{}", twin.body);
    seen.record(&spec, "another create meanwhile", "POST", &other);

    seen.unread(&spec, &stack)?;
    seen.get(&spec, &stack)?;
    // session_busy: only when a reservation's holds move under it, which needs a writer that
    // ignores the lease. stock_busy: only when DynamoDB cancels transactions on a busy stock item
    // (TransactionConflict), which the local DynamoDB, one request at a time, never does.
    seen.assert_covers(&spec, &[(409, "session_busy"), (409, "stock_busy")])
}

#[test]
fn openapi_every_update_quantity_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 3)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(UPDATE_QUANTITY);
    // A session of this app (stock held) with `items`; returns its id and its items' ids, in order.
    let new_cart = |items: &[(&str, i64)]| -> Result<(String, Vec<String>)> {
        let created = stack.create_cart(items, None)?;
        assert_eq!(created.status, 200, "{}", created.body);
        let session = &created.body["session"];
        let ids = session["line_items"]
            .as_array()
            .ok_or("line items")?
            .iter()
            .filter_map(|li| li["id"].as_str().map(str::to_owned))
            .collect();
        Ok((session_id(session)?, ids))
    };
    let set = |session: &str, item: &str, quantity: i64| {
        json!({ "checkout_session_id": session, "line_item_id": item, "quantity": quantity })
            .to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    // 3 T-shirts in stock: this cart holds 1, then 2; 5 would need 3 more than are left.
    let (id, items) = new_cart(&[(&c.sticker, 1), (&c.tee, 1)])?;
    let (sticker, tee) = (&items[0], &items[1]);
    post("more T-shirts", &set(&id, tee, 2), &[])?;
    post("beyond the stock", &set(&id, tee, 5), &[])?;
    post("above the bounds", &set(&id, tee, 6), &[])?;
    post("remove the stickers", &set(&id, sticker, 0), &[])?;
    post("remove the last item", &set(&id, tee, 0), &[])?;
    post("unknown item", &set(&id, "li_doesNotExist0", 1), &[])?;
    post(
        "unknown session",
        &set("cs_test_doesNotExist0000", tee, 1),
        &[],
    )?;
    post("not JSON", "{", &[])?;
    post("negative quantity", &set(&id, tee, -1), &[])?;

    let key = [("Idempotency-Key", "quantity-1")];
    let first = post("keyed change", &set(&id, tee, 1), &key)?;
    let replay = post("keyed replay", &set(&id, tee, 1), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post("key reused with another body", &set(&id, tee, 2), &key)?;

    // The other carts hold no T-shirt: the stock is spoken for.
    let untracked: &[(&str, i64)] = &[(&c.sticker, 1), (&c.onboarding, 1)];
    let (expired, expired_items) = new_cart(untracked)?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &set(&expired, &expired_items[0], 2), &[])?;

    // An item whose price the catalog does not (or no longer) know.
    let legacy = off_catalog_price(&stack)?;
    let foreign = session_id(&stack.create_session(&[(&legacy, 1), (&c.sticker, 1)])?)?;
    let foreign_item = stack.stripe.session(&foreign)?["line_items"]["data"][0]["id"]
        .as_str()
        .ok_or("item id")?
        .to_owned();
    post(
        "item not in the catalog",
        &set(&foreign, &foreign_item, 2),
        &[],
    )?;

    let (refused, refused_items) = new_cart(untracked)?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post(
        "Stripe refuses the update",
        &set(&refused, &refused_items[0], 3),
        &[],
    )?;
    let (down, down_items) = new_cart(untracked)?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &set(&down, &down_items[0], 3), &[])?;

    let (slow, slow_items) = new_cart(untracked)?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "quantity-slow")];
    let change = set(&slow, &slow_items[0], 2);
    let [first, twin, other] = while_one_is_slow(
        &stack,
        UPDATE_QUANTITY,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&change, slow_key),
        (&change, slow_key),
        (&set(&slow, &slow_items[0], 3), &[]),
    )?;
    seen.record(&spec, "slow change", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    assert_eq!(twin.body["code"], "request_in_progress", "{}", twin.body);
    seen.record(&spec, "other change of a leased session", "POST", &other);
    assert_eq!(other.body["code"], "session_busy", "{}", other.body);

    seen.unread(&spec, &stack)?;
    seen.get(&spec, &stack)?;
    // stock_busy: needs DynamoDB transaction conflicts, which the local DynamoDB never has.
    // cart_too_large: the complimentary item would have to be the 101st of a payment cart, which
    // no cart this catalog can build reaches (add-cross-sell shows the code).
    seen.assert_covers(&spec, &[(409, "stock_busy"), (422, "cart_too_large")])
}

#[test]
fn openapi_every_add_cross_sell_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(e2e_tests::MUG_SKU, 1)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(ADD_CROSS_SELL);
    let new_cart = |items: &[(&str, i64)]| -> Result<String> {
        let created = stack.create_cart(items, None)?;
        assert_eq!(created.status, 200, "{}", created.body);
        session_id(&created.body["session"])
    };
    let offer = |session: &str, price: &str| {
        json!({ "checkout_session_id": session, "price_id": price }).to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let id = new_cart(&[(&c.monthly, 1)])?;
    post("add the mug", &offer(&id, &c.mug), &[])?;
    post("add it again", &offer(&id, &c.mug), &[])?;
    post("not an offer", &offer(&id, &c.sticker), &[])?;
    post("bad price id", &offer(&id, "prod_1"), &[])?;
    post("not JSON", "{", &[])?;
    post(
        "unknown session",
        &offer("cs_test_doesNotExist0000", &c.mug),
        &[],
    )?;
    let other = new_cart(&[(&c.monthly, 1)])?;
    post("no mug left", &offer(&other, &c.mug), &[])?;

    let key = [("Idempotency-Key", "offer-1")];
    let first = post("keyed add", &offer(&other, &c.support_monthly), &key)?;
    let replay = post("keyed replay", &offer(&other, &c.support_monthly), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &offer(&other, &c.support_yearly),
        &key,
    )?;

    let expired = new_cart(&[(&c.monthly, 1)])?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &offer(&expired, &c.support_monthly), &[])?;

    let refused = new_cart(&[(&c.monthly, 1)])?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post(
        "Stripe refuses the update",
        &offer(&refused, &c.support_monthly),
        &[],
    )?;
    let down = new_cart(&[(&c.monthly, 1)])?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &offer(&down, &c.support_monthly), &[])?;

    let full = cart_at_stripes_limit(&stack)?;
    let mugs_held = stack.dynamo.stock(e2e_tests::MUG_SKU)?.held;
    let at_limit = post("a cart at Stripe's limit", &offer(&full, &c.mug), &[])?;
    assert_eq!(at_limit.body["code"], "cart_too_large", "{}", at_limit.body);
    assert_eq!(
        stack.dynamo.stock(e2e_tests::MUG_SKU)?.held,
        mugs_held,
        "nothing held"
    );

    let slow = new_cart(&[(&c.monthly, 1)])?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "offer-slow")];
    let add = offer(&slow, &c.support_monthly);
    let [first, twin, other_change] = while_one_is_slow(
        &stack,
        ADD_CROSS_SELL,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&add, slow_key),
        (&add, slow_key),
        (&offer(&slow, &c.mug), &[]),
    )?;
    seen.record(&spec, "slow add", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    seen.record(
        &spec,
        "other change of a leased session",
        "POST",
        &other_change,
    );

    seen.unread(&spec, &stack)?;
    seen.get(&spec, &stack)?;
    // stock_busy: needs DynamoDB transaction conflicts, which the local DynamoDB never has.
    seen.assert_covers(&spec, &[(409, "stock_busy")])
}

/// A subscription session made straight on Stripe, as this app would have made it, holding the
/// plan and 20 one-time items: Stripe's most (API reference, create a Checkout Session,
/// `line_items`: 20 recurring and 20 one-time in subscription mode).
fn cart_at_stripes_limit(stack: &Stack) -> Result<String> {
    let v = GA_VERSION;
    let product = stack
        .stripe
        .create("/v1/products", &[("name", "Filler")], v)?;
    let product = product["id"].as_str().ok_or("product id")?.to_owned();
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "subscription".into()),
        ("ui_mode".into(), "elements".into()),
        ("return_url".into(), "https://shop.example/return".into()),
        ("metadata[cart_reservation]".into(), "rsv_at_limit".into()),
        ("line_items[0][price]".into(), stack.catalog.monthly.clone()),
        ("line_items[0][quantity]".into(), "1".into()),
    ];
    for n in 1..=20 {
        let amount = (100 + n).to_string();
        let price = stack.stripe.create(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", &amount),
                ("product", &product),
            ],
            v,
        )?;
        let price = price["id"].as_str().ok_or("price id")?.to_owned();
        form.push((format!("line_items[{n}][price]"), price));
        form.push((format!("line_items[{n}][quantity]"), "1".into()));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let session = stack.stripe.create("/v1/checkout/sessions", &form, v)?;
    Ok(session["id"].as_str().ok_or("session id")?.to_owned())
}

#[test]
fn openapi_every_update_shipping_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(UPDATE_SHIPPING);
    let new_cart = |items: &[(&str, i64)]| -> Result<String> {
        let created = stack.create_cart(items, None)?;
        assert_eq!(created.status, 200, "{}", created.body);
        session_id(&created.body["session"])
    };
    let ship = |session: &str, country: &str, name: &str| {
        json!({ "checkout_session_id": session, "shipping_details": { "name": name, "address": {
            "line1": "1 Main St", "city": "San Francisco", "state": "CA", "postal_code": "94105",
            "country": country } } })
        .to_string()
    };
    let mut post = |what: &str, input: &str, headers: &[(&str, &str)]| {
        seen.post(&spec, &stack, what, input, headers)
    };

    let id = new_cart(&[(&c.tee, 1)])?;
    post("ship to California", &ship(&id, "US", "Ada"), &[])?;
    post("the same again", &ship(&id, "US", "Ada"), &[])?;
    post(
        "a country the store does not serve",
        &ship(&id, "FR", "Ada"),
        &[],
    )?;
    post("a lowercase country", &ship(&id, "us", "Ada"), &[])?;
    post(
        "no address",
        &json!({ "checkout_session_id": id, "shipping_details": { "name": "Ada" } }).to_string(),
        &[],
    )?;
    post("not JSON", "{", &[])?;
    post(
        "unknown session",
        &ship("cs_test_doesNotExist0000", "US", "Ada"),
        &[],
    )?;

    let other = new_cart(&[(&c.tee, 1)])?;
    let key = [("Idempotency-Key", "ship-1")];
    let first = post("keyed", &ship(&other, "US", "Ada"), &key)?;
    let replay = post("keyed replay", &ship(&other, "US", "Ada"), &key)?;
    assert!(
        replay.replayed && replay.body == first.body,
        "{}",
        replay.body
    );
    post(
        "key reused with another body",
        &ship(&other, "CA", "Ada"),
        &key,
    )?;

    let expired = new_cart(&[(&c.tee, 1)])?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    post("expired session", &ship(&expired, "US", "Ada"), &[])?;

    let refused = new_cart(&[(&c.tee, 1)])?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    post(
        "Stripe refuses the update",
        &ship(&refused, "US", "Ada"),
        &[],
    )?;
    let down = new_cart(&[(&c.tee, 1)])?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    post("Stripe unavailable", &ship(&down, "US", "Ada"), &[])?;

    let slow = new_cart(&[(&c.tee, 1)])?;
    let slow_key: &[(&str, &str)] = &[("Idempotency-Key", "ship-slow")];
    let change = ship(&slow, "US", "Ada");
    let [first, twin, other_change] = while_one_is_slow(
        &stack,
        UPDATE_SHIPPING,
        ("POST", &format!("/v1/checkout/sessions/{slow}")),
        (&change, slow_key),
        (&change, slow_key),
        (&ship(&slow, "US", "Grace"), &[]),
    )?;
    seen.record(&spec, "slow update", "POST", &first);
    seen.record(&spec, "twin of a running request", "POST", &twin);
    seen.record(
        &spec,
        "other change of a leased session",
        "POST",
        &other_change,
    );

    seen.unread(&spec, &stack)?;
    seen.get(&spec, &stack)?;
    seen.assert_covers(&spec, &[])
}

/// A fresh `Stripe-Signature` for `payload` with the stack's webhook secret.
fn signed(payload: &str) -> Result<String> {
    e2e_tests::stripe_signature(payload, WEBHOOK_SECRET, e2e_tests::now_s())
}

#[test]
fn openapi_every_stripe_webhook_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(STRIPE_WEBHOOK);
    // A session of this app holding a T-shirt, and its reservation.
    let held = || -> Result<(String, String)> {
        let created = stack.create_cart(&[(&c.tee, 1)], None)?;
        let id = session_id(&created.body["session"])?;
        let session = stack.stripe.session(&id)?;
        let reservation = session["metadata"]["cart_reservation"]
            .as_str()
            .ok_or("reservation")?;
        Ok((id, reservation.to_owned()))
    };
    let event = |id: &str, kind: &str, session: &str, reservation: &str| {
        json!({
            "id": id, "object": "event", "type": kind,
            "data": { "object": { "id": session, "object": "checkout.session",
                                  "metadata": { "cart_reservation": reservation } } }
        })
        .to_string()
    };
    let mut post = |what: &str, payload: &str, signature: Option<&str>| -> Result<Reply> {
        let signed = match signature {
            Some(given) => given.to_owned(),
            None => signed(payload)?,
        };
        seen.post(
            &spec,
            &stack,
            what,
            payload,
            &[("Stripe-Signature", &signed)],
        )
    };

    let (id, reservation) = held()?;
    let expired = event("evt_conf_1", "checkout.session.expired", &id, &reservation);
    post("unsigned", &expired, Some(""))?;
    post("wrong signature", &expired, Some("t=1,v1=00"))?;
    post("signed, not JSON", "{", None)?;
    let other = event("evt_conf_2", "customer.created", &id, &reservation);
    post("an event this app ignores", &other, None)?;
    let released = post("expired session", &expired, None)?;
    let again = post("redelivery", &expired, None)?;
    assert!(
        again.replayed && again.body == released.body,
        "{}",
        again.body
    );
    let (sold, sold_reservation) = held()?;
    let completed = event(
        "evt_conf_3",
        "checkout.session.completed",
        &sold,
        &sold_reservation,
    );
    post("completed session", &completed, None)?;
    let unknown = event(
        "evt_conf_4",
        "checkout.session.expired",
        "cs_test_doesNotExist0000",
        &reservation,
    );
    post("session Stripe does not know", &unknown, None)?;

    let (refused, refused_reservation) = held()?;
    stack.stripe.inject_fault(&json!({
        "method": "GET", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    let refused_event = event(
        "evt_conf_5",
        "checkout.session.expired",
        &refused,
        &refused_reservation,
    );
    post("Stripe refuses the read", &refused_event, None)?;
    let (down, down_reservation) = held()?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    let down_event = event(
        "evt_conf_6",
        "checkout.session.expired",
        &down,
        &down_reservation,
    );
    post("Stripe unavailable", &down_event, None)?;

    let (slow, slow_reservation) = held()?;
    let first = event(
        "evt_conf_7",
        "checkout.session.expired",
        &slow,
        &slow_reservation,
    );
    let second = event(
        "evt_conf_8",
        "checkout.session.expired",
        &slow,
        &slow_reservation,
    );
    let (first_sig, second_sig) = (signed(&first)?, signed(&second)?);
    let first_sig: &[(&str, &str)] = &[("Stripe-Signature", &first_sig)];
    let second_sig: &[(&str, &str)] = &[("Stripe-Signature", &second_sig)];
    let [first, twin, other] = while_one_is_slow(
        &stack,
        STRIPE_WEBHOOK,
        ("GET", &format!("/v1/checkout/sessions/{slow}")),
        (&first, first_sig),
        (&first, first_sig),
        (&second, second_sig),
    )?;
    seen.record(&spec, "slow delivery", "POST", &first);
    seen.record(&spec, "redelivery while the first runs", "POST", &twin);
    assert_eq!(twin.body["code"], "request_in_progress", "{}", twin.body);
    seen.record(&spec, "another event of that session", "POST", &other);
    assert_eq!(other.body["code"], "session_busy", "{}", other.body);

    seen.unread(&spec, &stack)?;
    seen.get(&spec, &stack)?;
    seen.assert_covers(&spec, &[])
}

#[test]
fn openapi_answers_conform_under_the_preview_api_too() -> Result {
    let spec = Spec::load();
    let stack = Stack::start(PREVIEW_VERSION, &[])?;
    let c = &stack.catalog;
    let mut seen = Seen::new(CHANGE_INTERVAL);

    let id = session_id(&stack.create_session(&[(&c.monthly, 3), (&c.onboarding, 1)])?)?;
    let changed = send(&stack, CHANGE_INTERVAL, &body(&id, "yearly"), &[])?;
    assert_eq!(changed.status, 200, "{}", changed.body);
    seen.record(&spec, "change to yearly", "POST", &changed);

    stack.stripe.expire_session(&id, PREVIEW_VERSION)?;
    let refused = send(&stack, CHANGE_INTERVAL, &body(&id, "monthly"), &[])?;
    assert_eq!(refused.status, 409, "{}", refused.body);
    seen.record(&spec, "expired session", "POST", &refused);
    Ok(())
}
