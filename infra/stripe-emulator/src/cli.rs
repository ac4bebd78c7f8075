//! Command line and environment.

use crate::dialect::{ApiVersion, DEFAULT_VERSION};

pub const USAGE: &str = "\
usage: stripe-emulator [--host 127.0.0.1] [--port N] [--default-api-version V]
                       [--exit-on-stdin-eof] [--log-format human|json]

  --port N                 port to listen on; 0 (default) picks a free one.
                           STRIPE_EMULATOR_PORT is used when --port is absent.
  --default-api-version V  Stripe-Version assumed when a request sends none
                           (default 2026-09-30.endive)
  --exit-on-stdin-eof      exit when standard input closes (for test harnesses)
  --log-format F           stderr log format (default human; also STRIPE_EMULATOR_LOG_FORMAT)

Prints `stripe-emulator listening on http://HOST:PORT` once bound.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub default_version: ApiVersion,
    pub exit_on_stdin_eof: bool,
    pub json_logs: bool,
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
    Ok(Command::Run(Config {
        host,
        port,
        default_version,
        exit_on_stdin_eof,
        json_logs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], port_env: Option<&str>) -> Result<Config, String> {
        let port_env = port_env.map(str::to_owned);
        match parse(args.iter().map(|s| (*s).to_owned()), |name| {
            (name == "STRIPE_EMULATOR_PORT")
                .then(|| port_env.clone())
                .flatten()
        })? {
            Command::Run(config) => Ok(config),
            Command::Help => Err("help".into()),
        }
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
