//! [`StripeGateway`] over async-stripe's typed requests, sent by our own small HTTP transport.
//!
//! Why not async-stripe's bundled client: it always sends the `Stripe-Version` it was generated for
//! and has no way to add the preview flag (`; checkout_server_update_beta=v1;`). async-stripe's
//! request types still do the parameter naming and form encoding (`StripeRequest::build`); this
//! transport adds the configured version, the Idempotency-Key, per-attempt timeouts and bounded
//! retries, and reads responses into version-neutral snapshots (see `wire`).

use super::wire::{self, ErrorEnvelope};
use super::{CreatedSession, NewSession, StripeError, StripeGateway};
use crate::config::{ConfigError, StripeConfig};
use crate::error_chain;
use crate::stripe::ApiVersion;
use bytes::Bytes;
use cart_validation::{CheckoutSessionId, PlannedLineItem, SessionSnapshot};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use stripe_checkout::checkout_session::{
    ListLineItemsCheckoutSession, RetrieveCheckoutSession, UpdateCheckoutSession,
    UpdateCheckoutSessionLineItems,
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
    pub fn new(config: &StripeConfig) -> Result<Self, ConfigError> {
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| ConfigError::Invalid {
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
            .map_err(|_| ConfigError::Invalid {
                name: "STRIPE_SECRET_KEY",
                reason: "is not a valid HTTP header value".into(),
            })?;
        authorization.set_sensitive(true);
        let version = HeaderValue::try_from(config.api_version.header()).map_err(|_| {
            ConfigError::Invalid {
                name: "STRIPE_API_VERSION",
                reason: "is not a valid HTTP header value".into(),
            }
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
    /// retried: GETs, and POSTs carrying an Idempotency-Key.
    #[tracing::instrument(name = "stripe", skip_all, fields(method = ?req.method, path = %req.path, attempts))]
    async fn send(
        &self,
        req: RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> Result<Bytes, StripeError> {
        let repeatable = matches!(req.method, StripeMethod::Get) || idempotency_key.is_some();
        let mut attempt = 0;
        loop {
            attempt += 1;
            tracing::Span::current().record("attempts", attempt);
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
                    let transient = status == 409 || status == 429 || status >= 500;
                    let error = serde_json::from_slice::<ErrorEnvelope>(&body)
                        .ok()
                        .map(|e| e.error);
                    let message = error
                        .as_ref()
                        .and_then(|e| e.message.clone())
                        .unwrap_or_else(|| {
                            String::from_utf8_lossy(&body).chars().take(200).collect()
                        });
                    if !transient {
                        let code = error.as_ref().and_then(|e| e.code.clone());
                        if status == 404 && code.as_deref() == Some("resource_missing") {
                            return Err(StripeError::NotFound);
                        }
                        return Err(StripeError::Refused {
                            status,
                            error_type: error
                                .as_ref()
                                .and_then(|e| e.error_type.clone())
                                .unwrap_or_default(),
                            code,
                            param: error.and_then(|e| e.param),
                            message,
                        });
                    }
                    // Stripe can say outright that a retry is pointless.
                    if should_retry == Some(false) {
                        return Err(StripeError::Unavailable {
                            attempts: attempt,
                            cause: format!("HTTP {status} (Stripe-Should-Retry: false): {message}"),
                        });
                    }
                    format!("HTTP {status}: {message}")
                }
                Ok(Err(transport)) => transport,
                Err(_) => format!("no response within {} ms", self.attempt_timeout.as_millis()),
            };
            if !repeatable || attempt >= self.max_attempts {
                return Err(StripeError::Unavailable {
                    attempts: attempt,
                    cause,
                });
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
            let mut list = ListLineItemsCheckoutSession::new(session.id.as_str()).limit(100);
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

/// 100 ms, 200 ms, 400 ms … capped at 1 s, with jitter so retries from many instances spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(4))
        .min(1_000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

/// The entire `line_items` array, in async-stripe's typed form.
fn line_item_params(items: &[PlannedLineItem]) -> Vec<UpdateCheckoutSessionLineItems> {
    items
        .iter()
        .map(|item| {
            let mut param = UpdateCheckoutSessionLineItems::new();
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
                cart_validation::SessionMode::Subscription => "subscription",
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
            metadata: [(cart_validation::RESERVATION_METADATA_KEY, new.reservation)]
                .into_iter()
                .collect(),
            permissions: self.api_version.is_preview().then_some(CreatePermissions {
                update_line_items: "server_only",
            }),
            expand: ["line_items"],
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

    async fn retrieve_session(
        &self,
        id: &CheckoutSessionId,
    ) -> Result<SessionSnapshot, StripeError> {
        let req = RetrieveCheckoutSession::new(id.as_str()).expand(vec!["line_items".to_owned()]);
        let body = self.send(req.build(), None).await?;
        self.session_from(body).await
    }

    async fn update_line_items(
        &self,
        id: &CheckoutSessionId,
        line_items: &[PlannedLineItem],
        idempotency_key: &str,
    ) -> Result<SessionSnapshot, StripeError> {
        let req = UpdateCheckoutSession::new(id.as_str())
            .line_items(line_item_params(line_items))
            .expand(vec!["line_items".to_owned()]);
        let body = self.send(req.build(), Some(idempotency_key)).await?;
        self.session_from(body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cart_validation::{LineItemId, PriceId};

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
            .line_items(line_item_params(&items))
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
