//! The Idempotency-Keys a request derives for its Stripe writes.

use super::app::App;
use crate::claims::{ClaimStore, IdempotencyKey};
use crate::inventory::InventoryStore;
use crate::stripe::StripeGateway;
use cart_domain::{CartPlan, PlannedLineItem, SessionSnapshot};
use sha2::{Digest, Sha256};
use std::future::Future;

/// Stripe writes a request may make, each under a fresh derived key, when Stripe answers one
/// with a failure it saved under its key; the client's retry goes on from the next generation.
pub(super) const FRESH_KEYS_PER_REQUEST: u32 = 2;

/// What a request's derived Stripe idempotency keys are made of.
#[derive(Clone, Copy)]
pub(super) struct StripeKeys<'a> {
    pub(super) client_key: Option<&'a IdempotencyKey>,
    /// Moves on each time Stripe saves a failure under the current key: Stripe replays a saved
    /// failure to every request that reuses its key (API reference, "Idempotent requests").
    pub(super) generation: u32,
}

impl<'a> StripeKeys<'a> {
    /// Runs `write` under the current generation, and again under the next while Stripe answers
    /// with a failure it saved under the key (`saved`), at most [`FRESH_KEYS_PER_REQUEST`] writes
    /// in all; the generation is left at the last one used.
    pub(super) async fn write_under_fresh_keys<T, E, Fut>(
        &mut self,
        saved: fn(&E) -> bool,
        mut write: impl FnMut(StripeKeys<'a>) -> Fut,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut result = write(*self).await;
        for _ in 1..FRESH_KEYS_PER_REQUEST {
            match &result {
                Err(error) if saved(error) => {
                    self.generation += 1;
                    tracing::warn!(
                        generation = self.generation,
                        %error,
                        "Stripe saved a failure under the key; writing again under the next one"
                    );
                    result = write(*self).await;
                }
                _ => break,
            }
        }
        result
    }
}

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
    /// Same client key + same cart + same plan → same key, so a retried update is replayed by
    /// Stripe instead of being applied twice; any change to the cart in between yields a new key
    /// (Stripe refuses a key reused with different parameters). Without a client key nothing tells
    /// a retry from a new request, and a cart that returns to an earlier state (1 → 2 → 1 → 2)
    /// must not get the earlier request's answer replayed instead of being updated: such a
    /// request's key is unique.
    ///
    /// Each generation (see [`StripeKeys`]) gives the same request a different key.
    pub(super) fn stripe_idempotency_key(
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
    pub(super) fn create_key(&self, reservation: &str, keys: &StripeKeys<'_>) -> String {
        match keys.generation {
            0 => format!("{}-{reservation}", self.function),
            n => format!("{}-{reservation}-g{n}", self.function),
        }
    }
}
