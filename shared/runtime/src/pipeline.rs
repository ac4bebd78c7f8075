//! The request pipeline every handler shares:
//! parse (pure) → retrieve the session from Stripe → plan (pure) → update Stripe → respond.

use crate::config::{Config, ConfigError};
use crate::http;
use crate::stripe::{HttpStripe, StripeError, StripeGateway};
use cart_validation::{
    plan, ApiError, CartPlan, Catalog, Command, ErrorCode, PlannedLineItem, Rejection,
    SessionSnapshot, SessionSummary, UpdatePolicy,
};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use std::time::Instant;
use tracing::Instrument;

/// Turns a request body into a validated command; one per endpoint, from `cart_validation::request`.
pub type Parser = fn(&[u8]) -> Result<Command, Rejection>;

/// Everything a handler needs, built once per cold start.
#[derive(Debug)]
pub struct App<G> {
    stripe: G,
    catalog: Catalog,
    policy: UpdatePolicy,
    /// The function's name; part of every derived idempotency key so endpoints never collide.
    function: &'static str,
}

impl App<HttpStripe> {
    pub fn from_config(config: &Config, function: &'static str) -> Result<Self, ConfigError> {
        Ok(Self::new(
            HttpStripe::new(&config.stripe)?,
            config.catalog.clone(),
            config.stripe.api_version.update_policy(),
            function,
        ))
    }
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("method {0} not allowed")]
    Method(String),
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("retrieving the session: {0}")]
    Retrieve(StripeError),
    #[error("updating the session: {0}")]
    Update(StripeError),
}

impl Failure {
    fn to_api_error(&self) -> ApiError {
        match self {
            Self::Method(_) => ApiError::new(ErrorCode::MethodNotAllowed),
            Self::Rejected(rejection) => ApiError::from(rejection.clone()),
            Self::Retrieve(e) | Self::Update(e) => match e {
                StripeError::NotFound => ApiError::new(ErrorCode::SessionNotFound),
                StripeError::Unavailable { .. } => {
                    ApiError::new(ErrorCode::PaymentProviderUnavailable)
                }
                StripeError::Refused { .. } | StripeError::Malformed(_) => {
                    ApiError::new(ErrorCode::InternalError)
                }
            },
        }
    }
}

impl<G: StripeGateway> App<G> {
    pub fn new(stripe: G, catalog: Catalog, policy: UpdatePolicy, function: &'static str) -> Self {
        Self {
            stripe,
            catalog,
            policy,
            function,
        }
    }

    /// Handles one API Gateway request. Never fails: every error is a JSON response.
    pub async fn handle(&self, request: Request, parse: Parser) -> Response<Body> {
        let started = Instant::now();
        let span = tracing::info_span!(
            "request",
            function = self.function,
            session_id = tracing::field::Empty
        );
        let result = self.run(&request, parse).instrument(span.clone()).await;
        let _entered = span.enter();
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(summary) => {
                tracing::info!(status = 200, elapsed_ms, "cart updated");
                http::success(&summary)
            }
            Err(failure) => {
                let error = failure.to_api_error();
                if error.status() >= 500 {
                    tracing::error!(status = error.status(), code = error.code.as_str(), elapsed_ms, error = %failure, "request failed");
                } else {
                    tracing::info!(status = error.status(), code = error.code.as_str(), elapsed_ms, reason = %failure, "request refused");
                }
                http::error_response(&error)
            }
        }
    }

    async fn run(&self, request: &Request, parse: Parser) -> Result<SessionSummary, Failure> {
        if request.method() != lambda_http::http::Method::POST {
            return Err(Failure::Method(request.method().to_string()));
        }
        let command = parse(request.body().as_ref())?;
        tracing::Span::current().record("session_id", command.session_id.as_str());

        let session = self
            .stripe
            .retrieve_session(&command.session_id)
            .await
            .map_err(Failure::Retrieve)?;
        let plan = plan(&session, &command.action, &self.catalog, self.policy)?;
        if plan.is_noop() {
            return Ok(SessionSummary::from(&session));
        }
        let key = self.idempotency_key(&session, &plan);
        let updated = self
            .stripe
            .update_line_items(&command.session_id, &plan.line_items, &key)
            .await
            .map_err(Failure::Update)?;
        Ok(SessionSummary::from(&updated))
    }

    /// Same cart + same plan → same key, so a retried update is replayed by Stripe instead of being
    /// applied twice; any change to the cart in between yields a new key.
    fn idempotency_key(&self, session: &SessionSnapshot, plan: &CartPlan) -> String {
        let mut hash = Sha256::new();
        hash.update(self.function.as_bytes());
        hash.update(b"\n");
        hash.update(session.id.as_str().as_bytes());
        for item in &session.line_items {
            hash.update(
                format!("\nhave {} {} {}", item.id, item.price.id, item.quantity).as_bytes(),
            );
        }
        for item in &plan.line_items {
            let line = match item {
                PlannedLineItem::Keep { id } => format!("\nkeep {id}"),
                PlannedLineItem::Update { id, quantity } => format!("\nupdate {id} {quantity}"),
                PlannedLineItem::Add { price, quantity } => format!("\nadd {price} {quantity}"),
            };
            hash.update(line.as_bytes());
        }
        format!("{}-{}", self.function, hex::encode(hash.finalize()))
    }
}

#[cfg(test)]
mod tests;
