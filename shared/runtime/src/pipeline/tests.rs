//! In-process handler tests: the real pipeline over a fake Stripe gateway.

use super::admission::Accepted;
use super::app::{DEFAULT_BUDGET_MS, MAX_LEASE_MS};
use super::stripe_keys::{StripeKeys, FRESH_KEYS_PER_REQUEST};
use super::*;
use crate::claims::{now_ms, IdempotencyKey};
use crate::config::Config;
use crate::inventory::{move_holds_reconciled, Reconcile};
use crate::inventory::{shard_counts, InventoryStore, StockAdmin};
use crate::stripe::StripeGateway;
use crate::stripe::{NewSession, StripeError};
use cart_domain::{plan, PlannedLineItem, SessionSnapshot, StockChange};
use cart_domain::{Catalog, Rejection};
use lambda_http::{Body, Request, RequestExt, Response};

fn change_interval(body: &[u8]) -> Result<Operation, Rejection> {
    cart_domain::request::change_interval(body).map(Operation::Change)
}

fn update_quantity(body: &[u8]) -> Result<Operation, Rejection> {
    cart_domain::request::update_quantity(body).map(Operation::Change)
}
use crate::claims::memory::MemoryClaimStore;
use crate::inventory::memory::MemoryInventory;
use cart_domain::{CartPlan, Sku, RESERVATION_METADATA_KEY};
use cart_domain::{
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
                    .map(|o| cart_domain::ShippingOptionSnapshot {
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

type TestApp = App<FakeStripe, MemoryClaimStore, MemoryInventory>;

fn app(stripe: FakeStripe) -> TestApp {
    App::new(
        stripe,
        MemoryClaimStore::default(),
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

fn post_with_key(body: &str, key: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", key)
        .body(Body::from(body.to_owned()))
        .unwrap()
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

/// Units Stripe's cart has against the units held for it.
async fn tees_held_and_in_cart(app: &TestApp, tee: &Sku) -> (u64, u64) {
    let level = app.inventory.stock(tee).await.unwrap();
    (level.held, tees_in_cart(app))
}

fn create(body: &[u8]) -> Result<Operation, Rejection> {
    cart_domain::request::create_session(body).map(Operation::Create)
}

fn app_with_return_url(stripe: FakeStripe) -> TestApp {
    let mut config = config();
    config.return_url = Some("https://shop.example/return".into());
    App::new(
        stripe,
        MemoryClaimStore::default(),
        MemoryInventory::default(),
        &config,
        "create-session",
    )
}

const NEW_CART: &str =
    r#"{"items":[{"price":"price_pro_m","quantity":1},{"price":"price_tee","quantity":2}]}"#;

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

mod create;
mod ending;
mod idempotency;
mod interval;
mod lifecycle;
mod saved_failures;
mod stock;
