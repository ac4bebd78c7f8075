//! What a request asks for ([`Operation`], read by an endpoint's [`Parser`]) and [`App`],
//! everything a handler needs, built once per cold start. The request flow is in `flow`; the
//! other modules of the pipeline add the steps.

use crate::claims::{ClaimSettings, ClaimStore, DynamoClaimStore};
use crate::config::{Config, ConfigError};
use crate::inventory::{shard_counts, DynamoInventory, InventoryStore};
use crate::stripe::{HttpStripe, StripeGateway};
use cart_domain::{Catalog, Command, NewCartRequest, Rejection, UpdatePolicy};

/// What a request asks for, once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Change an existing session's cart.
    Change(Command),
    /// Create a session (and its reservation) for a new cart.
    Create(NewCartRequest),
}

/// Turns a request body into a validated operation; one per endpoint, built on
/// `cart_domain::request`.
pub type Parser = fn(&[u8]) -> Result<Operation, Rejection>;

/// Without a Lambda context (in-process tests) a request gets this long.
pub(super) const DEFAULT_BUDGET_MS: u64 = 15_000;
/// A lease never outlives this, whatever deadline the runtime reports.
pub(super) const MAX_LEASE_MS: u64 = 30_000;

/// Everything a handler needs, built once per cold start.
#[derive(Debug)]
pub struct App<S, C, I> {
    pub(super) stripe: S,
    pub(super) claims: C,
    pub(super) inventory: I,
    pub(super) settings: ClaimSettings,
    pub(super) catalog: Catalog,
    pub(super) policy: UpdatePolicy,
    /// Where Stripe sends the shopper after paying (create-session only).
    pub(super) return_url: Option<String>,
    /// Signing secret of the webhook endpoint (stripe-webhook only).
    pub(super) webhook_secret: Option<crate::config::Secret>,
    /// The function's name; scopes idempotency records and derived Stripe keys per endpoint.
    pub(super) function: &'static str,
    /// How long a session whose cart holds stock stays open (create-session).
    pub(super) session_lifetime: std::time::Duration,
}

impl App<HttpStripe, DynamoClaimStore, DynamoInventory> {
    /// Reads the configuration and builds the clients (once per cold start).
    pub async fn from_env(function: &'static str) -> Result<Self, ConfigError> {
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let config = Config::from_env(&aws).await?;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        Ok(Self::new(
            HttpStripe::new(&config.stripe)?,
            DynamoClaimStore::new(dynamo.clone(), config.idempotency_table.clone()),
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

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
    pub fn new(
        stripe: S,
        claims: C,
        inventory: I,
        config: &Config,
        function: &'static str,
    ) -> Self {
        Self {
            stripe,
            claims,
            inventory,
            settings: config.claims,
            catalog: config.catalog.clone(),
            policy: config.stripe.api_version.update_policy(),
            return_url: config.return_url.clone(),
            webhook_secret: config.webhook_secret.clone(),
            function,
            session_lifetime: config.session_lifetime,
        }
    }
}
