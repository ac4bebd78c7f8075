//! One request through the pipeline, in order: accept, admit (claim + lease), change or create
//! the cart, answer, and store the answer as the lease ends.

use super::admission::{finish, proceed_or_answer};
use super::app::{App, Operation, Parser};
use super::failure::Failure;
use super::stripe_keys::StripeKeys;
use crate::claims::{admit, ClaimStore, LeaseEnd, Metered};
use crate::http::Reply;
use crate::inventory::InventoryStore;
use crate::stripe::StripeGateway;
use lambda_http::{Body, Request, RequestExt, Response};
use std::time::Instant;
use tracing::Instrument;

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
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
        let claims = Metered::new(&self.claims);
        let (reply, replayed) = self
            .process(&request, parse, &claims)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        tracing::info!(
            status = reply.status,
            replayed,
            elapsed_us,
            dynamo_round_trips = claims.round_trips(),
            // The name from before the module was `claims`: the bench reads this field.
            guard_us = claims.micros(),
            "responded"
        );
        reply.into_response(replayed)
    }

    async fn process(
        &self,
        request: &Request,
        parse: Parser,
        claims: &Metered<'_, C>,
    ) -> (Reply, bool) {
        let accepted = match self.accept(request, parse) {
            Ok(accepted) => accepted,
            Err(failure) => return (self.refuse(&failure), false),
        };
        tracing::Span::current().record("session_id", accepted.scope.as_str());
        let claim = self.claim_for(request, &accepted);
        let admission = match admit(claims, claim, self.settings).await {
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
        finish(claims, &claim, &reply, lease, next_generation).await;
        (reply, false)
    }

    pub(super) fn refuse(&self, failure: &Failure) -> Reply {
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
