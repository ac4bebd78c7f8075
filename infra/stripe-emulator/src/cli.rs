//! Command line and environment.

use crate::dialect::{ApiVersion, DEFAULT_VERSION};

pub const USAGE: &str = "\
usage: stripe-emulator [--host 127.0.0.1] [--port N] [--default-api-version V]
                       [--exit-on-stdin-eof] [--log-format human|json]
                       [--webhook-url URL [--webhook-secret whsec_...]]
                       [--webhook-max-attempts N] [--webhook-retry-base-ms MS]

  --port N                 port to listen on; 0 (default) picks a free one.
                           STRIPE_EMULATOR_PORT is used when --port is absent.
  --default-api-version V  Stripe-Version assumed when a request sends none
                           (default 2026-09-30.endive)
  --exit-on-stdin-eof      exit when standard input closes (for test harnesses)
  --log-format F           stderr log format (default human; also STRIPE_EMULATOR_LOG_FORMAT)
  --webhook-url URL        deliver every event to this http:// endpoint (kept across resets;
                           also STRIPE_EMULATOR_WEBHOOK_URL)
  --webhook-secret S       its signing secret (generated and logged if absent; also
                           STRIPE_EMULATOR_WEBHOOK_SECRET)
  --webhook-max-attempts N attempts per webhook delivery, first included (default 5)
  --webhook-retry-base-ms MS
                           wait after the first failed attempt, doubling after each further
                           one, capped at 30 s (default 200)

Prints `stripe-emulator listening on http://HOST:PORT` once bound.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub default_version: ApiVersion,
    pub exit_on_stdin_eof: bool,
    pub json_logs: bool,
    pub webhook: WebhookOptions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// An endpoint to register at start-up (validated when it is built).
    pub url: Option<String>,
    pub secret: Option<String>,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Config),
    Help,
}

/// `env` looks up environment variables (injected for tests).
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    let mut host = "127.0.0.1".to_owned();
    let mut port: Option<String> = None;
    let mut version = DEFAULT_VERSION.to_owned();
    let mut exit_on_stdin_eof = false;
    let mut log_format = env("STRIPE_EMULATOR_LOG_FORMAT").unwrap_or_else(|| "human".to_owned());
    let mut webhook_url = None;
    let mut webhook_secret = None;
    let mut max_attempts: Option<String> = None;
    let mut retry_base: Option<String> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--host" => host = value()?,
            "--port" => port = Some(value()?),
            "--default-api-version" => version = value()?,
            "--log-format" => log_format = value()?,
            "--webhook-url" => webhook_url = Some(value()?),
            "--webhook-secret" => webhook_secret = Some(value()?),
            "--webhook-max-attempts" => max_attempts = Some(value()?),
            "--webhook-retry-base-ms" => retry_base = Some(value()?),
            "--exit-on-stdin-eof" => exit_on_stdin_eof = true,
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let port = match port.or_else(|| env("STRIPE_EMULATOR_PORT")) {
        None => 0,
        Some(raw) => raw
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("invalid port `{raw}`"))?,
    };
    let default_version = ApiVersion::parse(&version).map_err(|e| e.message)?;
    let json_logs = match log_format.as_str() {
        "human" => false,
        "json" => true,
        other => return Err(format!("invalid log format `{other}` (human or json)")),
    };
    let webhook_url = webhook_url
        .or_else(|| env("STRIPE_EMULATOR_WEBHOOK_URL"))
        .filter(|u| !u.trim().is_empty());
    let webhook_secret = webhook_secret
        .or_else(|| env("STRIPE_EMULATOR_WEBHOOK_SECRET"))
        .filter(|s| !s.trim().is_empty());
    if webhook_secret.is_some() && webhook_url.is_none() {
        return Err("--webhook-secret needs --webhook-url".to_owned());
    }
    let max_attempts = match max_attempts {
        None => 5,
        Some(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| format!("invalid --webhook-max-attempts `{raw}` (1 to 100)"))?,
    };
    let retry_base_ms = match retry_base {
        None => 200,
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("invalid --webhook-retry-base-ms `{raw}`"))?,
    };
    Ok(Command::Run(Config {
        host,
        port,
        default_version,
        exit_on_stdin_eof,
        json_logs,
        webhook: WebhookOptions {
            url: webhook_url,
            secret: webhook_secret,
            max_attempts,
            retry_base_ms,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], port_env: Option<&str>) -> Result<Config, String> {
        let env: Vec<(&str, &str)> = port_env
            .map(|p| vec![("STRIPE_EMULATOR_PORT", p)])
            .unwrap_or_default();
        run_env(args, &env)
    }

    fn run_env(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        match parse(args.iter().map(|s| (*s).to_owned()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })? {
            Command::Run(config) => Ok(config),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn webhook_options() {
        let c = run(&[], None).expect("ok");
        assert_eq!(c.webhook.url, None);
        assert_eq!(c.webhook.max_attempts, 5);
        assert_eq!(c.webhook.retry_base_ms, 200);
        let c = run(
            &[
                "--webhook-url",
                "http://127.0.0.1:9000/hook",
                "--webhook-secret=whsec_x",
                "--webhook-max-attempts",
                "3",
                "--webhook-retry-base-ms",
                "10",
            ],
            None,
        )
        .expect("ok");
        assert_eq!(c.webhook.url.as_deref(), Some("http://127.0.0.1:9000/hook"));
        assert_eq!(c.webhook.secret.as_deref(), Some("whsec_x"));
        assert_eq!((c.webhook.max_attempts, c.webhook.retry_base_ms), (3, 10));
        let c = run_env(
            &[],
            &[
                ("STRIPE_EMULATOR_WEBHOOK_URL", "http://h:1/"),
                ("STRIPE_EMULATOR_WEBHOOK_SECRET", "whsec_env"),
            ],
        )
        .expect("ok");
        assert_eq!(c.webhook.url.as_deref(), Some("http://h:1/"));
        assert_eq!(c.webhook.secret.as_deref(), Some("whsec_env"));
        assert!(run(&["--webhook-secret", "whsec_x"], None).is_err());
        assert!(run(&["--webhook-max-attempts", "0"], None).is_err());
        assert!(run(&["--webhook-retry-base-ms", "-1"], None).is_err());
    }

    #[test]
    fn defaults() {
        let c = run(&[], None).expect("ok");
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 0);
        assert_eq!(c.default_version.raw, DEFAULT_VERSION);
        assert!(!c.exit_on_stdin_eof);
    }

    #[test]
    fn flags_and_env() {
        let c = run(
            &[
                "--port",
                "4242",
                "--exit-on-stdin-eof",
                "--default-api-version=2025-03-31.basil",
            ],
            Some("1"),
        )
        .expect("ok");
        assert_eq!(c.port, 4242);
        assert!(c.exit_on_stdin_eof);
        assert_eq!(c.default_version.date, "2025-03-31");
        assert_eq!(run(&[], Some("5555")).expect("ok").port, 5555);
        assert!(run(&["--port"], None).is_err());
        assert!(run(&["--port", "x"], None).is_err());
        assert!(run(&["--bogus"], None).is_err());
        assert!(run(&["--default-api-version", "nope"], None).is_err());
    }
}
