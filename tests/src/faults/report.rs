//! What a fault run was asked to do and what it saw, and the table it prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// How much to run.
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    /// Client operations (each with its own key), creates included.
    pub operations: usize,
    /// Clients sending at once.
    pub threads: usize,
    pub seed: u64,
}

/// What happened, and every broken promise in `violations`.
#[derive(Debug, Default)]
pub struct FaultReport {
    pub plan: Option<FaultPlan>,
    pub operations: usize,
    pub attempts: usize,
    pub stripe_calls: usize,
    pub stripe_failed: BTreeMap<String, usize>,
    pub finals: BTreeMap<String, usize>,
    pub converged: usize,
    pub sessions: usize,
    pub webhooks_dropped: usize,
    /// Sessions completed `unpaid`, and how their delayed payments ended.
    pub unpaid_completions: usize,
    pub payments_succeeded: usize,
    pub payments_failed: usize,
    /// Of the delayed payments' outcome events, how many were lost.
    pub async_events_dropped: usize,
    pub swept_units: u64,
    pub sold: u64,
    pub bought: u64,
    pub elapsed: Duration,
    pub violations: Vec<String>,
}

impl FaultReport {
    /// Share of Stripe checkout calls that failed or answered too late.
    pub fn failure_rate(&self) -> f64 {
        let failed: usize = self.stripe_failed.values().sum();
        failed as f64 / self.stripe_calls.max(1) as f64
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "  {name:<38} {value}");
        };
        if let Some(plan) = self.plan {
            row(
                "operations (keys) / client threads / seed",
                format!("{} / {} / {}", plan.operations, plan.threads, plan.seed),
            );
        }
        row("sessions created", self.sessions.to_string());
        row(
            "HTTP requests incl. client retries",
            self.attempts.to_string(),
        );
        row("Stripe checkout calls", self.stripe_calls.to_string());
        row(
            "  injected failures",
            format!(
                "{} ({:.1} %) {:?}",
                self.stripe_failed.values().sum::<usize>(),
                100.0 * self.failure_rate(),
                self.stripe_failed
            ),
        );
        row("final answers", format!("{:?}", self.finals));
        row(
            "keys converged (final answer = replay)",
            format!(
                "{} / {} ({:.1} %)",
                self.converged,
                self.operations,
                100.0 * self.converged as f64 / self.operations.max(1) as f64
            ),
        );
        row("webhooks dropped", self.webhooks_dropped.to_string());
        row(
            "completed unpaid: paid later / failed",
            format!(
                "{}: {} / {}",
                self.unpaid_completions, self.payments_succeeded, self.payments_failed
            ),
        );
        row(
            "  their outcome events dropped",
            self.async_events_dropped.to_string(),
        );
        row("units settled by the sweeper", self.swept_units.to_string());
        row(
            "units sold / paid for",
            format!("{} / {}", self.sold, self.bought),
        );
        row("violations", self.violations.len().to_string());
        row("elapsed", format!("{:.1} s", self.elapsed.as_secs_f64()));
        out
    }
}
