//! Where and how to reach Stripe, and the error of settings the client cannot be built from.

use super::version::ApiVersion;
use std::time::Duration;

/// The Stripe client could not be built from its settings (the configuration names the variable).
#[derive(Debug, thiserror::Error)]
#[error("{name} is invalid: {reason}")]
pub struct SetupError {
    pub name: &'static str,
    pub reason: String,
}

/// Where and how to reach Stripe.
#[derive(Clone)]
pub struct StripeConfig {
    pub api_base: String,
    pub secret_key: String,
    pub api_version: ApiVersion,
    /// Budget for one HTTP attempt, response body included.
    pub attempt_timeout: Duration,
    /// Attempts per call, first one included (retries only where Stripe says it is safe).
    pub max_attempts: u32,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base)
            .field("secret_key", &"<redacted>")
            .field("api_version", &self.api_version)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}
