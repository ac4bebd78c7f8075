//! [`StripeGateway`] over async-stripe's typed requests, sent by our own small HTTP transport.
//!
//! Why not async-stripe's bundled client: it always sends the `Stripe-Version` it was generated for
//! and has no way to add the preview flag (`; checkout_server_update_beta=v1;`). async-stripe's
//! request types still do the parameter naming and form encoding (`StripeRequest::build`); this
//! transport adds the configured version, the Idempotency-Key, per-attempt timeouts and bounded
//! retries, and reads responses into version-neutral snapshots (see `wire`).

use super::gateway::{
    CheckoutEvent, CreatedSession, NewSession, StripeError, StripeGateway, WriteState,
};
use super::settings::{SetupError, StripeConfig};
use super::version::ApiVersion;
use super::wire::{self, ErrorEnvelope};
use crate::telemetry::error_chain;
use bytes::Bytes;
use cart_domain::{CartPlan, CheckoutSessionId, PlannedLineItem, SessionSnapshot};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use stripe_checkout::checkout_session::{
    ListLineItemsCheckoutSession, RetrieveCheckoutSession, UpdateCheckoutSession,
    UpdateCheckoutSessionCollectedInformation,
    UpdateCheckoutSessionCollectedInformationShippingDetails,
    UpdateCheckoutSessionCollectedInformationShippingDetailsAddress,
    UpdateCheckoutSessionLineItems, UpdateCheckoutSessionShippingOptions,
    UpdateCheckoutSessionShippingOptionsShippingRateData,
    UpdateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimate as DeliveryEstimate,
    UpdateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMaximum as EstimateMax,
    UpdateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMaximumUnit as MaxUnit,
    UpdateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMinimum as EstimateMin,
    UpdateCheckoutSessionShippingOptionsShippingRateDataDeliveryEstimateMinimumUnit as MinUnit,
    UpdateCheckoutSessionShippingOptionsShippingRateDataFixedAmount,
    UpdateCheckoutSessionShippingOptionsShippingRateDataType,
};
use stripe_client_core::{RequestBuilder, StripeMethod, StripeRequest};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Stripe's expanded `line_items` holds the first page only; the rest is read 100 at a time, up to
/// this many pages (Checkout allows far fewer items than that).
const MAX_LINE_ITEM_PAGES: usize = 20;
const USER_AGENT_VALUE: &str = concat!("cart-runtime/", env!("CARGO_PKG_VERSION"));

/// The production [`StripeGateway`].
#[derive(Debug, Clone)]
pub struct HttpStripe {
    http: Client<Connector, Full<Bytes>>,
    api_base: String,
    authorization: HeaderValue,
    version: HeaderValue,
    attempt_timeout: Duration,
    max_attempts: u32,
    api_version: ApiVersion,
}

/// The create form. Hand-written rather than async-stripe's `CreateCheckoutSession`, whose
/// types follow endive: they cannot say `ui_mode=custom` nor the preview's
/// `permissions[update_line_items]`.
#[derive(Debug, serde::Serialize)]
struct CreateForm<'a> {
    mode: &'static str,
    ui_mode: &'static str,
    return_url: &'a str,
    line_items: Vec<CreateLineItem<'a>>,
    metadata: std::collections::BTreeMap<&'static str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<CreatePermissions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    expand: [&'static str; 1],
}

#[derive(Debug, serde::Serialize)]
struct CreateLineItem<'a> {
    price: &'a str,
    quantity: u64,
}

#[derive(Debug, serde::Serialize)]
struct CreatePermissions {
    update_line_items: &'static str,
}

impl HttpStripe {
    /// Builds the client once per cold start (TLS roots, connection pool).
    pub fn new(config: &StripeConfig) -> Result<Self, SetupError> {
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| SetupError {
                name: "STRIPE_API_BASE",
                reason: format!("TLS set-up failed: {e}"),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(tls);
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", config.secret_key))
            .map_err(|_| SetupError {
                name: "STRIPE_SECRET_KEY",
                reason: "is not a valid HTTP header value".into(),
            })?;
        authorization.set_sensitive(true);
        let version =
            HeaderValue::try_from(config.api_version.header()).map_err(|_| SetupError {
                name: "STRIPE_API_VERSION",
                reason: "is not a valid HTTP header value".into(),
            })?;
        Ok(Self {
            http,
            api_base: config.api_base.clone(),
            authorization,
            version,
            attempt_timeout: config.attempt_timeout,
            max_attempts: config.max_attempts,
            api_version: config.api_version.clone(),
        })
    }

    /// Sends one Stripe request with bounded retries. Only requests that are safe to repeat are
    /// retried: GETs, and POSTs carrying an Idempotency-Key. `Stripe-Should-Retry` decides when
    /// Stripe sends it, in both directions (as stripe-python's `_should_retry` does); without
    /// it 409, 429 and 5xx are retried, except a keyed write's 5xx: Stripe saved it under the key
    /// and would only replay it (see [`WriteState::Saved`]).
    #[tracing::instrument(name = "stripe", skip_all, fields(method = ?req.method, path = %req.path, attempts))]
    pub(super) async fn send(
        &self,
        req: RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> Result<Bytes, StripeError> {
        let keyed = idempotency_key.is_some();
        let repeatable = matches!(req.method, StripeMethod::Get) || keyed;
        let mut attempt = 0;
        // Some attempt got no answer: that write may still be running at Stripe.
        let mut unanswered = false;
        let unsettled = |unanswered: bool| {
            if unanswered {
                WriteState::InFlight
            } else {
                WriteState::NotRun
            }
        };
        loop {
            attempt += 1;
            tracing::Span::current().record("attempts", attempt);
            let unavailable = |cause: String, state| StripeError::Unavailable {
                attempts: attempt,
                cause,
                state,
            };
            let cause = match tokio::time::timeout(
                self.attempt_timeout,
                self.attempt(&req, idempotency_key),
            )
            .await
            {
                Ok(Ok((status, should_retry, body))) => {
                    if (200..300).contains(&status) {
                        return Ok(body);
                    }
                    let answer = Answer::read(status, &body);
                    let transient = status == 409 || status == 429 || status >= 500;
                    let saved = keyed && status >= 500;
                    if !should_retry.unwrap_or(transient && !saved) {
                        if !transient {
                            return Err(answer.refusal());
                        }
                        let hint = should_retry.map_or("", |_| " (Stripe-Should-Retry: false)");
                        let state = if saved || (keyed && should_retry == Some(false)) {
                            WriteState::Saved
                        } else {
                            unsettled(unanswered)
                        };
                        return Err(unavailable(
                            format!("HTTP {status}{hint}: {}", answer.message),
                            state,
                        ));
                    }
                    format!("HTTP {status}: {}", answer.message)
                }
                Ok(Err(transport)) => {
                    unanswered = true;
                    transport
                }
                Err(_) => {
                    unanswered = true;
                    format!("no response within {} ms", self.attempt_timeout.as_millis())
                }
            };
            if !repeatable || attempt >= self.max_attempts {
                return Err(unavailable(cause, unsettled(unanswered)));
            }
            tracing::warn!(attempt, %cause, "Stripe call failed; retrying");
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    async fn attempt(
        &self,
        req: &RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> Result<(u16, Option<bool>, Bytes), String> {
        let mut uri = format!("{}/v1{}", self.api_base, req.path);
        if let Some(query) = req.query.as_deref().filter(|q| !q.is_empty()) {
            uri.push('?');
            uri.push_str(query);
        }
        let method = match req.method {
            StripeMethod::Get => hyper::Method::GET,
            StripeMethod::Post => hyper::Method::POST,
            StripeMethod::Delete => hyper::Method::DELETE,
        };
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, self.authorization.clone())
            .header("stripe-version", self.version.clone())
            .header(USER_AGENT, USER_AGENT_VALUE);
        if let Some(key) = idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        let body = match &req.body {
            Some(form) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form.clone()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder
            .body(body)
            .map_err(|e| format!("bad request: {e}"))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| format!("connection failed: {}", error_chain(&e)))?;
        let status = response.status().as_u16();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("response body failed: {}", error_chain(&e)))?
            .to_bytes();
        Ok((status, should_retry, body))
    }

    async fn session_from(&self, body: Bytes) -> Result<SessionSnapshot, StripeError> {
        let session: wire::Session = serde_json::from_slice(&body)
            .map_err(|e| StripeError::Malformed(format!("checkout session: {e}")))?;
        self.complete(session).await
    }

    /// The snapshot of a session whose first line item page is expanded, paging for the rest.
    async fn complete(&self, mut session: wire::Session) -> Result<SessionSnapshot, StripeError> {
        let first_page = session
            .line_items
            .take()
            .ok_or_else(|| StripeError::Malformed("line_items were not expanded".into()))?;
        let mut items = first_page.data;
        let mut has_more = first_page.has_more;
        let mut pages = 0;
        while has_more {
            pages += 1;
            if pages > MAX_LINE_ITEM_PAGES {
                return Err(StripeError::Malformed("too many line item pages".into()));
            }
            let mut list = ListLineItemsCheckoutSession::new(session.id.as_str())
                .limit(100)
                .expand(vec![LIST_ITEMS_WITH_TAXES.to_owned()]);
            if let Some(last) = items.last() {
                list = list.starting_after(last.id.clone());
            }
            let page: wire::List<wire::LineItem> =
                serde_json::from_slice(&self.send(list.build(), None).await?)
                    .map_err(|e| StripeError::Malformed(format!("line item list: {e}")))?;
            has_more = page.has_more && !page.data.is_empty();
            items.extend(page.data);
        }
        session.into_snapshot(items).map_err(StripeError::Malformed)
    }
}

/// A failed answer's Stripe error, read once for both ways it can end a request.
struct Answer {
    status: u16,
    error: Option<wire::ErrorBody>,
    message: String,
}

impl Answer {
    fn read(status: u16, body: &[u8]) -> Self {
        let error = serde_json::from_slice::<ErrorEnvelope>(body)
            .ok()
            .map(|e| e.error);
        let message = error
            .as_ref()
            .and_then(|e| e.message.clone())
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        Self {
            status,
            error,
            message,
        }
    }

    /// A client error that retrying will not fix.
    fn refusal(self) -> StripeError {
        let error = self.error;
        let code = error.as_ref().and_then(|e| e.code.clone());
        if self.status == 404 && code.as_deref() == Some("resource_missing") {
            return StripeError::NotFound;
        }
        StripeError::Refused {
            status: self.status,
            error_type: error
                .as_ref()
                .and_then(|e| e.error_type.clone())
                .unwrap_or_default(),
            code,
            param: error.and_then(|e| e.param),
            message: self.message,
        }
    }
}

/// 100 ms, 200 ms, 400 ms … capped at 1 s, with jitter so retries from many instances spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(4))
        .min(1_000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

/// What every retrieve and update expands: the first page of items with their taxes, and the
/// shipping rates so the planner can tell whether the options it wants are already there.
/// `line_items` on a session and `taxes` on an item are includable: Stripe leaves them out of a
/// default response (its published fixtures, `openapi/fixtures3.json`, have neither; stripe-node
/// types them `line_items?` and `taxes?`), so an item's tax rates are only seen when expanded.
fn expansions() -> Vec<String> {
    vec![
        SESSION_ITEMS_WITH_TAXES.to_owned(),
        "shipping_options.shipping_rate".to_owned(),
    ]
}

/// `line_items` with each item's `taxes` (implies `line_items`).
const SESSION_ITEMS_WITH_TAXES: &str = "line_items.data.taxes";
/// The same on the line item list endpoint.
const LIST_ITEMS_WITH_TAXES: &str = "data.taxes";

/// The whole update in async-stripe's typed form: the entire `line_items` array (each entry with
/// the plan's tax rates when it has them) and, when the plan says so, the shipping details and
/// the complete list of shipping options.
fn update_request(id: &CheckoutSessionId, plan: &CartPlan) -> UpdateCheckoutSession {
    let mut req = UpdateCheckoutSession::new(id.as_str())
        .line_items(line_item_params(
            &plan.line_items,
            plan.tax_rates.as_deref(),
        ))
        .expand(expansions());
    if let Some(details) = &plan.shipping_details {
        let a = &details.address;
        let mut address = UpdateCheckoutSessionCollectedInformationShippingDetailsAddress::new(
            a.country.as_str(),
            a.line1.as_str(),
        );
        address.line2.clone_from(&a.line2);
        address.city.clone_from(&a.city);
        address.state.clone_from(&a.state);
        address.postal_code.clone_from(&a.postal_code);
        let mut info = UpdateCheckoutSessionCollectedInformation::new();
        info.shipping_details = Some(
            UpdateCheckoutSessionCollectedInformationShippingDetails::new(
                address,
                details.name.as_str(),
            ),
        );
        req = req.collected_information(info);
    }
    if let Some(options) = &plan.shipping_options {
        let options: Vec<UpdateCheckoutSessionShippingOptions> = options
            .iter()
            .map(|option| {
                let mut data = UpdateCheckoutSessionShippingOptionsShippingRateData::new(
                    option.display_name.as_str(),
                );
                data.type_ =
                    Some(UpdateCheckoutSessionShippingOptionsShippingRateDataType::FixedAmount);
                // Infallible: an unknown code is kept as it is.
                let Ok(currency) = option.currency.parse::<stripe_types::Currency>();
                data.fixed_amount = Some(
                    UpdateCheckoutSessionShippingOptionsShippingRateDataFixedAmount::new(
                        option.amount,
                        currency,
                    ),
                );
                if option.min_days.is_some() || option.max_days.is_some() {
                    let mut estimate = DeliveryEstimate::new();
                    estimate.minimum = option
                        .min_days
                        .map(|days| EstimateMin::new(MinUnit::BusinessDay, i64::from(days)));
                    estimate.maximum = option
                        .max_days
                        .map(|days| EstimateMax::new(MaxUnit::BusinessDay, i64::from(days)));
                    data.delivery_estimate = Some(estimate);
                }
                let mut param = UpdateCheckoutSessionShippingOptions::new();
                param.shipping_rate_data = Some(data);
                param
            })
            .collect();
        req = req.shipping_options(options);
    }
    req
}

/// The entire `line_items` array, in async-stripe's typed form.
fn line_item_params(
    items: &[PlannedLineItem],
    tax_rates: Option<&[String]>,
) -> Vec<UpdateCheckoutSessionLineItems> {
    items
        .iter()
        .map(|item| {
            let mut param = UpdateCheckoutSessionLineItems::new();
            param.tax_rates = tax_rates.map(<[String]>::to_vec);
            match item {
                PlannedLineItem::Keep { id } => param.id = Some(id.to_string()),
                PlannedLineItem::Update { id, quantity } => {
                    param.id = Some(id.to_string());
                    param.quantity = Some(*quantity);
                }
                PlannedLineItem::Add { price, quantity } => {
                    param.price = Some(price.to_string());
                    param.quantity = Some(*quantity);
                }
            }
            param
        })
        .collect()
}

impl StripeGateway for HttpStripe {
    async fn create_session(
        &self,
        new: &NewSession<'_>,
        idempotency_key: &str,
    ) -> Result<CreatedSession, StripeError> {
        let form = CreateForm {
            mode: match new.mode {
                cart_domain::SessionMode::Subscription => "subscription",
                _ => "payment",
            },
            ui_mode: self.api_version.elements_ui_mode(),
            return_url: new.return_url,
            line_items: new
                .line_items
                .iter()
                .map(|(price, quantity)| CreateLineItem {
                    price: price.as_str(),
                    quantity: *quantity,
                })
                .collect(),
            metadata: [(cart_domain::RESERVATION_METADATA_KEY, new.reservation)]
                .into_iter()
                .collect(),
            permissions: self.api_version.is_preview().then_some(CreatePermissions {
                update_line_items: "server_only",
            }),
            expires_at: new.expires_at,
            expand: [SESSION_ITEMS_WITH_TAXES],
        };
        let req = RequestBuilder::new(StripeMethod::Post, "/checkout/sessions").form(&form);
        let body = self.send(req, Some(idempotency_key)).await?;
        let mut session: wire::Session = serde_json::from_slice(&body)
            .map_err(|e| StripeError::Malformed(format!("created session: {e}")))?;
        let client_secret = session.client_secret.take();
        Ok(CreatedSession {
            session: self.complete(session).await?,
            client_secret,
        })
    }

    async fn checkout_events(
        &self,
        types: &[&str],
        created_since_s: i64,
    ) -> Result<Vec<CheckoutEvent>, StripeError> {
        self.list_checkout_events(types, created_since_s).await
    }

    async fn retrieve_session(
        &self,
        id: &CheckoutSessionId,
    ) -> Result<SessionSnapshot, StripeError> {
        let req = RetrieveCheckoutSession::new(id.as_str()).expand(expansions());
        let body = self.send(req.build(), None).await?;
        self.session_from(body).await
    }

    async fn update_line_items(
        &self,
        id: &CheckoutSessionId,
        plan: &CartPlan,
        idempotency_key: &str,
    ) -> Result<SessionSnapshot, StripeError> {
        let req = update_request(id, plan);
        let body = self.send(req.build(), Some(idempotency_key)).await?;
        self.session_from(body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cart_domain::{LineItemId, PriceId};

    #[test]
    fn the_whole_array_is_encoded_in_order_with_stripe_bracket_names() {
        let items = [
            PlannedLineItem::Keep {
                id: LineItemId::parse("li_a").unwrap(),
            },
            PlannedLineItem::Add {
                price: PriceId::parse("price_y").unwrap(),
                quantity: 2,
            },
            PlannedLineItem::Update {
                id: LineItemId::parse("li_c").unwrap(),
                quantity: 5,
            },
        ];
        let req = UpdateCheckoutSession::new("cs_test_1")
            .line_items(line_item_params(&items, None))
            .build();
        let body = req.body.unwrap().replace("%5B", "[").replace("%5D", "]");
        assert_eq!(
            body,
            "line_items[0][id]=li_a&line_items[1][price]=price_y&line_items[1][quantity]=2\
             &line_items[2][id]=li_c&line_items[2][quantity]=5"
        );
        assert_eq!(req.path, "/checkout/sessions/cs_test_1");
    }

    #[test]
    fn shipping_details_options_and_taxes_are_encoded_with_stripe_bracket_names() {
        use cart_domain::{Address, ShippingDetails, ShippingOptionPlan};
        let option = |name: &str, amount, days: Option<(u32, u32)>| ShippingOptionPlan {
            display_name: name.into(),
            amount,
            currency: "usd".into(),
            min_days: days.map(|d| d.0),
            max_days: days.map(|d| d.1),
        };
        let plan = CartPlan {
            line_items: vec![
                PlannedLineItem::Keep {
                    id: LineItemId::parse("li_a").unwrap(),
                },
                PlannedLineItem::Add {
                    price: PriceId::parse("price_y").unwrap(),
                    quantity: 1,
                },
            ],
            changes_cart: true,
            stock: vec![],
            shipping_details: Some(ShippingDetails {
                name: "Ada L".into(),
                address: Address {
                    line1: "1 Main St".into(),
                    line2: None,
                    city: Some("Springfield".into()),
                    state: Some("CA".into()),
                    postal_code: Some("94000".into()),
                    country: "US".into(),
                },
            }),
            shipping_options: Some(vec![
                option("Standard", 500, Some((3, 5))),
                option("Pickup", 0, None),
            ]),
            tax_rates: Some(vec!["txr_ca".into()]),
            changes_shipping: true,
        };
        let id = CheckoutSessionId::parse("cs_test_1").unwrap();
        let req = update_request(&id, &plan).build();
        let body = req
            .body
            .unwrap()
            .replace("%5B", "[")
            .replace("%5D", "]")
            .replace('+', " ");
        let fields: Vec<&str> = body.split('&').collect();
        for expected in [
            "collected_information[shipping_details][address][city]=Springfield",
            "collected_information[shipping_details][address][country]=US",
            "collected_information[shipping_details][address][line1]=1 Main St",
            "collected_information[shipping_details][address][postal_code]=94000",
            "collected_information[shipping_details][address][state]=CA",
            "collected_information[shipping_details][name]=Ada L",
            "line_items[0][id]=li_a",
            "line_items[0][tax_rates][0]=txr_ca",
            "line_items[1][price]=price_y",
            "line_items[1][quantity]=1",
            "line_items[1][tax_rates][0]=txr_ca",
            "shipping_options[0][shipping_rate_data][display_name]=Standard",
            "shipping_options[0][shipping_rate_data][type]=fixed_amount",
            "shipping_options[0][shipping_rate_data][fixed_amount][amount]=500",
            "shipping_options[0][shipping_rate_data][fixed_amount][currency]=usd",
            "shipping_options[0][shipping_rate_data][delivery_estimate][minimum][unit]=business_day",
            "shipping_options[0][shipping_rate_data][delivery_estimate][minimum][value]=3",
            "shipping_options[0][shipping_rate_data][delivery_estimate][maximum][unit]=business_day",
            "shipping_options[0][shipping_rate_data][delivery_estimate][maximum][value]=5",
            "shipping_options[1][shipping_rate_data][display_name]=Pickup",
            "shipping_options[1][shipping_rate_data][fixed_amount][amount]=0",
            "expand[0]=line_items.data.taxes",
            "expand[1]=shipping_options.shipping_rate",
        ] {
            assert!(fields.contains(&expected), "{expected} missing from {body}");
        }
        assert!(!body.contains("line2"), "{body}");
        assert!(!body.contains("shipping_options[1][shipping_rate_data][delivery_estimate]"));
        // The line item order is the array order.
        let order: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| f.starts_with("line_items["))
            .collect();
        assert_eq!(order.first(), Some(&"line_items[0][id]=li_a"));
        // Without a destination the update is the bare array, as before.
        let bare = CartPlan {
            shipping_details: None,
            shipping_options: None,
            tax_rates: None,
            ..plan
        };
        let body = update_request(&id, &bare).build().body.unwrap();
        assert!(
            !body.contains("shipping_options%5B")
                && !body.contains("tax_rates")
                && !body.contains("collected"),
            "{body}"
        );
        let cleared = CartPlan {
            tax_rates: Some(vec![]),
            ..bare
        };
        // A destination without a rate clears the items' rates with Stripe's empty-value syntax.
        let body = update_request(&id, &cleared)
            .build()
            .body
            .unwrap()
            .replace("%5B", "[")
            .replace("%5D", "]");
        assert!(
            body.contains("line_items[0][tax_rates]=&")
                && body.ends_with("line_items[1][tax_rates]="),
            "{body}"
        );
    }

    #[test]
    fn the_create_form_speaks_the_configured_dialect() {
        let items = [(PriceId::parse("price_m").unwrap(), 1)];
        let form = |preview: bool| {
            let version = if preview {
                ApiVersion::parse("2025-03-31.basil; checkout_server_update_beta=v1;").unwrap()
            } else {
                ApiVersion::default()
            };
            let form = CreateForm {
                mode: "subscription",
                ui_mode: version.elements_ui_mode(),
                return_url: "https://shop.example/r",
                line_items: items
                    .iter()
                    .map(|(p, q)| CreateLineItem {
                        price: p.as_str(),
                        quantity: *q,
                    })
                    .collect(),
                metadata: [("cart_reservation", "rsv_1")].into_iter().collect(),
                permissions: version.is_preview().then_some(CreatePermissions {
                    update_line_items: "server_only",
                }),
                expires_at: Some(1_800_000_000),
                expand: ["line_items"],
            };
            RequestBuilder::new(StripeMethod::Post, "/checkout/sessions")
                .form(&form)
                .body
                .unwrap()
                .replace("%5B", "[")
                .replace("%5D", "]")
        };
        let preview = form(true);
        assert!(preview.contains("ui_mode=custom"), "{preview}");
        assert!(
            preview.contains("permissions[update_line_items]=server_only"),
            "{preview}"
        );
        assert!(preview.contains("line_items[0][price]=price_m&line_items[0][quantity]=1"));
        assert!(preview.contains("metadata[cart_reservation]=rsv_1"));
        assert!(preview.contains("expires_at=1800000000"), "{preview}");
        let ga = form(false);
        assert!(
            ga.contains("ui_mode=elements") && !ga.contains("permissions"),
            "{ga}"
        );
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..10 {
            assert!(backoff(attempt) <= Duration::from_millis(1_000));
        }
        assert!(backoff(1) <= Duration::from_millis(100));
    }
}
