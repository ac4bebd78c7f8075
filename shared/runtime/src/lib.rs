//! The I/O side every handler runs on.
//!
//! A function's `main` builds an [`App`] once per cold start ([`Config::from_env`], the Stripe
//! gateway, the catalog) and hands each API Gateway request to [`App::handle`], which runs the shared
//! pipeline: parse (pure) → retrieve the session from Stripe → plan (pure) → update Stripe with the
//! entire `line_items` array → respond. Every outcome becomes a JSON response in one
//! place, [`http::Reply`] (an [`http::ApiError`] through [`http::Reply::error`]); details go to the
//! logs, never to the client. The Lambda glue (cold start, runtime loops) is in `lambda`.

pub mod claims;
pub mod config;
pub mod http;
pub mod inventory;
mod lambda;
mod pipeline;
pub mod stripe;
pub mod telemetry;

pub use config::{Config, ConfigError, Secret};
pub use lambda::{serve, serve_sweeper, serve_webhook};
pub use pipeline::{App, Operation, Parser};
