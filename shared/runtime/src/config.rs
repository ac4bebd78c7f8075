//! Typed configuration, read once at cold start. Every failure names the variable at fault, so a
//! bad deployment stops at init with a message that says what to fix.

use crate::claims::ClaimSettings;
use crate::stripe::ApiVersion;
use crate::stripe::{SetupError, StripeConfig};
use cart_domain::{Catalog, CatalogError};
use std::time::Duration;

/// Stripe's public API; overridden by `STRIPE_API_BASE` for the local emulator.
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("catalog from {source_name} is invalid: {error}")]
    Catalog {
        source_name: String,
        error: CatalogError,
    },
}

impl From<SetupError> for ConfigError {
    fn from(e: SetupError) -> Self {
        Self::Invalid {
            name: e.name,
            reason: e.reason,
        }
    }
}

/// A secret value whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub stripe: StripeConfig,
    pub catalog: Catalog,
    /// DynamoDB table of idempotency records and session leases.
    pub idempotency_table: String,
    /// DynamoDB table of stock and holds.
    pub inventory_table: String,
    /// `CHECKOUT_RETURN_URL`: where Stripe sends the shopper after paying (create-session).
    pub return_url: Option<String>,
    /// `STRIPE_WEBHOOK_SECRET` (`whsec_…`): verifies webhook signatures (stripe-webhook).
    pub webhook_secret: Option<Secret>,
    pub claims: ClaimSettings,
    /// `CHECKOUT_SESSION_LIFETIME_MINUTES` (30 to 1440, Stripe's range for `expires_at`; default
    /// 60): how long a session whose cart holds stock stays open, and so how long an abandoned
    /// cart keeps that stock from other shoppers. Carts without tracked stock keep Stripe's 24 h.
    pub session_lifetime: Duration,
}

/// Reads variables through a lookup function so tests need not touch the process environment.
/// `https://` anywhere; plain `http://` only to this machine (the local emulator): a typo must
/// not send a live key in clear text across a network.
fn check_api_base(api_base: &str) -> Result<(), String> {
    if api_base.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = api_base.strip_prefix("http://") else {
        return Err(format!("`{api_base}` must be an https:// URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // `http://127.0.0.1@example.com` goes to example.com: no user info at all.
    let host = if authority.contains('@') {
        ""
    } else if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "`{api_base}` sends the secret key in clear text: plain http:// is only allowed to \
             a loopback host (127.0.0.1, ::1, localhost); use https://"
        ))
    }
}

pub fn from_lookup(get: impl Fn(&'static str) -> Option<String>) -> Result<Config, ConfigError> {
    let non_empty = |name: &'static str| get(name).filter(|v| !v.trim().is_empty());

    let api_base = non_empty("STRIPE_API_BASE")
        .unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.to_owned())
        .trim_end_matches('/')
        .to_owned();
    check_api_base(&api_base).map_err(|reason| ConfigError::Invalid {
        name: "STRIPE_API_BASE",
        reason,
    })?;

    let secret_key = non_empty("STRIPE_SECRET_KEY").ok_or(ConfigError::Missing {
        name: "STRIPE_SECRET_KEY",
        hint: "a Stripe secret or restricted key (sk_… / rk_…)",
    })?;
    if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_"))
        || secret_key.trim() != secret_key
    {
        return Err(ConfigError::Invalid {
            name: "STRIPE_SECRET_KEY",
            reason: "must be a Stripe secret or restricted key starting with sk_ or rk_".into(),
        });
    }

    let api_version = match non_empty("STRIPE_API_VERSION") {
        Some(raw) => ApiVersion::parse(&raw).map_err(|reason| ConfigError::Invalid {
            name: "STRIPE_API_VERSION",
            reason,
        })?,
        None => ApiVersion::default(),
    };

    let attempt_timeout =
        Duration::from_millis(number(&non_empty, "STRIPE_TIMEOUT_MS", 4_000, 1..=60_000)?);
    let max_attempts =
        u32::try_from(number(&non_empty, "STRIPE_MAX_ATTEMPTS", 3, 1..=5)?).unwrap_or(3);

    let (source_name, json) = if let Some(path) = non_empty("CATALOG_PATH") {
        let json = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
            name: "CATALOG_PATH",
            reason: format!("cannot read `{path}`: {e}"),
        })?;
        (path, json)
    } else if let Some(json) = non_empty("CATALOG_JSON") {
        ("CATALOG_JSON".to_owned(), json)
    } else {
        return Err(ConfigError::Missing {
            name: "CATALOG_PATH",
            hint: "path of the catalog JSON file (or put the JSON itself in CATALOG_JSON)",
        });
    };
    let catalog =
        Catalog::from_json(&json).map_err(|error| ConfigError::Catalog { source_name, error })?;

    let idempotency_table = non_empty("IDEMPOTENCY_TABLE").ok_or(ConfigError::Missing {
        name: "IDEMPOTENCY_TABLE",
        hint: "name of the DynamoDB table for idempotency records and session leases",
    })?;
    let return_url = non_empty("CHECKOUT_RETURN_URL");
    if let Some(url) = &return_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "CHECKOUT_RETURN_URL",
                reason: format!("`{url}` must be an http:// or https:// URL"),
            });
        }
    }
    let webhook_secret = non_empty("STRIPE_WEBHOOK_SECRET");
    if webhook_secret
        .as_deref()
        .is_some_and(|s| !s.starts_with("whsec_"))
    {
        return Err(ConfigError::Invalid {
            name: "STRIPE_WEBHOOK_SECRET",
            reason: "must be a webhook signing secret starting with whsec_".into(),
        });
    }
    let inventory_table = non_empty("INVENTORY_TABLE").ok_or(ConfigError::Missing {
        name: "INVENTORY_TABLE",
        hint: "name of the DynamoDB table for stock and holds",
    })?;
    let claims = ClaimSettings {
        record_ttl: Duration::from_secs(number(
            &non_empty,
            "IDEMPOTENCY_TTL_SECONDS",
            24 * 3600,
            60..=7 * 24 * 3600,
        )?),
        in_progress_wait: Duration::from_millis(number(
            &non_empty,
            "IDEMPOTENCY_WAIT_MS",
            2_000,
            0..=10_000,
        )?),
        lease_wait: Duration::from_millis(number(&non_empty, "LEASE_WAIT_MS", 2_000, 0..=10_000)?),
        late_write: Duration::from_millis(number(
            &non_empty,
            "STRIPE_LATE_WRITE_MS",
            2_000,
            0..=60_000,
        )?),
    };

    let session_lifetime = Duration::from_secs(
        60 * number(
            &non_empty,
            "CHECKOUT_SESSION_LIFETIME_MINUTES",
            60,
            30..=24 * 60,
        )?,
    );

    Ok(Config {
        session_lifetime,
        idempotency_table,
        inventory_table,
        return_url,
        webhook_secret: webhook_secret.map(Secret),
        claims,
        stripe: StripeConfig {
            api_base,
            secret_key,
            api_version,
            attempt_timeout,
            max_attempts,
        },
        catalog,
    })
}

fn number(
    non_empty: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = non_empty(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!(
                "`{raw}` must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

/// Deployed, secrets and the catalog are not in the environment: the environment names an SSM
/// parameter (`<VAR>_PARAMETER`, a SecureString for secrets) that is read once at cold start.
const FROM_PARAMETERS: [(&str, &str); 3] = [
    ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY_PARAMETER"),
    ("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_PARAMETER"),
    ("CATALOG_JSON", "CATALOG_PARAMETER"),
];

impl Config {
    /// Reads the process environment (once, at cold start), fetching from SSM Parameter Store
    /// whatever the environment names by parameter.
    pub async fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let mut fetched = std::collections::HashMap::new();
        let mut ssm = None;
        for (var, parameter_var) in FROM_PARAMETERS {
            let Some(name) = std::env::var(parameter_var)
                .ok()
                .filter(|v| !v.trim().is_empty())
            else {
                continue;
            };
            let client = ssm.get_or_insert_with(|| aws_sdk_ssm::Client::new(aws));
            let value = client
                .get_parameter()
                .name(&name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| ConfigError::Invalid {
                    name: parameter_var,
                    reason: format!(
                        "cannot read SSM parameter `{name}`: {}",
                        crate::telemetry::error_chain(&e)
                    ),
                })?
                .parameter
                .and_then(|p| p.value)
                .ok_or_else(|| ConfigError::Invalid {
                    name: parameter_var,
                    reason: format!("SSM parameter `{name}` has no value"),
                })?;
            fetched.insert(var, value);
        }
        from_lookup(|name| {
            fetched
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const CATALOG: &str = r#"{"plans":[{"id":"pro","monthly":"price_m","yearly":"price_y"}]}"#;

    fn load(vars: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<&str, String> =
            vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        map.entry("IDEMPOTENCY_TABLE")
            .or_insert_with(|| "idem".into());
        map.entry("INVENTORY_TABLE")
            .or_insert_with(|| "stock".into());
        from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn minimal_config_uses_stripe_and_a_ga_version_by_default() {
        let cfg = load(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("CATALOG_JSON", CATALOG),
        ])
        .unwrap();
        assert_eq!(cfg.stripe.api_base, "https://api.stripe.com");
        assert!(!cfg.stripe.api_version.is_preview());
        assert_eq!(cfg.stripe.max_attempts, 3);
        assert_eq!(cfg.claims, ClaimSettings::default());
        assert!(
            !format!("{cfg:?}").contains("sk_test_1"),
            "secret never logged"
        );
        let with_webhook = load(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("CATALOG_JSON", CATALOG),
            ("STRIPE_WEBHOOK_SECRET", "whsec_topsecret"),
        ])
        .unwrap();
        assert!(!format!("{with_webhook:?}").contains("topsecret"));
    }

    #[test]
    fn each_bad_variable_is_named_in_the_error() {
        let cases: [(&[(&'static str, &str)], &str); 8] = [
            (&[("CATALOG_JSON", CATALOG)], "STRIPE_SECRET_KEY"),
            (
                &[
                    ("STRIPE_SECRET_KEY", "pk_test_1"),
                    ("CATALOG_JSON", CATALOG),
                ],
                "STRIPE_SECRET_KEY",
            ),
            (&[("STRIPE_SECRET_KEY", "sk_test_1")], "CATALOG_PATH"),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("CATALOG_JSON", CATALOG),
                    ("STRIPE_API_VERSION", "2025-03-31.basil"),
                ],
                "STRIPE_API_VERSION",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("CATALOG_JSON", CATALOG),
                    ("STRIPE_API_BASE", "localhost:12111"),
                ],
                "STRIPE_API_BASE",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("CATALOG_JSON", CATALOG),
                    ("STRIPE_MAX_ATTEMPTS", "0"),
                ],
                "STRIPE_MAX_ATTEMPTS",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("CATALOG_JSON", CATALOG),
                    ("IDEMPOTENCY_TABLE", " "),
                ],
                "IDEMPOTENCY_TABLE",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_1"),
                    ("CATALOG_JSON", CATALOG),
                    ("LEASE_WAIT_MS", "-1"),
                ],
                "LEASE_WAIT_MS",
            ),
        ];
        for (vars, name) in cases {
            let err = load(vars).unwrap_err().to_string();
            assert!(err.contains(name), "`{err}` should name {name}");
        }
    }

    #[test]
    fn a_bad_catalog_stops_start_up() {
        let err = load(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("CATALOG_JSON", "{\"plans\":{}}"),
        ])
        .unwrap_err();
        assert!(matches!(err, ConfigError::Catalog { .. }));
    }

    #[test]
    fn the_preview_version_with_its_beta_flag_is_accepted() {
        let cfg = load(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("CATALOG_JSON", CATALOG),
            (
                "STRIPE_API_VERSION",
                "2025-03-31.basil; checkout_server_update_beta=v1;",
            ),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111/"),
        ])
        .unwrap();
        assert!(cfg.stripe.api_version.is_preview());
        assert_eq!(cfg.stripe.api_base, "http://127.0.0.1:12111");
    }

    #[test]
    fn plain_http_reaches_only_this_machine() {
        for ok in [
            "https://api.stripe.com",
            "https://stripe.internal:8443/x",
            "http://127.0.0.1:12111",
            "http://127.9.9.9",
            "http://localhost:1/v",
            "http://[::1]:12111",
        ] {
            assert_eq!(check_api_base(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://api.stripe.com",
            "http://10.0.0.5:12111",
            "http://127.0.0.1@evil.example",
            "http://localhost.evil.example",
            "http://[::2]:1",
            "ftp://127.0.0.1",
            "127.0.0.1:12111",
        ] {
            assert!(check_api_base(bad).is_err(), "{bad}");
        }
    }
}
