//! The release-holds sweeper (run on a schedule): the safety net for lost webhooks. Live holds past
//! their expiry are settled by what Stripe says of their session — paid: sold (surplus released);
//! completed unpaid: kept for the delayed payment, released once Stripe recorded its failure;
//! expired: released; still open: left for a later run. A hold that never recorded its session is
//! matched to one through Stripe's `checkout.session.*` events (the reservation is in the
//! session's metadata), and released only when no session made for it exists, which by then
//! means none can be paid.
//!
//! A run watches the invocation's deadline, asks Stripe about several sessions at once, and
//! reports what it did even when it stops early; the next run goes on from there.

use super::app::App;
use super::webhook::Verdict;
use crate::claims::{now_ms, ClaimStore};
use crate::inventory::{Held, HoldRecord, InventoryError, InventoryStore};
use crate::stripe::{CheckoutEvent, StripeError, StripeGateway};
use cart_domain::{CheckoutSessionId, SessionStatus};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Expired holds read per run: a run ends well inside its deadline at the concurrency below.
const HOLDS_PER_RUN: usize = 1_000;
/// Sessions asked about at once.
const CONCURRENCY: usize = 8;
/// A run stops starting new work this long before the invocation's deadline, and cancels what
/// is still running at half of it (a settlement is one all-or-nothing transaction).
const DEADLINE_MARGIN_MS: u64 = 2_000;
/// Without a deadline from the runtime (local runs) a run gets this long.
const DEFAULT_BUDGET_MS: u64 = 15_000;
/// How far back Stripe keeps events (API reference, "Events": 30 days).
const EVENT_RETENTION_S: i64 = 30 * 24 * 3_600;
/// The longest a session may live (Stripe: `expires_at` at most 24 h after creation).
const MAX_SESSION_LIFETIME_S: i64 = 24 * 3_600;

/// What one run did (also its log line and the invocation's result).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub holds_checked: usize,
    pub units_sold: u64,
    pub units_released: u64,
    pub holds_left_open: usize,
    pub holds_awaiting_payment: usize,
    pub errors: usize,
    /// Holds sold or released (by this run, or found settled meanwhile).
    pub holds_settled: usize,
    /// Expired holds this run did not settle for want of time or batch room: the next run's.
    pub backlog: usize,
    pub stopped_early: bool,
}

/// Sessions whose delayed payment failed, per Stripe's events: listed once per run, when a
/// completed unpaid session is first met.
type FailedPayments = tokio::sync::OnceCell<BTreeSet<String>>;

/// The holds of one reservation as the sweeper groups them.
struct Group {
    reservation: String,
    session: Option<String>,
    holds: Vec<HoldRecord>,
}

impl<S: StripeGateway, C: ClaimStore, I: InventoryStore> App<S, C, I> {
    /// One sweep, finished by `deadline_ms` (the invocation's; 0 when the runtime gave none).
    /// Safe to run concurrently with webhooks and other sweeps: a hold settles only from a live
    /// state, so whoever comes second changes nothing.
    pub async fn sweep(&self, deadline_ms: u64) -> SweepReport {
        let span = tracing::info_span!("sweep", function = self.function);
        tracing::Instrument::instrument(self.sweep_until(deadline_ms), span).await
    }

    async fn sweep_until(&self, deadline_ms: u64) -> SweepReport {
        let started = now_ms();
        let deadline = if deadline_ms > started {
            deadline_ms
        } else {
            started + DEFAULT_BUDGET_MS
        };
        let report = Mutex::new(SweepReport::default());
        let holds = match self
            .inventory
            .expired_holds(started / 1000, HOLDS_PER_RUN)
            .await
        {
            Ok(holds) => holds,
            Err(error) => {
                tracing::error!(%error, "could not list expired holds");
                let mut report = lock(&report);
                report.errors += 1;
                return *report;
            }
        };
        lock(&report).holds_checked = holds.len();
        let groups = self.groups(holds, &report).await;
        let failed_payments = FailedPayments::default();
        let stop_starting = deadline.saturating_sub(DEADLINE_MARGIN_MS);
        let work = futures_util::stream::iter(groups)
            .take_while(|_| std::future::ready(now_ms() < stop_starting))
            .map(|group| self.settle_group(group, &report, &failed_payments))
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>();
        let cancel_at = deadline.saturating_sub(DEADLINE_MARGIN_MS / 2);
        let budget = std::time::Duration::from_millis(cancel_at.saturating_sub(now_ms()));
        let finished = tokio::time::timeout(budget, work).await.is_ok();
        let mut report = *lock(&report);
        let done = report.holds_settled + report.holds_left_open + report.holds_awaiting_payment;
        report.backlog = report.holds_checked.saturating_sub(done + report.errors);
        if report.holds_checked == HOLDS_PER_RUN {
            // The batch was full: more may be waiting behind it.
            report.stopped_early = true;
        }
        report.stopped_early |= !finished || now_ms() >= stop_starting;
        tracing::info!(
            ?report,
            elapsed_ms = now_ms() - started,
            "swept expired holds"
        );
        report
    }

    /// The expired holds by reservation; holds that never recorded their session get the one
    /// Stripe's events name for their reservation, if any.
    async fn groups(&self, holds: Vec<HoldRecord>, report: &Mutex<SweepReport>) -> Vec<Group> {
        let mut by_reservation: BTreeMap<(String, Option<String>), Vec<HoldRecord>> =
            BTreeMap::new();
        for hold in holds {
            by_reservation
                .entry((hold.reservation.clone(), hold.session.clone()))
                .or_default()
                .push(hold);
        }
        let sessionless: BTreeSet<&str> = by_reservation
            .keys()
            .filter(|(_, session)| session.is_none())
            .map(|(reservation, _)| reservation.as_str())
            .collect();
        let found = if sessionless.is_empty() {
            Some(BTreeMap::new())
        } else {
            // A session made for a hold started before the hold expired minus the longest
            // lifetime; its completion or expiry is an event since then.
            let oldest = by_reservation
                .iter()
                .filter(|((_, session), _)| session.is_none())
                .flat_map(|(_, holds)| holds.iter().map(|h| h.expires_at_s))
                .min()
                .unwrap_or_default();
            let since = i64::try_from(oldest).unwrap_or_default()
                - MAX_SESSION_LIFETIME_S
                - super::lifetime::HOLD_MARGIN_S;
            match self.sessions_named(&sessionless, since).await {
                Ok(found) => Some(found),
                Err(error) => {
                    tracing::warn!(%error, "could not list Stripe's events; sessionless holds wait");
                    None
                }
            }
        };
        let mut groups = Vec::new();
        for ((reservation, session), holds) in by_reservation {
            let session = match (session, &found) {
                (Some(session), _) => Some(session),
                (None, Some(found)) => found.get(&reservation).cloned(),
                // Stripe's events could not be read: these wait for the next run.
                (None, None) => {
                    lock(report).errors += holds.len();
                    continue;
                }
            };
            groups.push(Group {
                reservation,
                session,
                holds,
            });
        }
        groups
    }

    /// The session each of `reservations` became, from the completion and expiry events Stripe
    /// recorded since `since_s`.
    async fn sessions_named(
        &self,
        reservations: &BTreeSet<&str>,
        since_s: i64,
    ) -> Result<BTreeMap<String, String>, StripeError> {
        let events = self
            .stripe
            .checkout_events(
                &["checkout.session.completed", "checkout.session.expired"],
                since_s.max(now_s() - EVENT_RETENTION_S),
            )
            .await?;
        Ok(events
            .into_iter()
            .filter_map(
                |CheckoutEvent {
                     session,
                     reservation,
                     ..
                 }| {
                    let reservation = reservation?;
                    reservations
                        .contains(reservation.as_str())
                        .then_some((reservation, session))
                },
            )
            .collect())
    }

    async fn settle_group(
        &self,
        group: Group,
        report: &Mutex<SweepReport>,
        failed_payments: &FailedPayments,
    ) {
        let Group {
            reservation,
            session,
            holds,
        } = group;
        let verdict = match self.verdict(session.as_deref(), failed_payments).await {
            Ok(verdict) => verdict,
            Err(error) => {
                tracing::warn!(%error, reservation, "could not ask Stripe; holds left for the next run");
                lock(report).errors += holds.len();
                return;
            }
        };
        if verdict == Verdict::Open {
            lock(report).holds_left_open += holds.len();
            return;
        }
        let held: BTreeMap<_, _> = holds
            .iter()
            .map(|h| {
                let held = Held {
                    quantity: h.quantity,
                    shard: h.shard,
                    session: h.session.clone(),
                    awaiting_payment: h.awaiting_payment,
                    expires_at_s: h.expires_at_s,
                };
                (h.sku.clone(), held)
            })
            .collect();
        let session_id = session.as_deref().unwrap_or_default();
        match self
            .apply_verdict(&reservation, session_id, held, &verdict)
            .await
        {
            Ok(()) => {
                let mut report = lock(report);
                match &verdict {
                    Verdict::AwaitingPayment => report.holds_awaiting_payment += holds.len(),
                    Verdict::Sold(bought) => {
                        for hold in &holds {
                            let sold = bought
                                .get(&hold.sku)
                                .copied()
                                .unwrap_or(0)
                                .min(hold.quantity);
                            report.units_sold += sold;
                            report.units_released += hold.quantity - sold;
                            report.holds_settled += 1;
                        }
                    }
                    Verdict::Released => {
                        for hold in &holds {
                            report.units_released += hold.quantity;
                            report.holds_settled += 1;
                        }
                    }
                    Verdict::Open => {}
                }
            }
            // Settled meanwhile (the webhook arrived after all): nothing to do.
            Err(InventoryError::HoldMismatch { .. }) => {
                lock(report).holds_settled += holds.len();
            }
            Err(error) => {
                tracing::error!(%error, reservation, "could not settle holds");
                lock(report).errors += holds.len();
            }
        }
    }

    /// What Stripe says of the session (`None`: none was ever made for the holds).
    async fn verdict(
        &self,
        session: Option<&str>,
        failed_payments: &FailedPayments,
    ) -> Result<Verdict, StripeError> {
        let Some(id) = session.and_then(|s| CheckoutSessionId::parse(s).ok()) else {
            return Ok(Verdict::Released);
        };
        let snapshot = match self.stripe.retrieve_session(&id).await {
            Ok(snapshot) => snapshot,
            Err(StripeError::NotFound) => return Ok(Verdict::Released),
            Err(other) => return Err(other),
        };
        Ok(match snapshot.status {
            SessionStatus::Open => Verdict::Open,
            SessionStatus::Complete if snapshot.payment_status.is_settled() => {
                Verdict::Sold(snapshot.units_by_sku(&self.catalog))
            }
            SessionStatus::Complete => {
                // Unpaid: its async payment failed if Stripe recorded so; else it is pending.
                let failed = failed_payments
                    .get_or_try_init(|| async {
                        let events = self
                            .stripe
                            .checkout_events(
                                &["checkout.session.async_payment_failed"],
                                now_s() - EVENT_RETENTION_S,
                            )
                            .await?;
                        Ok::<_, StripeError>(events.into_iter().map(|e| e.session).collect())
                    })
                    .await?;
                if failed.contains(id.as_str()) {
                    Verdict::Released
                } else {
                    Verdict::AwaitingPayment
                }
            }
            SessionStatus::Expired | SessionStatus::Unknown => Verdict::Released,
        })
    }
}

fn now_s() -> i64 {
    i64::try_from(now_ms() / 1000).unwrap_or_default()
}

fn lock(report: &Mutex<SweepReport>) -> std::sync::MutexGuard<'_, SweepReport> {
    report
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
