//! The release-holds sweeper (run on a schedule): the safety net for lost webhooks. Live holds past
//! their expiry are settled by what Stripe says of their session: complete → sold (surplus
//! released), expired or unknown → released, still open → left for the next run.

use super::App;
use crate::guard::{now_ms, GuardStore};
use crate::inventory::{HoldRecord, InventoryError, InventoryStore, Settlement};
use crate::stripe::{StripeError, StripeGateway};
use cart_validation::{CheckoutSessionId, SessionStatus, Sku};
use serde::Serialize;
use std::collections::BTreeMap;

/// Holds looked at per run; the schedule runs again soon enough for the rest.
const HOLDS_PER_RUN: usize = 200;

/// What one run did (also its log line and the invocation's result).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub holds_checked: usize,
    pub units_sold: u64,
    pub units_released: u64,
    pub holds_left_open: usize,
    pub errors: usize,
}

impl<S: StripeGateway, G: GuardStore, I: InventoryStore> App<S, G, I> {
    /// One sweep. Safe to run concurrently with webhooks and other sweeps: a hold settles only
    /// from the HELD state, so whoever comes second changes nothing.
    pub async fn sweep(&self) -> SweepReport {
        let mut report = SweepReport::default();
        let now_s = now_ms() / 1000;
        let holds = match self.inventory.expired_holds(now_s, HOLDS_PER_RUN).await {
            Ok(holds) => holds,
            Err(error) => {
                tracing::error!(%error, "could not list expired holds");
                report.errors += 1;
                return report;
            }
        };
        report.holds_checked = holds.len();
        let mut by_reservation: BTreeMap<(String, Option<String>), Vec<HoldRecord>> =
            BTreeMap::new();
        for hold in holds {
            by_reservation
                .entry((hold.reservation.clone(), hold.session.clone()))
                .or_default()
                .push(hold);
        }
        for ((reservation, session), holds) in by_reservation {
            match self.sold_per_sku(session.as_deref()).await {
                Ok(None) => report.holds_left_open += holds.len(),
                Ok(Some(bought)) => {
                    let settlements: Vec<Settlement> = holds
                        .iter()
                        .map(|h| Settlement {
                            sku: h.sku.clone(),
                            held: h.quantity,
                            shard: h.shard,
                            sold: bought.get(&h.sku).copied().unwrap_or(0),
                        })
                        .collect();
                    match self.inventory.settle(&reservation, &settlements).await {
                        Ok(()) => {
                            for s in &settlements {
                                let sold = s.sold.min(s.held);
                                report.units_sold += sold;
                                report.units_released += s.held - sold;
                            }
                        }
                        // Settled meanwhile (the webhook arrived after all): nothing to do.
                        Err(InventoryError::HoldMismatch { .. }) => {}
                        Err(error) => {
                            tracing::error!(%error, reservation, "could not settle holds");
                            report.errors += 1;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, reservation, "could not ask Stripe; holds left for the next run");
                    report.errors += 1;
                }
            }
        }
        tracing::info!(?report, "swept expired holds");
        report
    }

    /// Units bought per SKU if the session is over (empty when it expired or never existed);
    /// `None` while it is still open.
    async fn sold_per_sku(
        &self,
        session: Option<&str>,
    ) -> Result<Option<BTreeMap<Sku, u64>>, StripeError> {
        let Some(id) = session.and_then(|s| CheckoutSessionId::parse(s).ok()) else {
            // Stripe never created a session for this reservation.
            return Ok(Some(BTreeMap::new()));
        };
        let snapshot = match self.stripe.retrieve_session(&id).await {
            Ok(snapshot) => snapshot,
            Err(StripeError::NotFound) => return Ok(Some(BTreeMap::new())),
            Err(other) => return Err(other),
        };
        match snapshot.status {
            SessionStatus::Open => Ok(None),
            SessionStatus::Complete => Ok(Some(snapshot.units_by_sku(&self.catalog))),
            SessionStatus::Expired | SessionStatus::Unknown => Ok(Some(BTreeMap::new())),
        }
    }
}
