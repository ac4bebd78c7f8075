//! The request pipeline every handler shares (4 sequential remote round trips, 5 with a stock move):
//! parse (pure) → claim idempotency + session lease (1) → retrieve the session (2) → plan (pure)
//! → move stock holds when quantities of tracked SKUs change (3) → update Stripe with the entire
//! `line_items` array (4), moving the stock back if Stripe refuses → store the response + release.
//!
//! The lease is taken BEFORE the session is read: a read that overlapped a wait for the lease could
//! see the cart before the previous holder's update landed, and the whole-array update would then
//! silently undo that update.

use crate::config::{Config, ConfigError};
use crate::guard::{admit, DynamoGuardStore, GuardSettings, GuardStore, LeaseEnd, Metered};
use crate::http::Reply;
use crate::inventory::{shard_counts, DynamoInventory, InventoryStore};
use crate::stripe::{HttpStripe, StripeGateway};
use admission::{finish, proceed_or_answer};
use cart_validation::{Catalog, Command, NewCartRequest, Rejection, UpdatePolicy};
use failure::Failure;
use lambda_http::{Body, Request, RequestExt, Response};
use std::time::Instant;
use stripe_keys::StripeKeys;
use tracing::Instrument;

/// What a request asks for, once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Change an existing session's cart.
    Change(Command),
    /// Create a session (and its reservation) for a new cart.
    Create(NewCartRequest),
}

/// Turns a request body into a validated operation; one per endpoint, built on
/// `cart_validation::request`.
pub type Parser = fn(&[u8]) -> Result<Operation, Rejection>;

/// Without a Lambda context (in-process tests) a request gets this long.
const DEFAULT_BUDGET_MS: u64 = 15_000;
/// A lease never outlives this, whatever deadline the runtime reports.
const MAX_LEASE_MS: u64 = 30_000;

/// Everything a handler needs, built once per cold start.
#[derive(Debug)]
pub struct App<S, G, I> {
    stripe: S,
    guard: G,
    inventory: I,
    settings: GuardSettings,
    catalog: Catalog,
    policy: UpdatePolicy,
    /// Where Stripe sends the shopper after paying (create-session only).
    return_url: Option<String>,
    /// Signing secret of the webhook endpoint (stripe-webhook only).
    webhook_secret: Option<crate::config::Secret>,
    /// The function's name; scopes idempotency records and derived Stripe keys per endpoint.
    function: &'static str,
    /// How long a session whose cart holds stock stays open (create-session).
    session_lifetime: std::time::Duration,
}

impl App<HttpStripe, DynamoGuardStore, DynamoInventory> {
    /// Reads the configuration and builds the clients (once per cold start).
    pub async fn from_env(function: &'static str) -> Result<Self, ConfigError> {
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let config = Config::from_env(&aws).await?;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        Ok(Self::new(
            HttpStripe::new(&config.stripe)?,
            DynamoGuardStore::new(dynamo.clone(), config.idempotency_table.clone()),
            DynamoInventory::new(
                dynamo,
                config.inventory_table.clone(),
                shard_counts(&config.catalog),
            ),
            &config,
            function,
        ))
    }
}

impl<S: StripeGateway, G: GuardStore, I: InventoryStore> App<S, G, I> {
    pub fn new(stripe: S, guard: G, inventory: I, config: &Config, function: &'static str) -> Self {
        Self {
            stripe,
            guard,
            inventory,
            settings: config.guard,
            catalog: config.catalog.clone(),
            policy: config.stripe.api_version.update_policy(),
            return_url: config.return_url.clone(),
            webhook_secret: config.webhook_secret.clone(),
            function,
            session_lifetime: config.session_lifetime,
        }
    }

    /// Handles one API Gateway request. Never fails: every error is a JSON response.
    pub async fn handle(&self, request: Request, parse: Parser) -> Response<Body> {
        let started = Instant::now();
        let span = tracing::info_span!(
            "request",
            function = self.function,
            request_id = request
                .lambda_context_ref()
                .map(|c| c.request_id.as_str())
                .unwrap_or_default(),
            session_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let guard = Metered::new(&self.guard);
        let (reply, replayed) = self
            .process(&request, parse, &guard)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        tracing::info!(
            status = reply.status,
            replayed,
            elapsed_us,
            dynamo_round_trips = guard.round_trips(),
            guard_us = guard.micros(),
            "responded"
        );
        reply.into_response(replayed)
    }

    async fn process(
        &self,
        request: &Request,
        parse: Parser,
        guard: &Metered<'_, G>,
    ) -> (Reply, bool) {
        let accepted = match self.accept(request, parse) {
            Ok(accepted) => accepted,
            Err(failure) => return (self.refuse(&failure), false),
        };
        tracing::Span::current().record("session_id", accepted.scope.as_str());
        let claim = self.claim_for(request, &accepted);
        let admission = match admit(guard, claim, self.settings).await {
            Ok(admission) => admission,
            Err(e) => return (self.refuse(&Failure::Store(e)), false),
        };
        let claim = match proceed_or_answer(admission) {
            Ok(claim) => claim,
            Err(answer) => return answer,
        };

        let mut keys = StripeKeys {
            client_key: accepted.key.as_ref(),
            generation: claim.stripe_generation(),
        };
        let done = match &accepted.operation {
            Operation::Change(command) => self
                .change_cart(command, &mut keys)
                .await
                .map(|summary| ("updated", Reply::success(&summary))),
            Operation::Create(cart) => self
                .create_cart(cart, &accepted.scope, &mut keys)
                .await
                .map(|created| ("created", created)),
        };
        let (reply, lease, next_generation) = match done {
            Ok((outcome, reply)) => {
                tracing::Span::current().record("outcome", outcome);
                (reply, LeaseEnd::Release, None)
            }
            Err(failure) => {
                let next = failure.saved_under_key().then(|| keys.generation + 1);
                (self.refuse(&failure), self.lease_after(&failure), next)
            }
        };
        finish(guard, &claim, &reply, lease, next_generation).await;
        (reply, false)
    }

    fn refuse(&self, failure: &Failure) -> Reply {
        let error = failure.to_api_error();
        tracing::Span::current().record("outcome", error.code.as_str());
        if error.status() >= 500 {
            tracing::error!(code = error.code.as_str(), error = %failure, "request failed");
        } else {
            tracing::info!(code = error.code.as_str(), reason = %failure, "request refused");
        }
        Reply::error(&error)
    }
}

mod admission;
mod change;
mod create;
mod failure;
mod lifetime;
mod signature;
mod stripe_keys;
pub mod sweeper;
pub mod webhook;

#[cfg(test)]
mod tests;
