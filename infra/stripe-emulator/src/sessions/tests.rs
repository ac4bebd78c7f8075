//! Stripe's documented limits on sessions (line items per mode, shipping options, metadata,
//! `expires_at`), checked through create and update.

use super::{create, expire_due, update, Status};
use crate::dialect::{ApiVersion, Dialect};
use crate::errors::ApiError;
use crate::form::{parse, Params};
use crate::objects::{create_price, create_product};
use crate::store::Store;
use serde_json::Value;

const NOW: i64 = 1_800_000_000;
const ENDIVE: &str = "2026-09-30.endive";

fn params(body: &str) -> Params {
    Params::root(parse(&[body.as_bytes()]).expect("parses"))
}

fn endive() -> Dialect {
    ApiVersion::parse(ENDIVE).expect("valid").dialect()
}

struct Shop {
    store: Store,
    one_time: String,
    monthly: String,
}

fn shop() -> Shop {
    let mut store = Store::default();
    let product = create_product(&mut store, params("name=Tea"), NOW)
        .expect("product")
        .id;
    let one_time = create_price(
        &mut store,
        params(&format!("product={product}&currency=usd&unit_amount=400")),
        NOW,
    )
    .expect("price")
    .id;
    let monthly = create_price(
        &mut store,
        params(&format!(
            "product={product}&currency=usd&unit_amount=900&recurring[interval]=month"
        )),
        NOW,
    )
    .expect("price")
    .id;
    Shop {
        store,
        one_time,
        monthly,
    }
}

/// `line_items[...]` for `count` items of `price`, numbered from `from`.
fn items(price: &str, from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("&line_items[{i}][price]={price}&line_items[{i}][quantity]=1"))
        .collect()
}

impl Shop {
    fn create(&mut self, body: &str) -> Result<Value, ApiError> {
        create(&mut self.store, params(body), endive(), NOW)
    }

    fn update(&mut self, id: &str, body: &str) -> Result<Value, ApiError> {
        update(&mut self.store, id, params(body), endive(), NOW + 5)
    }

    fn elements(&mut self, mode: &str, line_items: &str) -> String {
        let s = self
            .create(&format!(
                "mode={mode}&ui_mode=elements&return_url=https://x.test{line_items}"
            ))
            .expect("created");
        s["id"].as_str().expect("id").to_owned()
    }
}

#[track_caller]
fn assert_refused(result: Result<Value, ApiError>, param: &str, says: &str) {
    let err = result.expect_err("refused");
    assert_eq!(err.status, 400);
    assert_eq!(err.kind.as_str(), "invalid_request_error");
    assert_eq!(err.param.as_deref(), Some(param), "{}", err.message);
    assert!(err.message.contains(says), "{}", err.message);
}

#[test]
fn payment_mode_takes_up_to_100_line_items() {
    let mut s = shop();
    let price = s.one_time.clone();
    s.create(&format!("mode=payment{}", items(&price, 0, 100)))
        .expect("100 line items");
    assert_refused(
        s.create(&format!("mode=payment{}", items(&price, 0, 101))),
        "line_items",
        "at most 100 line items",
    );
    // The same limit holds for the retransmitted array of an update.
    let id = s.elements("payment", &items(&price, 0, 1));
    s.update(&id, &items(&price, 0, 100)).expect("100");
    let before = s.store.sessions[&id].clone();
    assert_refused(
        s.update(&id, &items(&price, 0, 101)),
        "line_items",
        "but 101 were given",
    );
    assert_eq!(s.store.sessions[&id], before);
}

#[test]
fn subscription_mode_takes_20_recurring_and_20_one_time_line_items() {
    let mut s = shop();
    let (monthly, one_time) = (s.monthly.clone(), s.one_time.clone());
    let both = format!("{}{}", items(&monthly, 0, 20), items(&one_time, 20, 20));
    s.create(&format!("mode=subscription{both}"))
        .expect("20 + 20");
    assert_refused(
        s.create(&format!("mode=subscription{}", items(&monthly, 0, 21))),
        "line_items",
        "at most 20 line items with recurring prices, but 21",
    );
    assert_refused(
        s.create(&format!(
            "mode=subscription{}{}",
            items(&monthly, 0, 1),
            items(&one_time, 1, 21)
        )),
        "line_items",
        "20 line items with one-time prices, but 21",
    );
    assert_refused(
        s.create(&format!(
            "mode=subscription{both}{}",
            items(&one_time, 40, 1)
        )),
        "line_items",
        "but 41 were given",
    );
    let id = s.elements("subscription", &items(&monthly, 0, 1));
    s.update(&id, &both).expect("20 + 20 on update");
    assert_refused(
        s.update(&id, &items(&monthly, 0, 21)),
        "line_items",
        "with recurring prices",
    );
}

fn rate(i: usize) -> String {
    format!(
        "&shipping_options[{i}][shipping_rate_data][display_name]=Rate+{i}\
         &shipping_options[{i}][shipping_rate_data][type]=fixed_amount\
         &shipping_options[{i}][shipping_rate_data][fixed_amount][amount]={}\
         &shipping_options[{i}][shipping_rate_data][fixed_amount][currency]=usd",
        100 * (i + 1)
    )
}

#[test]
fn at_most_five_shipping_options() {
    // Stripe's API reference, `shipping_options` on create and update: "Up to a maximum of 5."
    let mut s = shop();
    let price = s.one_time.clone();
    let five: String = (0..5).map(rate).collect();
    let six: String = (0..6).map(rate).collect();
    let created = s
        .create(&format!("mode=payment{}{five}", items(&price, 0, 1)))
        .expect("five");
    assert_eq!(
        created["shipping_options"].as_array().map(Vec::len),
        Some(5)
    );
    assert_refused(
        s.create(&format!("mode=payment{}{six}", items(&price, 0, 1))),
        "shipping_options",
        "up to 5 shipping options",
    );
    let id = s.elements("payment", &items(&price, 0, 1));
    s.update(&id, &five).expect("five on update");
    assert_refused(
        s.update(&id, &six),
        "shipping_options",
        "up to 5 shipping options",
    );
    assert_eq!(s.store.sessions[&id].shipping_options.len(), 5);
}

#[test]
fn metadata_limits_hold_on_the_session_and_its_line_items() {
    let mut s = shop();
    let price = s.one_time.clone();
    let keys = |n: usize, prefix: &str| -> String {
        (0..n)
            .map(|i| format!("&{prefix}[k{i}]=v"))
            .collect::<String>()
    };
    let id = s.elements(
        "payment",
        &format!("{}{}", items(&price, 0, 1), keys(50, "metadata")),
    );
    // 50 are there; one more is refused, swapping one is fine.
    assert_refused(
        s.update(&id, "metadata[one_more]=v"),
        "metadata",
        "up to 50 keys",
    );
    s.update(&id, "metadata[one_more]=v&metadata[k0]=")
        .expect("swap");
    assert_refused(
        s.update(&id, &format!("metadata[{}]=v", "k".repeat(41))),
        &format!("metadata[{}]", "k".repeat(41)),
        "up to 40 characters",
    );
    assert_refused(
        s.update(&id, &format!("metadata[long]={}", "v".repeat(501))),
        "metadata[long]",
        "up to 500 characters",
    );
    let item = s.store.sessions[&id].line_items[0].id.clone();
    assert_refused(
        s.update(
            &id,
            &format!(
                "line_items[0][id]={item}{}",
                keys(51, "line_items[0][metadata]")
            ),
        ),
        "line_items[0][metadata]",
        "up to 50 keys",
    );
    assert_refused(
        s.create(&format!(
            "mode=payment{}{}",
            items(&price, 0, 1),
            keys(51, "metadata")
        )),
        "metadata",
        "but 51 would be set",
    );
}

#[test]
fn expires_at_is_30_minutes_to_24_hours_away_and_the_session_expires_then() {
    // Stripe's API reference, Create a Checkout Session, `expires_at`: "It can be anywhere from
    // 30 minutes to 24 hours after Checkout Session creation. By default, this value is 24 hours
    // from creation."
    let mut s = shop();
    let base = format!("mode=payment{}", items(&s.one_time.clone(), 0, 1));
    let default = s.create(&base).expect("default");
    assert_eq!(default["expires_at"], NOW + 24 * 3600);
    for at in [NOW + 30 * 60, NOW + 24 * 3600] {
        s.create(&format!("{base}&expires_at={at}"))
            .expect("within range");
    }
    assert_refused(
        s.create(&format!("{base}&expires_at={}", NOW + 30 * 60 - 1)),
        "expires_at",
        "at least 30 minutes",
    );
    assert_refused(
        s.create(&format!("{base}&expires_at={}", NOW + 24 * 3600 + 1)),
        "expires_at",
        "less than 24 hours",
    );
    assert_refused(
        s.create(&format!("{base}&expires_at=soon")),
        "expires_at",
        "",
    );

    let mut s = shop();
    let base = format!("mode=payment{}", items(&s.one_time.clone(), 0, 1));
    let soon = s
        .create(&format!("{base}&expires_at={}", NOW + 1800))
        .expect("created");
    let id = soon["id"].as_str().expect("id");
    assert_eq!(expire_due(&mut s.store, NOW + 1799), 0);
    assert_eq!(s.store.sessions[id].status, Status::Open);
    assert_eq!(expire_due(&mut s.store, NOW + 1800), 1);
    assert_eq!(s.store.sessions[id].status, Status::Expired);
    let event = s.store.events.last().expect("event");
    assert_eq!(event.kind.as_str(), "checkout.session.expired");
}

#[test]
fn delayed_payments_complete_unpaid_then_succeed_or_fail_once() {
    use super::{async_payment, complete, AsyncOutcome, PaymentStatus};
    let mut s = shop();
    let (price, monthly) = (s.one_time.clone(), s.monthly.clone());
    let pay_later = |s: &mut Shop, body: &str| -> String {
        let id = s.create(body).expect("created")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let done = complete(&mut s.store, &id, PaymentStatus::Unpaid, endive(), NOW)
            .expect("completed unpaid");
        assert_eq!(
            (done["status"].as_str(), done["payment_status"].as_str()),
            (Some("complete"), Some("unpaid"))
        );
        id
    };
    let kinds = |s: &Shop| -> Vec<&'static str> {
        s.store.events.iter().map(|e| e.kind.as_str()).collect()
    };

    let paid = pay_later(
        &mut s,
        &format!("mode=subscription{}", items(&monthly, 0, 1)),
    );
    let ok = async_payment(&mut s.store, &paid, AsyncOutcome::Succeeded, endive(), NOW)
        .expect("succeeded");
    assert_eq!(ok["payment_status"], "paid");
    let failed = pay_later(&mut s, &format!("mode=payment{}", items(&price, 0, 1)));
    let no =
        async_payment(&mut s.store, &failed, AsyncOutcome::Failed, endive(), NOW).expect("failed");
    assert_eq!(no["payment_status"], "unpaid");
    assert_eq!(
        kinds(&s),
        [
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
            "checkout.session.completed",
            "checkout.session.async_payment_failed",
        ]
    );
    for id in [&paid, &failed] {
        for outcome in [AsyncOutcome::Succeeded, AsyncOutcome::Failed] {
            assert!(async_payment(&mut s.store, id, outcome, endive(), NOW).is_err());
        }
    }
    assert_eq!(s.store.events.len(), 4, "refusals record nothing");

    // Nothing to pay, nothing to await.
    let setup = s.create("mode=setup").expect("setup")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let err = complete(&mut s.store, &setup, PaymentStatus::Unpaid, endive(), NOW)
        .expect_err("setup mode");
    assert_eq!(err.param.as_deref(), Some("payment_status"));
    assert_eq!(s.store.sessions[&setup].status, Status::Open);
}
