//! Fidelity with async-stripe 1.0.0-rc.10 (the client this project uses): its generated requests
//! (serde_qs, percent-encoded brackets) must parse, and its miniserde deserializers must accept
//! every object we render. Requests go straight to `dispatch`, no sockets involved.

use bytes::Bytes;
use std::sync::Mutex;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, ExpireCheckoutSession,
    ListLineItemsCheckoutSession, RetrieveCheckoutSession, UpdateCheckoutSession,
    UpdateCheckoutSessionLineItems,
};
use stripe_checkout::{CheckoutSessionMode, CheckoutSessionStatus, CheckoutSessionUiMode};
use stripe_client_core::{
    CustomizedStripeRequest, StripeBlockingClient, StripeClientErr, StripeMethod,
};
use stripe_emulator::api::dispatch;
use stripe_emulator::dialect::ApiVersion;
use stripe_emulator::form;
use stripe_emulator::store::{now, Store};

#[derive(Debug)]
struct Error {
    _detail: String,
}

impl StripeClientErr for Error {
    fn deserialize_err(msg: impl std::fmt::Display) -> Self {
        Self {
            _detail: format!("deserialize: {msg}"),
        }
    }
}

struct Direct {
    store: Mutex<Store>,
    version: &'static str,
}

impl Direct {
    fn new(version: &'static str) -> Self {
        Self {
            store: Mutex::new(Store::default()),
            version,
        }
    }

    fn call(&self, method: &str, path: &str, body: &str) -> Result<serde_json::Value, Error> {
        let params = form::parse(&[body.as_bytes()]).map_err(|e| Error { _detail: e.message })?;
        let dialect = ApiVersion::parse(self.version)
            .map_err(|e| Error { _detail: e.message })?
            .dialect();
        let mut store = self.store.lock().map_err(|e| Error {
            _detail: e.to_string(),
        })?;
        dispatch(&mut store, method, path, params, dialect, now())
            .map_err(|e| Error { _detail: e.message })
    }
}

impl StripeBlockingClient for Direct {
    type Err = Error;

    fn execute(&self, req: CustomizedStripeRequest) -> Result<Bytes, Error> {
        let (builder, _) = req.into_pieces();
        let method = match builder.method {
            StripeMethod::Get => "GET",
            StripeMethod::Post => "POST",
            StripeMethod::Delete => "DELETE",
        };
        let encoded = builder.body.or(builder.query).unwrap_or_default();
        let value = self.call(method, &format!("/v1{}", builder.path), &encoded)?;
        Ok(Bytes::from(value.to_string()))
    }
}

fn seed(client: &Direct) -> (String, String, String) {
    let product = client
        .call("POST", "/v1/products", "name=Coffee+plan")
        .expect("product");
    let product = product["id"].as_str().expect("id").to_owned();
    let price = |body: String| {
        client.call("POST", "/v1/prices", &body).expect("price")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let monthly = price(format!(
        "product={product}&currency=usd&unit_amount=1500&recurring[interval]=month"
    ));
    let yearly = price(format!(
        "product={product}&currency=usd&unit_amount=15000&recurring[interval]=year"
    ));
    let mug = price(format!("product={product}&currency=usd&unit_amount=900"));
    (monthly, yearly, mug)
}

fn item(price: &str, quantity: u64) -> CreateCheckoutSessionLineItems {
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some(price.to_owned());
    item.quantity = Some(quantity);
    item
}

#[test]
fn async_stripe_round_trip_under_endive() {
    let client = Direct::new("2026-09-30.endive");
    let (monthly, yearly, mug) = seed(&client);

    let created = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .ui_mode(CheckoutSessionUiMode::Elements)
        .return_url("https://example.test/return")
        .line_items(vec![item(&monthly, 1), item(&mug, 2)])
        .expand(vec!["line_items".to_owned()])
        .send_blocking(&client)
        .expect("create");
    assert_eq!(created.ui_mode, Some(CheckoutSessionUiMode::Elements));
    assert_eq!(created.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(created.amount_total, Some(1500 + 1800));
    assert!(created.client_secret.is_some());
    let items = created.line_items.expect("expanded").data;
    assert_eq!(items.len(), 2);
    let plan_id = items[0].id.to_string();

    // Swap the plan to yearly (keep id, change price), drop the mug, add another item.
    let mut keep = UpdateCheckoutSessionLineItems::new();
    keep.id = Some(plan_id.clone());
    keep.price = Some(yearly.clone());
    let mut add = UpdateCheckoutSessionLineItems::new();
    add.price = Some(mug.clone());
    add.quantity = Some(3);
    let updated = UpdateCheckoutSession::new(created.id.clone())
        .line_items(vec![add, keep])
        .expand(vec!["line_items".to_owned()])
        .send_blocking(&client)
        .expect("update");
    let items = updated.line_items.expect("expanded").data;
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].id.to_string(), plan_id);
    assert_eq!(items[1].amount_total, 15000);
    assert_eq!(items[0].quantity, Some(3));
    assert_eq!(updated.amount_subtotal, Some(15000 + 2700));

    let retrieved = RetrieveCheckoutSession::new(created.id.clone())
        .expand(vec!["line_items.data.price.product".to_owned()])
        .send_blocking(&client)
        .expect("retrieve");
    assert_eq!(retrieved.amount_total, Some(15000 + 2700));

    let page = ListLineItemsCheckoutSession::new(created.id.clone())
        .limit(1)
        .send_blocking(&client)
        .expect("list");
    assert_eq!(page.data.len(), 1);
    assert!(page.has_more);

    let expired = ExpireCheckoutSession::new(created.id.clone())
        .send_blocking(&client)
        .expect("expire");
    assert_eq!(expired.status, Some(CheckoutSessionStatus::Expired));
}

#[test]
fn async_stripe_reads_preview_and_hosted_sessions() {
    let client = Direct::new("2025-03-31.basil; checkout_server_update_beta=v1;");
    let (monthly, _, _) = seed(&client);
    let body = format!(
        "mode=subscription&ui_mode=custom&permissions[update_line_items]=server_only&line_items[0][price]={monthly}&line_items[0][quantity]=1"
    );
    let created = client
        .call("POST", "/v1/checkout/sessions", &body)
        .expect("create");
    let id = created["id"].as_str().expect("id").to_owned();
    // async-stripe's types are for the new dialect but must not choke on the old spelling.
    let session = RetrieveCheckoutSession::new(id)
        .send_blocking(&client)
        .expect("retrieve");
    assert_eq!(
        session.ui_mode,
        Some(CheckoutSessionUiMode::Unknown("custom".to_owned()))
    );
    assert!(session.permissions.is_some());

    let hosted = client
        .call(
            "POST",
            "/v1/checkout/sessions",
            "mode=payment&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=500&line_items[0][price_data][product_data][name]=Gift&line_items[0][quantity]=1&shipping_options[0][shipping_rate_data][display_name]=Post&shipping_options[0][shipping_rate_data][type]=fixed_amount&shipping_options[0][shipping_rate_data][fixed_amount][amount]=300&shipping_options[0][shipping_rate_data][fixed_amount][currency]=usd&metadata[a]=b",
        )
        .expect("hosted");
    let id = hosted["id"].as_str().expect("id").to_owned();
    let session = RetrieveCheckoutSession::new(id)
        .expand(vec!["line_items".to_owned()])
        .send_blocking(&client)
        .expect("retrieve hosted");
    assert_eq!(session.amount_total, Some(800));
    assert!(session.url.is_some());
    assert_eq!(session.shipping_options.len(), 1);
}

#[test]
fn async_stripe_reads_line_item_taxes() {
    let client = Direct::new("2026-09-30.endive");
    let (_, _, mug) = seed(&client);
    let rate = client
        .call(
            "POST",
            "/v1/tax_rates",
            "display_name=VAT&percentage=20&inclusive=true&country=GB&jurisdiction=GB",
        )
        .expect("tax rate");
    let rate_id = rate["id"].as_str().expect("id").to_owned();
    let sales = client
        .call(
            "POST",
            "/v1/tax_rates",
            "display_name=Sales+tax&percentage=7.25&inclusive=false&state=CA",
        )
        .expect("tax rate");
    let sales_id = sales["id"].as_str().expect("id").to_owned();

    let mut taxed = item(&mug, 2);
    taxed.tax_rates = Some(vec![rate_id.clone()]);
    let created = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .ui_mode(CheckoutSessionUiMode::Elements)
        .return_url("https://example.test/return")
        .line_items(vec![taxed])
        .send_blocking(&client)
        .expect("create");
    // 1800 including 20 %: tax 300, total unchanged.
    assert_eq!(created.amount_total, Some(1800));
    assert_eq!(
        created.total_details.as_ref().map(|t| t.amount_tax),
        Some(300)
    );

    let items = RetrieveCheckoutSession::new(created.id.clone())
        .expand(vec!["line_items".to_owned()])
        .send_blocking(&client)
        .expect("retrieve")
        .line_items
        .expect("expanded")
        .data;
    // `taxes` is includable: absent (None) unless `line_items.data.taxes` is expanded.
    assert!(items[0].taxes.is_none());
    let mut keep = UpdateCheckoutSessionLineItems::new();
    keep.id = Some(items[0].id.to_string());
    keep.tax_rates = Some(vec![sales_id.clone()]);
    let updated = UpdateCheckoutSession::new(created.id.clone())
        .line_items(vec![keep])
        .expand(vec!["line_items.data.taxes".to_owned()])
        .send_blocking(&client)
        .expect("update");
    let item = &updated.line_items.expect("expanded").data[0];
    let taxes = item.taxes.as_ref().expect("taxes");
    assert_eq!(taxes.len(), 1);
    assert_eq!(taxes[0].rate.id.as_str(), sales_id);
    assert_eq!(taxes[0].rate.percentage, 7.25);
    assert!(!taxes[0].rate.inclusive);
    // 1800 × 7.25 % = 130.5 → 131 on top.
    assert_eq!(taxes[0].amount, 131);
    assert_eq!(taxes[0].taxable_amount, Some(1800));
    assert_eq!(item.amount_total, 1931);
    assert_eq!(updated.amount_total, Some(1931));
}
