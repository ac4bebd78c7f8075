//! The request pipeline every handler shares (4 sequential remote round trips, 5 with a stock move):
//! parse (pure) → claim idempotency + session lease (1) → retrieve the session (2) → plan (pure)
//! → move stock holds when quantities of tracked SKUs change (3) → update Stripe with the entire
//! `line_items` array (4), moving the stock back if Stripe refuses → store the response + release.
//!
//! The lease is taken BEFORE the session is read: a read that overlapped a wait for the lease could
//! see the cart before the previous holder's update landed, and the whole-array update would then
//! silently undo that update.

use crate::config::{Config, ConfigError};
use crate::guard::{
    admit, body_hash, duration_ms, now_ms, Admission, Claim, DynamoGuardStore, GuardSettings,
    GuardStore, IdempotencyKey, LeaseEnd, Metered, RecordClaim, RecordEnd, StoredResponse,
};
use crate::http::Reply;
use crate::inventory::{
    move_holds_reconciled, reversed, shard_counts, DynamoInventory, InventoryError, InventoryStore,
    Reconcile,
};
use crate::stripe::{HttpStripe, NewSession, StripeError, StripeGateway};
use cart_validation::request::MAX_BODY_BYTES;
use cart_validation::{
    plan, plan_new_cart, ApiError, CartPlan, Catalog, Command, ErrorCode, NewCartRequest,
    PlannedLineItem, Rejection, SessionSnapshot, SessionSummary, Sku, StockChange, UpdatePolicy,
};
use lambda_http::{Body, Request, RequestExt, Response};
use sha2::{Digest, Sha256};
use std::time::Instant;
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

/// Holds outlive their session by this much, so the sweeper never races Stripe's own expiry
/// (and the event it records).
const HOLD_MARGIN_S: i64 = 600;
/// Stripe's default session lifetime, for sessions that do not say.
const DEFAULT_SESSION_LIFETIME_S: i64 = 24 * 3_600;

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

/// How far [`App::align_holds`] may move a hold towards the cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Both,
    ReleaseOnly,
}

/// Stripe takes `expires_at` 30 min to 24 h after creation, checked by its clock when the
/// request arrives: a minute of slack at each end keeps a configured 30 or 1440 valid then.
fn session_lifetime_s(configured: std::time::Duration) -> i64 {
    let configured = i64::try_from(configured.as_secs()).unwrap_or(i64::MAX);
    configured.clamp(30 * 60 + 60, 24 * 3_600 - 60)
}

/// When a session's holds expire: an hour after the session (or a default lifetime from now).
fn hold_expiry(session: &SessionSnapshot) -> u64 {
    let expires_at = session.expires_at.unwrap_or_else(|| {
        i64::try_from(now_ms() / 1000).unwrap_or_default() + DEFAULT_SESSION_LIFETIME_S
    }) + HOLD_MARGIN_S;
    u64::try_from(expires_at).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("method {0} not allowed")]
    Method(String),
    #[error("content type {0:?} is not JSON")]
    MediaType(String),
    #[error("invalid Idempotency-Key header")]
    BadIdempotencyKey,
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("retrieving the session: {0}")]
    Retrieve(StripeError),
    #[error("updating the session: {0}")]
    Update(StripeError),
    #[error("creating the session: {0}")]
    Create(StripeError),
    #[error("{0} is not configured")]
    Unconfigured(&'static str),
    #[error("webhook signature: {0}")]
    Signature(webhook::SignatureError),
    #[error(transparent)]
    Store(#[from] crate::guard::StoreError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl Failure {
    /// Stripe keeps this failure under the write's key: the next attempt must use another.
    fn saved_under_key(&self) -> bool {
        matches!(self, Self::Update(e) | Self::Create(e) if e.saved_under_key())
    }

    fn to_api_error(&self) -> ApiError {
        match self {
            Self::Method(_) => ApiError::new(ErrorCode::MethodNotAllowed),
            Self::MediaType(_) => ApiError::new(ErrorCode::UnsupportedMediaType),
            Self::BadIdempotencyKey => ApiError::new(ErrorCode::InvalidRequest)
                .with_message(
                    "The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
                )
                .with_param("Idempotency-Key"),
            Self::Rejected(rejection) => ApiError::from(rejection.clone()),
            Self::Unconfigured(_) => ApiError::new(ErrorCode::InternalError),
            Self::Signature(_) => ApiError::new(ErrorCode::InvalidSignature),
            Self::Retrieve(e) | Self::Update(e) | Self::Create(e) => match e {
                StripeError::NotFound => ApiError::new(ErrorCode::SessionNotFound),
                StripeError::Unavailable { .. } => {
                    ApiError::new(ErrorCode::PaymentProviderUnavailable)
                }
                StripeError::Refused { .. } | StripeError::Malformed(_) => {
                    ApiError::new(ErrorCode::InternalError)
                }
            },
            Self::Store(_) => ApiError::new(ErrorCode::InternalError),
            Self::Inventory(InventoryError::OutOfStock { available, .. }) => {
                let mut error = ApiError::new(ErrorCode::OutOfStock);
                error.available = Some(*available);
                error
            }
            // A hold that keeps moving under us: only a concurrent writer outside the lease does that.
            Self::Inventory(InventoryError::HoldMismatch { .. }) => {
                ApiError::new(ErrorCode::SessionBusy).with_retry_after(1)
            }
            // Other carts kept holding the same product at that moment, beyond the retries.
            Self::Inventory(InventoryError::Contended { .. }) => {
                ApiError::new(ErrorCode::StockBusy).with_retry_after(1)
            }
            Self::Inventory(InventoryError::Store(_)) => ApiError::new(ErrorCode::InternalError),
        }
    }
}

/// The claim to go on with, or the answer that settles the request without running it: the stored
/// one (a replay, `Idempotent-Replayed: true`) or a 409/422 for a busy session or key.
fn proceed_or_answer(admission: Admission) -> Result<Claim, (Reply, bool)> {
    let error = match admission {
        Admission::Proceed(claim) => return Ok(claim),
        Admission::Replay(stored) => {
            tracing::Span::current().record("outcome", "replayed");
            let reply = Reply {
                status: stored.status,
                body: stored.body,
                retry_after: None,
            };
            return Err((reply, true));
        }
        Admission::KeyReused => ApiError::new(ErrorCode::IdempotencyKeyReused),
        Admission::InProgress => ApiError::new(ErrorCode::RequestInProgress).with_retry_after(1),
        Admission::SessionBusy { until_ms } => {
            let seconds = until_ms
                .saturating_sub(now_ms())
                .div_ceil(1000)
                .clamp(1, 60);
            ApiError::new(ErrorCode::SessionBusy)
                .with_retry_after(u32::try_from(seconds).unwrap_or(60))
        }
    };
    Err((Reply::error(&error), false))
}

/// Stores the answer for replay and ends the lease; a 5xx, or an answer that asks to be retried
/// later (`Retry-After`: the session or the stock was busy), forgets the attempt instead, so the
/// retry runs again — with `next_generation` of derived Stripe keys when Stripe saved a failure
/// under the last one. If the store fails, the answer stands and the record and lease expire at
/// this request's deadline.
async fn finish<G: GuardStore>(
    guard: &Metered<'_, G>,
    claim: &Claim,
    reply: &Reply,
    lease: LeaseEnd,
    next_generation: Option<u32>,
) {
    let stored = StoredResponse {
        status: reply.status,
        body: reply.body.clone(),
    };
    let record = match next_generation {
        _ if reply.status < 500 && reply.retry_after.is_none() => RecordEnd::Store(&stored),
        Some(next_generation) => RecordEnd::Failed { next_generation },
        None => RecordEnd::Forget,
    };
    if let Err(e) = guard.finish(claim, record, lease).await {
        tracing::error!(error = %e, "could not store the answer or end the lease");
    }
}

/// The checks every endpoint (the cart's and the webhook) makes first, in this order: the method
/// (405), the content type (415: exactly one `Content-Type`, JSON), then the body's size (413),
/// before anything reads the body.
fn accept_post_json(request: &Request, max_body_bytes: usize) -> Result<(), Failure> {
    if request.method() != lambda_http::http::Method::POST {
        return Err(Failure::Method(request.method().to_string()));
    }
    let mut types = request.headers().get_all("content-type").iter();
    match (types.next(), types.next()) {
        (Some(value), None)
            if value
                .to_str()
                .is_ok_and(cart_validation::request::is_json_content_type) => {}
        (first, _) => {
            // For the log only, bounded: the header is the client's text.
            let sent = first.map_or_else(
                || "none".to_owned(),
                |v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .chars()
                        .take(100)
                        .collect()
                },
            );
            return Err(Failure::MediaType(sent));
        }
    }
    cart_validation::request::check_size(request.body().as_ref(), max_body_bytes)?;
    Ok(())
}

/// Stripe writes a request may make, each under a fresh derived key, when Stripe answers one
/// with a failure it saved under its key; the client's retry goes on from the next generation.
const FRESH_KEYS_PER_REQUEST: u32 = 2;

/// What a request's derived Stripe idempotency keys are made of.
struct StripeKeys<'a> {
    client_key: Option<&'a IdempotencyKey>,
    /// Moves on each time Stripe saves a failure under the current key: Stripe replays a saved
    /// failure to every request that reuses its key (API reference, "Idempotent requests").
    generation: u32,
}

/// A request that passed parsing.
struct Accepted {
    operation: Operation,
    key: Option<IdempotencyKey>,
    body_hash: String,
    /// What the lease and the idempotency record are about: the session, or for a session not
    /// created yet, its reservation.
    scope: String,
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

    /// What a request must be before anything remote is asked: POST (405), a JSON content type
    /// (415), a body within the limit (413), at most one well-formed `Idempotency-Key` (400), and a
    /// body the endpoint's parser accepts (400, or 413 from the parser's own size check).
    fn accept(&self, request: &Request, parse: Parser) -> Result<Accepted, Failure> {
        accept_post_json(request, MAX_BODY_BYTES)?;
        let mut keys = request.headers().get_all("idempotency-key").iter();
        let key = match (keys.next(), keys.next()) {
            (None, _) => None,
            (Some(raw), None) => {
                Some(IdempotencyKey::parse(raw.as_bytes()).ok_or(Failure::BadIdempotencyKey)?)
            }
            // Two keys: which one the client meant is anyone's guess.
            (Some(_), Some(_)) => return Err(Failure::BadIdempotencyKey),
        };
        let body = request.body().as_ref();
        let operation = parse(body)?;
        // The parser accepted it, so it is a JSON object.
        let body_hash = serde_json::from_slice(body)
            .map(|json| body_hash(&json))
            .unwrap_or_default();
        let scope = match &operation {
            Operation::Change(command) => command.session_id.to_string(),
            // The same client key always means the same reservation, so a retried create finds
            // its own holds and its own Stripe idempotency key.
            Operation::Create(_) => match &key {
                Some(key) => {
                    let digest = Sha256::digest(format!("{}\n{}", self.function, key.as_str()));
                    format!("rsv_{}", &hex::encode(digest)[..32])
                }
                None => format!("rsv_{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            },
        };
        Ok(Accepted {
            operation,
            key,
            body_hash,
            scope,
        })
    }

    fn claim_for(&self, request: &Request, accepted: &Accepted) -> Claim {
        let now = now_ms();
        // Lambda's deadline when it is real; local runtimes (cargo-lambda) may send none (0).
        let deadline = request
            .lambda_context_ref()
            .map(|c| c.deadline)
            .filter(|&d| d > now)
            .unwrap_or(now + DEFAULT_BUDGET_MS)
            .min(now + MAX_LEASE_MS);
        let session = accepted.scope.as_str();
        Claim {
            holder: format!("{}-{:016x}", self.function, fastrand::u64(..)),
            lease_pk: format!("lease#{session}"),
            // A Stripe write sent just before the deadline may land just after it.
            lease_until_ms: deadline + duration_ms(self.settings.late_write),
            record: accepted.key.as_ref().map(|key| RecordClaim {
                pk: format!("idem#{}#{session}#{}", self.function, key.as_str()),
                body_hash: accepted.body_hash.clone(),
                in_progress_until_ms: deadline,
                expiration_s: now / 1000 + self.settings.record_ttl.as_secs(),
                stripe_generation: 0,
            }),
        }
    }

    /// After a Stripe write of unknown outcome the session stays busy while the write may still
    /// land: the whole-array update of a request that read the cart before it would be undone by
    /// it, and the holds that request moved towards that cart would fall below the one Stripe
    /// ends up with.
    fn lease_after(&self, failure: &Failure) -> LeaseEnd {
        match failure {
            Failure::Update(error) | Failure::Create(error) if error.outcome_unknown() => {
                let until = now_ms() + duration_ms(self.settings.late_write);
                tracing::warn!(
                    until_ms = until,
                    "keeping the session busy while Stripe may still apply the write"
                );
                LeaseEnd::KeepUntil(until)
            }
            _ => LeaseEnd::Release,
        }
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

    /// Plan → hold stock → create the Stripe session, releasing the stock if Stripe fails.
    async fn create_cart(
        &self,
        request: &NewCartRequest,
        reservation: &str,
        keys: &mut StripeKeys<'_>,
    ) -> Result<Reply, Failure> {
        let return_url = self
            .return_url
            .as_deref()
            .ok_or(Failure::Unconfigured("CHECKOUT_RETURN_URL"))?;
        let cart = plan_new_cart(request, &self.catalog)?;
        let now_s = i64::try_from(now_ms() / 1000).unwrap_or_default();
        // A cart that holds stock gets the configured lifetime: an abandoned one gives the stock
        // back then, not a day later.
        let session_expires_at =
            (!cart.stock.is_empty()).then(|| now_s + session_lifetime_s(self.session_lifetime));
        let expires_at = u64::try_from(
            session_expires_at.unwrap_or(now_s + DEFAULT_SESSION_LIFETIME_S) + HOLD_MARGIN_S,
        )
        .unwrap_or_default();
        let reconciled = move_holds_reconciled(
            &self.inventory,
            reservation,
            &cart.stock,
            expires_at,
            None,
            Reconcile::Both,
        )
        .await?;
        // A retry sends Stripe the expiry the first attempt sent (kept on its holds): the same
        // Idempotency-Key with other parameters is refused.
        let session_expires_at = match (session_expires_at, reconciled.found_expiry) {
            (Some(_), Some(found)) => {
                Some(i64::try_from(found).unwrap_or(i64::MAX) - HOLD_MARGIN_S)
            }
            (chosen, _) => chosen,
        };
        let new = NewSession {
            mode: cart.mode,
            line_items: &cart.items,
            reservation,
            return_url,
            expires_at: session_expires_at,
        };
        let mut created = self
            .stripe
            .create_session(&new, &self.create_key(reservation, keys))
            .await;
        for _ in 1..FRESH_KEYS_PER_REQUEST {
            match &created {
                Err(error) if error.saved_under_key() => {
                    keys.generation += 1;
                    tracing::warn!(generation = keys.generation, %error, "Stripe saved a failure under the key; creating with a new one");
                    created = self
                        .stripe
                        .create_session(&new, &self.create_key(reservation, keys))
                        .await;
                }
                _ => break,
            }
        }
        match created {
            Ok(created) => {
                // Part of the creation's success: the sweeper settles holds by the session they
                // record. On failure the answer is a 5xx (not stored) and the keyed retry gets
                // Stripe's replay of this session and records it.
                let skus: Vec<_> = cart.stock.iter().map(|c| c.sku.clone()).collect();
                self.inventory
                    .attach_session(reservation, &skus, created.session.id.as_str())
                    .await?;
                Ok(Reply::created(
                    &SessionSummary::from(&created.session),
                    created.client_secret.as_deref(),
                ))
            }
            // Stripe may still create it: the holds stay for that session (the keyed retry gets
            // Stripe's replay; without one the sweeper finds the session by its events).
            Err(error) if error.outcome_unknown() => {
                tracing::warn!(%error, "session creation of unknown outcome; holds kept");
                Err(Failure::Create(error))
            }
            Err(error) => {
                let undo = reversed(&cart.stock);
                if let Err(e) = move_holds_reconciled(
                    &self.inventory,
                    reservation,
                    &undo,
                    expires_at,
                    None,
                    Reconcile::Both,
                )
                .await
                {
                    tracing::error!(error = %e, ?undo, "could not release the holds of a session Stripe did not create");
                }
                Err(Failure::Create(error))
            }
        }
    }

    /// Retrieve → plan → update, once more with a fresh key (after reading the cart again) when
    /// Stripe saved a failure under the first. Runs only while this request holds the session's
    /// lease.
    async fn change_cart(
        &self,
        command: &Command,
        keys: &mut StripeKeys<'_>,
    ) -> Result<SessionSummary, Failure> {
        let mut tries = 1;
        loop {
            match self.change_cart_once(command, keys).await {
                Err(failure) if failure.saved_under_key() && tries < FRESH_KEYS_PER_REQUEST => {
                    tries += 1;
                    keys.generation += 1;
                    tracing::warn!(generation = keys.generation, %failure, "Stripe saved a failure under the key; reading the cart again");
                }
                done => return done,
            }
        }
    }

    async fn change_cart_once(
        &self,
        command: &Command,
        keys: &StripeKeys<'_>,
    ) -> Result<SessionSummary, Failure> {
        let session = self
            .stripe
            .retrieve_session(&command.session_id)
            .await
            .map_err(Failure::Retrieve)?;
        let plan = plan(&session, &command.action, &self.catalog, self.policy)?;
        if plan.is_noop() {
            // Also how a retry finds a request that was cut off after Stripe's update: the cart is
            // already there, the release of stock that followed it may not be. The read is safe
            // to release against: a write of unknown outcome kept the lease until it could no
            // longer land (`lease_after`). Holds of SKUs the cart no longer shows are left to the
            // webhook, which settles every SKU, or the sweeper.
            let skus: Vec<Sku> = session.units_by_sku(&self.catalog).into_keys().collect();
            if let (Some(reservation), false) = (session.reservation(), skus.is_empty()) {
                let expires_at = hold_expiry(&session);
                self.align_holds(&session, reservation, &skus, expires_at, Align::ReleaseOnly)
                    .await;
            }
            return Ok(SessionSummary::from(&session));
        }
        // Stock moves are ordered so the holds never fall below the cart Stripe has: more units
        // are held before Stripe sees the new cart, fewer only after it has accepted it.
        let (increases, mut decreases): (Vec<StockChange>, Vec<StockChange>) =
            plan.stock.iter().cloned().partition(|c| c.to > c.from);
        let holds = self.holds_of(&session, &plan)?;
        if let Some((reservation, expires_at)) = holds {
            let reconciled = move_holds_reconciled(
                &self.inventory,
                reservation,
                &increases,
                expires_at,
                Some(session.id.as_str()),
                Reconcile::RaiseOnly,
            )
            .await?;
            // Held beyond the new cart: given back with the decreases, once Stripe has it.
            decreases.extend(reconciled.kept_above);
        }
        // One key for every attempt of this update (the transport retries with it).
        let key = self.stripe_idempotency_key(&session, &plan, keys);
        let updated = self
            .stripe
            .update_line_items(&command.session_id, &plan, &key)
            .await;
        let Some((reservation, expires_at)) = holds else {
            return updated
                .map(|u| SessionSummary::from(&u))
                .map_err(Failure::Update);
        };
        match updated {
            Ok(updated) => {
                if let Err(error) = move_holds_reconciled(
                    &self.inventory,
                    reservation,
                    &decreases,
                    expires_at,
                    Some(session.id.as_str()),
                    Reconcile::Both,
                )
                .await
                {
                    // Holds stay above the cart: never an oversell; the next move, the webhook
                    // or the sweeper settles the surplus.
                    tracing::error!(%error, ?decreases, "could not release stock after the update");
                }
                Ok(SessionSummary::from(&updated))
            }
            Err(error) => {
                match &error {
                    // Refused outright: the cart is as it was, and so go the holds.
                    StripeError::Refused { .. } | StripeError::NotFound => {
                        let skus: Vec<Sku> = plan.stock.iter().map(|c| c.sku.clone()).collect();
                        self.align_holds(&session, reservation, &skus, expires_at, Align::Both)
                            .await;
                    }
                    // Applied, not applied, or still to be applied by a request Stripe has not
                    // finished: no read can tell, so the holds keep covering both carts, and the
                    // session stays busy while the update may land (`lease_after`). The client's
                    // retry, the next change, the webhook or the sweeper settles them.
                    StripeError::Unavailable { .. } | StripeError::Malformed(_) => {
                        tracing::warn!(
                            ?increases,
                            ?decreases,
                            "cart unknown after a failed update; holds cover both carts"
                        );
                    }
                }
                Err(Failure::Update(error))
            }
        }
    }

    /// The session's reservation and hold expiry when the plan moves tracked stock.
    fn holds_of<'s>(
        &self,
        session: &'s SessionSnapshot,
        plan: &CartPlan,
    ) -> Result<Option<(&'s str, u64)>, Failure> {
        if plan.stock.is_empty() {
            return Ok(None);
        }
        let reservation = session.reservation().ok_or(Rejection::NotUpdatable(
            cart_validation::NotUpdatableReason::NotCreatedHere,
        ))?;
        Ok(Some((reservation, hold_expiry(session))))
    }

    /// Sets the holds of `skus` to what `cart` really holds (or, with [`Align::ReleaseOnly`],
    /// only gives back what is held beyond it). Failures are logged: the holds then stay at or
    /// above the cart, and the next move, the webhook or the sweeper settles them.
    async fn align_holds(
        &self,
        cart: &SessionSnapshot,
        reservation: &str,
        skus: &[Sku],
        expires_at: u64,
        align: Align,
    ) {
        let units = cart.units_by_sku(&self.catalog);
        let held = match self.inventory.holds(reservation, skus).await {
            Ok(held) => held,
            Err(error) => {
                tracing::error!(%error, "could not read the holds to align them with the cart");
                return;
            }
        };
        for sku in skus {
            let in_cart = units.get(sku).copied().unwrap_or(0);
            let held = held.get(sku).map_or(0, |h| h.quantity);
            if held == in_cart || (align == Align::ReleaseOnly && held < in_cart) {
                continue;
            }
            let fix = [StockChange {
                sku: sku.clone(),
                from: held,
                to: in_cart,
            }];
            if let Err(error) = move_holds_reconciled(
                &self.inventory,
                reservation,
                &fix,
                expires_at,
                Some(cart.id.as_str()),
                Reconcile::Both,
            )
            .await
            {
                tracing::error!(%error, %sku, "could not align a hold with the cart");
            }
        }
    }

    /// Same client key + same cart + same plan → same key, so a retried update is replayed by
    /// Stripe instead of being applied twice; any change to the cart in between yields a new key
    /// (Stripe refuses a key reused with different parameters). Without a client key nothing tells
    /// a retry from a new request, and a cart that returns to an earlier state (1 → 2 → 1 → 2)
    /// must not get the earlier request's answer replayed instead of being updated: such a
    /// request's key is unique.
    ///
    /// Each generation (see [`StripeKeys`]) gives the same request a different key.
    fn stripe_idempotency_key(
        &self,
        session: &SessionSnapshot,
        plan: &CartPlan,
        keys: &StripeKeys<'_>,
    ) -> String {
        let mut hash = Sha256::new();
        hash.update(self.function.as_bytes());
        hash.update(b"\n");
        hash.update(session.id.as_str().as_bytes());
        hash.update(b"\n");
        if keys.generation > 0 {
            hash.update(format!("generation {}\n", keys.generation).as_bytes());
        }
        match keys.client_key {
            Some(key) => hash.update(key.as_str().as_bytes()),
            None => hash.update(format!(
                "once {:016x}{:016x}",
                fastrand::u64(..),
                fastrand::u64(..)
            )),
        }
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
        // Shipping and tax are parameters of the same update: a different destination is a
        // different request and must not reuse the key.
        hash.update(
            format!(
                "\nship {:?}\noptions {:?}\ntax {:?}",
                plan.shipping_details, plan.shipping_options, plan.tax_rates
            )
            .as_bytes(),
        );
        format!("{}-{}", self.function, hex::encode(hash.finalize()))
    }

    /// The same reservation always gets the same key (a retried create is replayed by Stripe),
    /// one per generation.
    fn create_key(&self, reservation: &str, keys: &StripeKeys<'_>) -> String {
        match keys.generation {
            0 => format!("{}-{reservation}", self.function),
            n => format!("{}-{reservation}-g{n}", self.function),
        }
    }
}

pub mod sweeper;
pub mod webhook;

#[cfg(test)]
mod tests;
