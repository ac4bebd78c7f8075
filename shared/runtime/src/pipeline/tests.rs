//! In-process handler tests: the real pipeline over a fake Stripe gateway.

use super::admission::Accepted;
use super::stripe_keys::{StripeKeys, FRESH_KEYS_PER_REQUEST};
use super::*;
use crate::guard::{now_ms, IdempotencyKey};
use crate::inventory::{move_holds_reconciled, Reconcile};
use crate::stripe::{NewSession, StripeError};
use cart_validation::{plan, PlannedLineItem, SessionSnapshot, StockChange};

fn change_interval(body: &[u8]) -> Result<Operation, Rejection> {
    cart_validation::request::change_interval(body).map(Operation::Change)
}

fn update_quantity(body: &[u8]) -> Result<Operation, Rejection> {
    cart_validation::request::update_quantity(body).map(Operation::Change)
}
use crate::guard::memory::MemoryGuardStore;
use crate::inventory::memory::MemoryInventory;
use cart_validation::{CartPlan, Sku, RESERVATION_METADATA_KEY};
use cart_validation::{
    CheckoutSessionId, LineItemId, LineItemSnapshot, PaymentStatus, PriceId, PriceSnapshot,
    Recurring, RecurringInterval, SessionMode, SessionStatus, UiMode, UpdateLineItemsPermission,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
struct FakeStripe {
    session: Mutex<Option<SessionSnapshot>>,
    retrieve_error: Mutex<Option<StripeError>>,
    update_error: Mutex<Option<StripeError>>,
    /// Apply the update, then report a timeout (Stripe did the work, the answer got lost).
    lose_update_answer: Mutex<bool>,
    /// Report a timeout and keep the update to apply later ([`FakeStripe::land_late_update`]):
    /// Stripe still had the request when the function stopped waiting.
    delay_update: Mutex<bool>,
    late_update: Mutex<Option<CartPlan>>,
    updates: Mutex<Vec<(Vec<PlannedLineItem>, String)>>,
    /// The idempotency key of every create.
    creates: Mutex<Vec<String>>,
    /// The session expiry first sent under each create key: Stripe refuses a key reused with
    /// other parameters (`idempotency_error`).
    create_params: Mutex<BTreeMap<String, Option<i64>>>,
    /// Stripe's event log, as the events list endpoint serves it.
    events: Mutex<Vec<crate::stripe::CheckoutEvent>>,
    /// Where a call stops answering, as if the function were killed there.
    hang: Mutex<Option<Hang>>,
    /// The next this many writes fail with a 500 that Stripe saves under their key.
    saved_500s: Mutex<u32>,
    /// Keys under which Stripe saved a failure: every reuse gets the same failure back.
    saved_failures: Mutex<std::collections::BTreeSet<String>>,
}

/// The points at which a handler can die with Stripe half way through a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hang {
    BeforeRetrieve,
    BeforeWrite,
    AfterWrite,
}

impl FakeStripe {
    /// A failure Stripe saved under `key` (new or replayed), as Stripe's idempotency layer does.
    fn saved_failure(&self, key: &str) -> Option<StripeError> {
        let mut saved = self.saved_failures.lock().unwrap();
        let mut fresh = self.saved_500s.lock().unwrap();
        if !saved.contains(key) && *fresh > 0 {
            *fresh -= 1;
            saved.insert(key.to_owned());
        }
        saved.contains(key).then(|| StripeError::Unavailable {
            attempts: 1,
            cause: "HTTP 500 (Stripe-Should-Retry: false)".into(),
            state: crate::stripe::WriteState::Saved,
        })
    }

    /// Never returns when `point` is the armed hang point (the caller is then cancelled).
    async fn maybe_hang(&self, point: Hang) {
        if *self.hang.lock().unwrap() == Some(point) {
            std::future::pending::<()>().await;
        }
    }

    fn with(session: SessionSnapshot) -> Self {
        Self {
            session: Mutex::new(Some(session)),
            ..Self::default()
        }
    }

    /// Stripe applies the update it was still holding when the function gave up on it.
    fn land_late_update(&self) {
        let plan = self
            .late_update
            .lock()
            .unwrap()
            .take()
            .expect("a delayed update");
        self.apply(&plan).unwrap();
    }

    /// Replaces the cart with `plan`'s whole array, as Stripe's update does.
    fn apply(&self, plan: &CartPlan) -> Result<SessionSnapshot, StripeError> {
        let line_items = plan.line_items.as_slice();
        {
            let mut guard = self.session.lock().unwrap();
            let session = guard.as_mut().ok_or(StripeError::NotFound)?;
            let old = std::mem::take(&mut session.line_items);
            for (n, planned) in line_items.iter().enumerate() {
                let item = match planned {
                    PlannedLineItem::Keep { id } => old.iter().find(|li| &li.id == id).cloned(),
                    PlannedLineItem::Update { id, quantity } => old
                        .iter()
                        .find(|li| &li.id == id)
                        .cloned()
                        .map(|li| LineItemSnapshot {
                            quantity: *quantity,
                            ..li
                        }),
                    PlannedLineItem::Add { price, quantity } => Some(LineItemSnapshot {
                        id: LineItemId::parse(&format!("li_new{n}")).unwrap(),
                        price: PriceSnapshot {
                            id: price.clone(),
                            unit_amount: Some(15_000),
                            recurring: Some(Recurring {
                                interval: RecurringInterval::Year,
                                interval_count: 1,
                            }),
                        },
                        quantity: *quantity,
                        amount_total: 15_000,
                        tax_rates: vec![],
                    }),
                };
                let mut item = item.ok_or(StripeError::Malformed("unknown id".into()))?;
                if let Some(rates) = &plan.tax_rates {
                    item.tax_rates.clone_from(rates);
                }
                session.line_items.push(item);
            }
            if let Some(details) = &plan.shipping_details {
                session.shipping_details = Some(details.clone());
            }
            if let Some(options) = &plan.shipping_options {
                session.shipping_options = options
                    .iter()
                    .map(|o| cart_validation::ShippingOptionSnapshot {
                        display_name: Some(o.display_name.clone()),
                        amount: o.amount,
                    })
                    .collect();
            }
            Ok(session.clone())
        }
    }
}

impl StripeGateway for FakeStripe {
    async fn checkout_events(
        &self,
        types: &[&str],
        created_since_s: i64,
    ) -> Result<Vec<crate::stripe::CheckoutEvent>, StripeError> {
        let events = self.events.lock().unwrap();
        Ok(events
            .iter()
            .rev()
            .filter(|e| types.contains(&e.kind.as_str()) && e.created >= created_since_s)
            .cloned()
            .collect())
    }

    async fn create_session(
        &self,
        new: &NewSession<'_>,
        key: &str,
    ) -> Result<crate::stripe::CreatedSession, StripeError> {
        self.maybe_hang(Hang::BeforeWrite).await;
        self.creates.lock().unwrap().push(key.to_owned());
        let first = *self
            .create_params
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_insert(new.expires_at);
        if first != new.expires_at {
            return Err(StripeError::Refused {
                status: 400,
                error_type: "idempotency_error".into(),
                code: None,
                param: None,
                message: "Keys for idempotent requests can only be used with the same parameters"
                    .into(),
            });
        }
        if let Some(e) = self.update_error.lock().unwrap().take() {
            return Err(e);
        }
        if let Some(e) = self.saved_failure(key) {
            return Err(e);
        }
        let mut session = open_session();
        session
            .metadata
            .insert(RESERVATION_METADATA_KEY.into(), new.reservation.into());
        session.line_items = new
            .line_items
            .iter()
            .enumerate()
            .map(|(n, (price, quantity))| LineItemSnapshot {
                quantity: *quantity,
                ..item(&format!("li_new{n}"), price.as_str(), None)
            })
            .collect();
        *self.session.lock().unwrap() = Some(session.clone());
        self.maybe_hang(Hang::AfterWrite).await;
        Ok(crate::stripe::CreatedSession {
            session,
            client_secret: Some("cs_test_abc_secret_x".into()),
        })
    }

    async fn retrieve_session(
        &self,
        _id: &CheckoutSessionId,
    ) -> Result<SessionSnapshot, StripeError> {
        self.maybe_hang(Hang::BeforeRetrieve).await;
        if let Some(e) = self.retrieve_error.lock().unwrap().take() {
            return Err(e);
        }
        self.session
            .lock()
            .unwrap()
            .clone()
            .ok_or(StripeError::NotFound)
    }

    async fn update_line_items(
        &self,
        _id: &CheckoutSessionId,
        plan: &CartPlan,
        key: &str,
    ) -> Result<SessionSnapshot, StripeError> {
        self.maybe_hang(Hang::BeforeWrite).await;
        let line_items = plan.line_items.as_slice();
        self.updates
            .lock()
            .unwrap()
            .push((line_items.to_vec(), key.to_owned()));
        if let Some(e) = self.update_error.lock().unwrap().take() {
            return Err(e);
        }
        if let Some(e) = self.saved_failure(key) {
            return Err(e);
        }
        if std::mem::take(&mut *self.delay_update.lock().unwrap()) {
            *self.late_update.lock().unwrap() = Some(plan.clone());
            return Err(no_answer());
        }
        let applied = self.apply(plan)?;
        self.maybe_hang(Hang::AfterWrite).await;
        if std::mem::take(&mut *self.lose_update_answer.lock().unwrap()) {
            return Err(no_answer());
        }
        Ok(applied)
    }
}

/// How the transport reports an update it stopped waiting for.
fn no_answer() -> StripeError {
    StripeError::Unavailable {
        attempts: 3,
        cause: "no response within 4000 ms".into(),
        state: crate::stripe::WriteState::InFlight,
    }
}

fn item(id: &str, price: &str, interval: Option<RecurringInterval>) -> LineItemSnapshot {
    LineItemSnapshot {
        id: LineItemId::parse(id).unwrap(),
        price: PriceSnapshot {
            id: PriceId::parse(price).unwrap(),
            unit_amount: Some(1_000),
            recurring: interval.map(|interval| Recurring {
                interval,
                interval_count: 1,
            }),
        },
        quantity: 1,
        amount_total: 1_500,
        tax_rates: vec![],
    }
}

fn open_session() -> SessionSnapshot {
    SessionSnapshot {
        id: CheckoutSessionId::parse("cs_test_abc").unwrap(),
        status: SessionStatus::Open,
        payment_status: PaymentStatus::Unpaid,
        mode: SessionMode::Subscription,
        ui_mode: UiMode::Elements,
        update_line_items_permission: Some(UpdateLineItemsPermission::ServerOnly),
        currency: Some("usd".into()),
        amount_subtotal: Some(2_000),
        amount_total: Some(2_000),
        metadata: BTreeMap::from([(RESERVATION_METADATA_KEY.into(), "rsv_1".into())]),
        expires_at: Some(2_000_000_000),
        line_items: vec![
            item("li_plan", "price_pro_m", Some(RecurringInterval::Month)),
            item("li_addon", "price_sticker", None),
        ],
        shipping_details: None,
        shipping_options: vec![],
    }
}

/// How long the test configuration lets an abandoned Stripe write still land.
const LATE_WRITE_MS: u64 = 300;

/// Waits until a Stripe write the last request gave up on can no longer land, and so until the
/// session it kept busy is free again.
async fn after_late_writes() {
    tokio::time::sleep(Duration::from_millis(LATE_WRITE_MS + 50)).await;
}

fn config() -> Config {
    let vars = [
        ("STRIPE_SECRET_KEY", "sk_test_1"),
        (
            "STRIPE_API_VERSION",
            "2025-03-31.basil; checkout_server_update_beta=v1;",
        ),
        ("STRIPE_WEBHOOK_SECRET", "whsec_test"),
        ("IDEMPOTENCY_TABLE", "idem"),
        ("INVENTORY_TABLE", "stock"),
        ("LEASE_WAIT_MS", "50"),
        ("STRIPE_LATE_WRITE_MS", "300"),
        ("IDEMPOTENCY_WAIT_MS", "50"),
        (
            "CATALOG_JSON",
            r#"{"plans":[{"id":"pro","monthly":"price_pro_m","yearly":"price_pro_y"}],
                "products":[{"price":"price_tee","sku":"TEE","quantity":{"min":1,"max":5}},
                            {"price":"price_sticker"}]}"#,
        ),
    ];
    crate::config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

type TestApp = App<FakeStripe, MemoryGuardStore, MemoryInventory>;

fn app(stripe: FakeStripe) -> TestApp {
    App::new(
        stripe,
        MemoryGuardStore::default(),
        MemoryInventory::default(),
        &config(),
        "change-interval",
    )
}

fn post(body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .header("Content-Type", "application/json")
        .uri("/change-subscription-interval")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn call(app: &TestApp, request: Request) -> (u16, serde_json::Value) {
    let response = app.handle(request, change_interval).await;
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    (response.status().as_u16(), body)
}

const YEARLY: &str = r#"{"checkout_session_id":"cs_test_abc","interval":"yearly"}"#;

#[tokio::test]
async fn a_monthly_cart_becomes_yearly_with_the_whole_array_sent_once() {
    let app = app(FakeStripe::with(open_session()));
    let (status, body) = call(&app, post(YEARLY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "success");
    assert_eq!(body["session"]["line_items"][0]["price"], "price_pro_y");
    assert_eq!(body["session"]["line_items"][1]["id"], "li_addon");

    let updates = app.stripe.updates.lock().unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].0,
        vec![
            PlannedLineItem::Add {
                price: PriceId::parse("price_pro_y").unwrap(),
                quantity: 1
            },
            PlannedLineItem::Keep {
                id: LineItemId::parse("li_addon").unwrap()
            },
        ]
    );
    assert!(updates[0].1.starts_with("change-interval-"));
}

#[tokio::test]
async fn the_current_interval_answers_success_without_calling_update() {
    let app = app(FakeStripe::with(open_session()));
    let (status, body) = call(
        &app,
        post(r#"{"checkout_session_id":"cs_test_abc","interval":"monthly"}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["session"]["line_items"][0]["id"], "li_plan");
    assert!(app.stripe.updates.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bad_input_is_a_400_and_never_reaches_stripe() {
    let cases = [
        ("{not json", "invalid_json", None),
        (
            r#"{"interval":"yearly"}"#,
            "invalid_request",
            Some("checkout_session_id"),
        ),
        (
            r#"{"checkout_session_id":"cs_test_abc","interval":"weekly"}"#,
            "invalid_request",
            Some("interval"),
        ),
        (
            r#"{"checkout_session_id":"cs_abc","interval":"yearly"}"#,
            "invalid_request",
            Some("checkout_session_id"),
        ),
    ];
    for (input, code, param) in cases {
        let stripe = FakeStripe::default();
        *stripe.retrieve_error.lock().unwrap() =
            Some(StripeError::Malformed("must not be called".into()));
        let app = app(stripe);
        let (status, body) = call(&app, post(input)).await;
        assert_eq!(status, 400, "{input}");
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], code, "{input}");
        assert_eq!(body["param"].as_str(), param, "{input}");
        assert!(
            app.stripe.retrieve_error.lock().unwrap().is_some(),
            "Stripe was called for {input}"
        );
    }
}

#[tokio::test]
async fn only_post_is_accepted() {
    let app = app(FakeStripe::with(open_session()));
    let request = lambda_http::http::Request::builder()
        .method("GET")
        .body(Body::Empty)
        .unwrap();
    let (status, body) = call(&app, request).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn stripe_failures_map_to_safe_statuses() {
    let cases = [
        (StripeError::NotFound, 404, "session_not_found"),
        (
            StripeError::Unavailable {
                attempts: 3,
                cause: "HTTP 500: boom sk_test_secret".into(),
                state: crate::stripe::WriteState::Saved,
            },
            502,
            "payment_provider_unavailable",
        ),
        (
            StripeError::Refused {
                status: 401,
                error_type: "invalid_request_error".into(),
                code: None,
                param: None,
                message: "Invalid API Key provided: sk_test_****".into(),
            },
            500,
            "internal_error",
        ),
    ];
    for (error, status, code) in cases {
        let stripe = FakeStripe::with(open_session());
        *stripe.retrieve_error.lock().unwrap() = Some(error);
        let (got, body) = call(&app(stripe), post(YEARLY)).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)));
        assert!(
            !body.to_string().contains("sk_test"),
            "no internals leak: {body}"
        );
    }
}

#[tokio::test]
async fn closed_or_foreign_sessions_are_409_and_untouched() {
    for mutate in [
        (|s: &mut SessionSnapshot| s.status = SessionStatus::Expired) as fn(&mut SessionSnapshot),
        |s| s.ui_mode = UiMode::Hosted,
        |s| s.update_line_items_permission = None,
    ] {
        let mut session = open_session();
        mutate(&mut session);
        let app = app(FakeStripe::with(session));
        let (status, body) = call(&app, post(YEARLY)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("session_not_updatable"))
        );
        assert!(app.stripe.updates.lock().unwrap().is_empty());
    }
}

#[test]
fn idempotency_keys_follow_the_cart_and_the_plan() {
    let app = app(FakeStripe::default());
    let session = open_session();
    let catalog = app.catalog.clone();
    let action = cart_validation::CartAction::ChangeInterval(cart_validation::Interval::Yearly);
    let plan = plan(&session, &action, &catalog, app.policy).unwrap();
    let client = IdempotencyKey::parse(b"client-1").unwrap();
    let keyed = StripeKeys {
        client_key: Some(&client),
        generation: 0,
    };
    let unkeyed = StripeKeys {
        client_key: None,
        generation: 0,
    };
    let first = app.stripe_idempotency_key(&session, &plan, &keyed);
    assert_eq!(
        first,
        app.stripe_idempotency_key(&session, &plan, &keyed),
        "a client's retry gets Stripe's replay"
    );
    assert!(first.len() <= 255);
    let mut changed = session.clone();
    changed.line_items[1].quantity = 2;
    assert_ne!(first, app.stripe_idempotency_key(&changed, &plan, &keyed));
    // Without a client key the same cart and plan later on is a new request (1 → 2 → 1 → 2).
    assert_ne!(
        app.stripe_idempotency_key(&session, &plan, &unkeyed),
        app.stripe_idempotency_key(&session, &plan, &unkeyed)
    );
    // The same cart shipped elsewhere is another request: Stripe must not replay the first.
    let mut taxed = plan.clone();
    taxed.tax_rates = Some(vec!["txr_1".into()]);
    assert_ne!(first, app.stripe_idempotency_key(&session, &taxed, &keyed));
    // After Stripe saved a failure under the key, the next generation is another key.
    let next = StripeKeys {
        client_key: Some(&client),
        generation: 1,
    };
    assert_ne!(first, app.stripe_idempotency_key(&session, &plan, &next));
}

fn post_with_key(body: &str, key: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn a_repeated_key_replays_the_stored_response_without_touching_stripe() {
    let app = app(FakeStripe::with(open_session()));
    let first = app
        .handle(post_with_key(YEARLY, "k-1"), change_interval)
        .await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    *app.stripe.retrieve_error.lock().unwrap() =
        Some(StripeError::Malformed("must not be called".into()));

    let again = app
        .handle(post_with_key(YEARLY, "k-1"), change_interval)
        .await;

    assert_eq!(again.status(), 200);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(
        again.body().as_ref(),
        first.body().as_ref(),
        "identical body"
    );
    assert_eq!(app.stripe.updates.lock().unwrap().len(), 1);
    assert!(
        app.guard.lease_holder("lease#cs_test_abc").is_none(),
        "lease released"
    );
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_a_422() {
    let app = app(FakeStripe::with(open_session()));
    app.handle(post_with_key(YEARLY, "k-1"), change_interval)
        .await;
    let other = r#"{"checkout_session_id":"cs_test_abc","interval":"monthly"}"#;
    let (status, body) = call(&app, post_with_key(other, "k-1")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
}

#[tokio::test]
async fn a_bad_idempotency_key_is_a_400() {
    let app = app(FakeStripe::with(open_session()));
    let (status, body) = call(&app, post_with_key(YEARLY, &"x".repeat(256))).await;
    assert_eq!(
        (status, body["param"].as_str()),
        (400, Some("Idempotency-Key"))
    );
}

#[tokio::test]
async fn a_session_held_by_another_request_is_409_busy_with_retry_after() {
    let app = app(FakeStripe::with(open_session()));
    app.guard.hold_lease("lease#cs_test_abc", now_ms() + 4_500);
    let response = app.handle(post(YEARLY), change_interval).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.headers().get("retry-after").unwrap(),
        "5",
        "when the lease ends, in whole seconds"
    );
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["code"], "session_busy");
    assert!(app.stripe.updates.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_5xx_forgets_the_key_so_the_retry_runs_and_succeeds() {
    let stripe = FakeStripe::with(open_session());
    *stripe.retrieve_error.lock().unwrap() = Some(StripeError::Unavailable {
        attempts: 3,
        cause: "HTTP 500".into(),
        state: crate::stripe::WriteState::NotRun,
    });
    let app = app(stripe);
    let (status, _) = call(&app, post_with_key(YEARLY, "k-9")).await;
    assert_eq!(status, 502);
    assert!(app
        .guard
        .record("idem#change-interval#cs_test_abc#k-9")
        .is_none());
    let (status, body) = call(&app, post_with_key(YEARLY, "k-9")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_4xx_is_stored_and_replayed() {
    let mut session = open_session();
    session.status = SessionStatus::Expired;
    let app = app(FakeStripe::with(session));
    let (status, _) = call(&app, post_with_key(YEARLY, "k-4")).await;
    assert_eq!(status, 409);
    let replay = app
        .handle(post_with_key(YEARLY, "k-4"), change_interval)
        .await;
    assert_eq!(replay.status(), 409);
    assert_eq!(replay.headers().get("idempotent-replayed").unwrap(), "true");
}

#[test]
fn a_missing_runtime_deadline_still_gives_the_lease_a_full_budget() {
    let app = app(FakeStripe::default());
    let accepted = Accepted {
        operation: change_interval(YEARLY.as_bytes()).unwrap(),
        key: IdempotencyKey::parse(b"k"),
        body_hash: "h".into(),
        scope: "cs_test_abc".into(),
    };
    // cargo-lambda's runtime emulation reports a deadline of 0.
    let request = post(YEARLY).with_lambda_context(lambda_http::Context::default());
    let now = now_ms();
    let claim = app.claim_for(&request, &accepted);
    assert!(claim.lease_until_ms >= now + DEFAULT_BUDGET_MS, "{claim:?}");
    assert!(claim.lease_until_ms <= now + MAX_LEASE_MS + LATE_WRITE_MS + 1_000);
    let record = claim.record.unwrap();
    assert!(record.in_progress_until_ms >= now + DEFAULT_BUDGET_MS);
    assert!(
        record.in_progress_until_ms < claim.lease_until_ms,
        "lease outlives the record"
    );
}

fn tee_session() -> SessionSnapshot {
    let mut session = open_session();
    session.line_items.push(LineItemSnapshot {
        quantity: 2,
        ..item("li_tee", "price_tee", None)
    });
    session
}

/// Puts `received` T-shirts in stock with `held` of them held for the session's reservation.
async fn tees_held(app: &TestApp, received: u64, held: u64) -> Sku {
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, received).await.unwrap();
    let hold = [StockChange {
        sku: tee.clone(),
        from: 0,
        to: held,
    }];
    app.inventory
        .move_holds("rsv_1", &hold, &BTreeMap::new(), 0, None)
        .await
        .unwrap();
    tee
}

fn set_tee(quantity: u64) -> String {
    format!(
        r#"{{"checkout_session_id":"cs_test_abc","line_item_id":"li_tee","quantity":{quantity}}}"#
    )
}

async fn call_quantity(app: &TestApp, body: &str) -> (u16, serde_json::Value) {
    let response = app.handle(post(body), update_quantity).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body().as_ref()).unwrap(),
    )
}

#[tokio::test]
async fn more_units_than_available_is_409_out_of_stock_with_what_is_left() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 3, 2).await;

    let (status, body) = call_quantity(&app, &set_tee(4)).await;

    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("out_of_stock")),
        "{body}"
    );
    assert_eq!(body["available"], 1);
    assert!(app.stripe.updates.lock().unwrap().is_empty());
    let (status, _) = call_quantity(&app, &set_tee(3)).await;
    assert_eq!(status, 200);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (0, 3));
}

#[tokio::test]
async fn stock_moves_back_when_stripe_refuses_the_cart() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    *app.stripe.update_error.lock().unwrap() = Some(StripeError::Refused {
        status: 400,
        error_type: "invalid_request_error".into(),
        code: None,
        param: Some("line_items".into()),
        message: "refused".into(),
    });
    let (status, _) = call_quantity(&app, &set_tee(5)).await;

    assert_eq!(status, 500);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (8, 2),
        "hold back where the cart is"
    );
}

#[tokio::test]
async fn when_stripe_may_still_apply_the_cart_the_holds_cover_both_carts() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    *app.stripe.update_error.lock().unwrap() = Some(StripeError::Unavailable {
        attempts: 3,
        cause: "HTTP 503".into(),
        state: crate::stripe::WriteState::InFlight,
    });

    let (status, _) = call_quantity(&app, &set_tee(5)).await;

    assert_eq!(status, 502);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (5, 5),
        "a late update cannot oversell"
    );
    // The client's retry, once the update can no longer land, finds the cart where it was and
    // applies it.
    after_late_writes().await;
    let (status, _) = call_quantity(&app, &set_tee(5)).await;
    assert_eq!(status, 200);
    assert_eq!(tees_in_cart(&app), 5);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (5, 5));
}

/// Units Stripe's cart has against the units held for it.
async fn tees_held_and_in_cart(app: &TestApp, tee: &Sku) -> (u64, u64) {
    let level = app.inventory.stock(tee).await.unwrap();
    (level.held, tees_in_cart(app))
}

#[tokio::test]
async fn an_update_stripe_applies_after_the_function_gave_up_never_lands_above_its_holds() {
    // The next request either leaves the T-shirts alone (2: a no-op on the cart it reads) or
    // changes them (3); both once released the surplus the late update still needed.
    for next in [2, 3] {
        let app = app(FakeStripe::with(tee_session()));
        let tee = tees_held(&app, 10, 2).await;
        *app.stripe.delay_update.lock().unwrap() = true;
        let response = app
            .handle(post_with_key(&set_tee(5), "first"), update_quantity)
            .await;
        assert_eq!(response.status(), 502);

        let during = app
            .handle(post_with_key(&set_tee(next), "next"), update_quantity)
            .await;
        app.stripe.land_late_update();
        let (held, in_cart) = tees_held_and_in_cart(&app, &tee).await;
        assert!(
            held >= in_cart,
            "next {next}: held {held} < {in_cart} in the cart"
        );
        assert_eq!(in_cart, 5);
        assert_eq!(
            (
                during.status().as_u16(),
                during.headers().contains_key("retry-after")
            ),
            (409, true),
            "next {next}: the session stays busy while the late update may land"
        );

        after_late_writes().await;
        let after = app
            .handle(post_with_key(&set_tee(next), "next"), update_quantity)
            .await;
        assert_eq!(after.status(), 200, "next {next}");
        assert_eq!(tees_held_and_in_cart(&app, &tee).await, (next, next));
    }
}

#[tokio::test]
async fn a_stock_item_busy_beyond_the_retries_is_409_stock_busy_with_retry_after() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    // Conflicts within the budget are retried inside the inventory: the shopper never sees them.
    app.inventory
        .conflicts
        .store(5, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = call_quantity(&app, &set_tee(3)).await;
    assert_eq!(status, 200, "{body}");

    app.inventory
        .conflicts
        .store(6, std::sync::atomic::Ordering::SeqCst);
    let response = app.handle(post(&set_tee(4)), update_quantity).await;

    assert_eq!(response.status(), 409);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["code"], "stock_busy", "not session_busy: {body}");
    assert_eq!(
        app.stripe.updates.lock().unwrap().len(),
        1,
        "only the first update"
    );
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (7, 3));
}

#[tokio::test]
async fn a_busy_answer_is_not_replayed_so_the_keyed_retry_runs() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 10, 2).await;
    app.inventory
        .conflicts
        .store(6, std::sync::atomic::Ordering::SeqCst);
    let busy = app
        .handle(post_with_key(&set_tee(4), "k-busy"), update_quantity)
        .await;
    assert_eq!(busy.status(), 409);

    let retry = app
        .handle(post_with_key(&set_tee(4), "k-busy"), update_quantity)
        .await;

    assert_eq!(retry.status(), 200);
    assert!(retry.headers().get("idempotent-replayed").is_none());
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (6, 4));
}

#[tokio::test]
async fn on_four_shards_a_cart_outgrowing_its_shard_moves_there_and_sells_from_there() {
    let mut config = config();
    config.catalog = Catalog::from_json(
        r#"{"plans":[{"id":"pro","monthly":"price_pro_m","yearly":"price_pro_y"}],
            "products":[{"price":"price_tee","sku":"TEE","quantity":{"min":1,"max":5}},
                        {"price":"price_sticker"}],
            "inventory_shards":{"TEE":4}}"#,
    )
    .unwrap();
    let inventory = MemoryInventory::with_shards(shard_counts(&config.catalog));
    let app = App::new(
        FakeStripe::with(tee_session()),
        MemoryGuardStore::default(),
        inventory,
        &config,
        "update-quantity",
    );
    let tee = Sku::parse("TEE").unwrap();
    let home = crate::inventory::primary_shard("rsv_1", &tee, 4);
    let next = (home + 1) % 4;
    // 4 per shard, then 2 of the cart's shard moved to the next one: 2 and 6 there.
    app.inventory.receive(&tee, 16).await.unwrap();
    app.inventory.rebalance(&tee, home, next, 2).await.unwrap();
    let hold = [StockChange {
        sku: tee.clone(),
        from: 0,
        to: 2,
    }];
    move_holds_reconciled(&app.inventory, "rsv_1", &hold, 0, None, Reconcile::Both)
        .await
        .unwrap();

    // 5 do not fit on the cart's shard (nothing left there): the whole hold moves.
    let (status, body) = call_quantity(&app, &set_tee(5)).await;
    assert_eq!(status, 200, "{body}");
    let held = app
        .inventory
        .holds("rsv_1", std::slice::from_ref(&tee))
        .await
        .unwrap();
    let hold = held.get(&tee).unwrap();
    assert_eq!(
        (hold.quantity, hold.shard, hold.session.as_deref()),
        (5, next, Some("cs_test_abc"))
    );

    complete(&app, PaymentStatus::Paid);
    let response = app
        .handle_webhook(signed_event("checkout.session.completed"))
        .await;
    assert_eq!(response.status(), 200);
    let shards = app.inventory.shard_stock(&tee).await.unwrap();
    for (shard, l) in shards.iter().enumerate() {
        assert_eq!(l.available + l.held + l.sold, l.received, "shard {shard}");
        assert_eq!(l.held, 0, "shard {shard}: nothing left held");
    }
    let sold: Vec<u64> = shards.iter().map(|l| l.sold).collect();
    let mut expected = [0; 4];
    expected[usize::from(next)] = 5;
    assert_eq!(sold, expected, "sold from the shard the hold recorded");
    let total = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((total.available, total.sold, total.received), (11, 5, 16));
}

#[tokio::test]
async fn removing_a_tracked_item_releases_its_hold() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 5, 2).await;
    let (status, body) = call_quantity(&app, &set_tee(0)).await;
    assert_eq!(status, 200, "{body}");
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (5, 0));
}

fn create(body: &[u8]) -> Result<Operation, Rejection> {
    cart_validation::request::create_session(body).map(Operation::Create)
}

fn app_with_return_url(stripe: FakeStripe) -> TestApp {
    let mut config = config();
    config.return_url = Some("https://shop.example/return".into());
    App::new(
        stripe,
        MemoryGuardStore::default(),
        MemoryInventory::default(),
        &config,
        "create-session",
    )
}

const NEW_CART: &str =
    r#"{"items":[{"price":"price_pro_m","quantity":1},{"price":"price_tee","quantity":2}]}"#;

#[tokio::test]
async fn a_new_cart_holds_its_stock_and_answers_the_client_secret() {
    let app = app_with_return_url(FakeStripe::default());
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();

    let response = app.handle(post_with_key(NEW_CART, "cart-1"), create).await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["session"]["client_secret"], "cs_test_abc_secret_x");
    assert_eq!(body["session"]["line_items"][1]["quantity"], 2);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2));
}

#[tokio::test]
async fn a_new_cart_beyond_stock_is_409_and_creates_nothing() {
    let app = app_with_return_url(FakeStripe::default());
    app.inventory
        .receive(&Sku::parse("TEE").unwrap(), 1)
        .await
        .unwrap();
    let response = app.handle(post(NEW_CART), create).await;
    assert_eq!(response.status(), 409);
    assert!(
        app.stripe.session.lock().unwrap().is_none(),
        "no Stripe session"
    );
}

#[tokio::test]
async fn when_stripe_did_not_create_the_session_the_holds_are_released_and_when_it_may_have_they_stay(
) {
    let tee = Sku::parse("TEE").unwrap();
    for (error, held) in [
        // Stripe answered 500 to every key the request tried: no session.
        (None, 0),
        // No answer: Stripe may still create it, and that session needs its stock.
        (Some(no_answer()), 2),
    ] {
        let stripe = FakeStripe::default();
        *stripe.saved_500s.lock().unwrap() = FRESH_KEYS_PER_REQUEST;
        *stripe.update_error.lock().unwrap() = error;
        let app = app_with_return_url(stripe);
        app.inventory.receive(&tee, 5).await.unwrap();
        let response = app.handle(post(NEW_CART), create).await;
        assert_eq!(response.status(), 502);
        let level = app.inventory.stock(&tee).await.unwrap();
        assert_eq!((level.available, level.held), (5 - held, held));
    }
}

#[tokio::test]
async fn the_sweeper_releases_holds_of_sessions_that_never_came_to_be() {
    let app = app(FakeStripe::default());
    let tee = Sku::parse("TEE").unwrap();
    app.inventory.receive(&tee, 5).await.unwrap();
    app.inventory
        .move_holds(
            "rsv_lost",
            &[StockChange {
                sku: tee.clone(),
                from: 0,
                to: 3,
            }],
            &BTreeMap::new(),
            0,
            None,
        )
        .await
        .unwrap();

    let report = app.sweep(0).await;

    assert_eq!(report.units_released, 3);
    assert_eq!(report.errors, 0);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (5, 0));
    assert_eq!(
        app.sweep(0).await.holds_checked,
        0,
        "nothing left the second time"
    );
}

#[tokio::test]
async fn fewer_units_are_released_only_after_stripe_accepted_the_cart() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 5, 2).await;
    *app.stripe.update_error.lock().unwrap() = Some(StripeError::Unavailable {
        attempts: 3,
        cause: "HTTP 503".into(),
        state: crate::stripe::WriteState::InFlight,
    });

    let (status, _) = call_quantity(&app, &set_tee(1)).await;

    assert_eq!(status, 502);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (3, 2),
        "the cart still holds 2"
    );
}

#[tokio::test]
async fn when_stripe_applied_the_update_but_the_answer_was_lost_the_retry_releases_the_surplus() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tees_held(&app, 5, 2).await;
    *app.stripe.lose_update_answer.lock().unwrap() = true;

    let (status, _) = call_quantity(&app, &set_tee(1)).await;

    assert_eq!(status, 502);
    assert_eq!(tees_in_cart(&app), 1, "Stripe applied it");
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2), "still covers both");

    after_late_writes().await;
    let (status, _) = call_quantity(&app, &set_tee(1)).await;
    assert_eq!(status, 200);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held),
        (4, 1),
        "the retry found the cart done and gave the surplus back"
    );
}

/// `event` about the fake's session, signed as Stripe delivers it to the webhook.
fn signed_event(event: &str) -> Request {
    let payload = serde_json::json!({
        "id": format!("evt_{event}"),
        "type": event,
        "data": { "object": {
            "id": "cs_test_abc",
            "metadata": { RESERVATION_METADATA_KEY: "rsv_1" },
        } },
    })
    .to_string();
    let t = i64::try_from(now_ms() / 1000).unwrap();
    let signature = signature::sign(payload.as_bytes(), "whsec_test", t);
    lambda_http::http::Request::builder()
        .method("POST")
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", format!("t={t},v1={signature}"))
        .body(Body::from(payload))
        .unwrap()
}

/// The item is gone from the cart but its hold stays: Stripe removed it, the answer got lost.
async fn tee_removed_with_the_answer_lost(app: &TestApp) -> Sku {
    let tee = tees_held(app, 5, 2).await;
    *app.stripe.lose_update_answer.lock().unwrap() = true;
    let (status, _) = call_quantity(app, &set_tee(0)).await;
    assert_eq!(status, 502);
    assert_eq!(tees_in_cart(app), 0, "Stripe applied it");
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2), "still covers both");
    after_late_writes().await;
    tee
}

/// The shopper pays: the fake's session completes with `payment_status` as given.
fn complete(app: &TestApp, payment_status: PaymentStatus) {
    let mut session = app.stripe.session.lock().unwrap();
    let session = session.as_mut().unwrap();
    session.status = SessionStatus::Complete;
    session.payment_status = payment_status;
}

#[tokio::test]
async fn a_completed_session_gives_back_the_hold_of_an_item_no_longer_in_its_cart() {
    let app = app(FakeStripe::with(tee_session()));
    let tee = tee_removed_with_the_answer_lost(&app).await;
    complete(&app, PaymentStatus::Paid);

    let response = app
        .handle_webhook(signed_event("checkout.session.completed"))
        .await;

    assert_eq!(response.status(), 200);
    let level = app.inventory.stock(&tee).await.unwrap();
    assert_eq!(
        (level.available, level.held, level.sold),
        (5, 0, 0),
        "nothing sold, nothing left held"
    );
}

/// A keyed request whose Lambda deadline is `budget_ms` away, as the runtime would hand it over.
fn post_with_deadline(body: &str, key: &str, budget_ms: u64) -> Request {
    let mut context = lambda_http::lambda_runtime::Context::default();
    context.deadline = now_ms() + budget_ms;
    post_with_key(body, key).with_lambda_context(context)
}

/// Cuts a handler off at `hang` (the future is dropped, as when Lambda kills the function at its
/// timeout), checks the key is busy while the dead claim lasts, then retries the same key after
/// it runs out. Returns the retry's and a replay's answers.
async fn kill_then_retry(
    app: &TestApp,
    hang: Hang,
    body: &str,
    parse: Parser,
) -> (Response<Body>, Response<Body>) {
    const BUDGET_MS: u64 = 300;
    *app.stripe.hang.lock().unwrap() = Some(hang);
    let killed = tokio::time::timeout(
        Duration::from_millis(100),
        app.handle(post_with_deadline(body, "k", BUDGET_MS), parse),
    )
    .await;
    assert!(killed.is_err(), "{hang:?}: the handler was cut off");
    *app.stripe.hang.lock().unwrap() = None;

    let early = app
        .handle(post_with_deadline(body, "k", BUDGET_MS), parse)
        .await;
    assert_eq!(
        early.status(),
        409,
        "{hang:?}: the dead request's key is busy"
    );

    tokio::time::sleep(Duration::from_millis(BUDGET_MS + LATE_WRITE_MS + 100)).await;
    let retried = app
        .handle(post_with_deadline(body, "k", BUDGET_MS), parse)
        .await;
    let replayed = app
        .handle(post_with_deadline(body, "k", BUDGET_MS), parse)
        .await;
    assert_eq!(
        replayed.headers().get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(replayed.body().as_ref(), retried.body().as_ref());
    (retried, replayed)
}

fn tees_in_cart(app: &TestApp) -> u64 {
    app.stripe
        .session
        .lock()
        .unwrap()
        .iter()
        .flat_map(|s| s.line_items.iter())
        .filter(|li| li.price.id.as_str() == "price_tee")
        .map(|li| li.quantity)
        .sum()
}

const KILL_POINTS: [Hang; 3] = [Hang::BeforeRetrieve, Hang::BeforeWrite, Hang::AfterWrite];

#[tokio::test]
async fn a_quantity_change_killed_at_any_step_converges_on_retry_with_holds_matching_the_cart() {
    let mut runs = tokio::task::JoinSet::new();
    for hang in KILL_POINTS {
        // Up (stock held before the Stripe update) and down (released after it).
        for quantity in [4, 1] {
            runs.spawn(async move {
                let app = app(FakeStripe::with(tee_session()));
                let tee = tees_held(&app, 10, 2).await;
                let (retried, _) =
                    kill_then_retry(&app, hang, &set_tee(quantity), update_quantity).await;
                assert_eq!(retried.status(), 200, "{hang:?} → {quantity}");
                assert_eq!(tees_in_cart(&app), quantity, "{hang:?} → {quantity}");
                let level = app.inventory.stock(&tee).await.unwrap();
                assert_eq!(
                    (level.available, level.held),
                    (10 - quantity, quantity),
                    "{hang:?} → {quantity}: holds follow the cart"
                );
            });
        }
    }
    while let Some(run) = runs.join_next().await {
        run.unwrap();
    }
}

#[tokio::test]
async fn a_create_killed_at_any_step_converges_on_retry_with_one_set_of_holds() {
    let mut runs = tokio::task::JoinSet::new();
    for hang in [Hang::BeforeWrite, Hang::AfterWrite] {
        runs.spawn(async move {
            let app = app_with_return_url(FakeStripe::default());
            let tee = Sku::parse("TEE").unwrap();
            app.inventory.receive(&tee, 5).await.unwrap();
            let (retried, _) = kill_then_retry(&app, hang, NEW_CART, create).await;
            assert_eq!(retried.status(), 200, "{hang:?}");
            assert_eq!(tees_in_cart(&app), 2);
            let level = app.inventory.stock(&tee).await.unwrap();
            assert_eq!((level.available, level.held), (3, 2), "{hang:?}");
        });
    }
    while let Some(run) = runs.join_next().await {
        run.unwrap();
    }
}

mod lifecycle;
mod saved_failures;
