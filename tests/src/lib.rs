//! The local stack for black-box tests, started per test on free ports and stopped when dropped:
//!
//! - `stripe-emulator` (infra/stripe-emulator), started with `--exit-on-stdin-eof` so it dies with us;
//! - DynamoDB: moto (infra/local/moto_server.py, one request at a time) with the tables of
//!   template.yaml (infra/local/create_tables.py);
//! - `cargo lambda watch --only-lambda-apis`: cargo-lambda's Lambda runtime + function URL emulation;
//! - each function's built binary, polling that runtime API exactly as it would inside Lambda.
//!
//! Their logs land in `target/e2e-logs/`. The binaries must be built first (`cargo build --workspace --bins`; the test command does it):
//! starting them prebuilt keeps cargo-lambda from rebuilding the workspace with other features.

pub mod faults;
pub mod hostile;
pub mod lifecycle;
pub mod openapi;

mod assertions;
mod catalog;
mod client;
mod dynamo;
mod emulator;
pub mod endpoints;
mod functions;
mod parallel;
mod process;
mod random;
mod stack;
mod stripe;

pub use assertions::assert_error;
pub use catalog::{Catalog, MUG_SKU, TEE_SKU};
pub(crate) use client::{agent, read};
pub use dynamo::{Dynamo, Stock};
pub use emulator::Emulator;
pub use endpoints::Endpoint;
pub use functions::{ColdInstance, Functions, Reply};
pub use parallel::{in_parallel, Job};
pub(crate) use process::repo_root;
pub use process::{listening_address, proc_stat_fields};
pub use random::Rng;
pub use stack::{Secrets, Stack, StackBuilder};
pub use stripe::{line_item_ids, now_s, stripe_signature};

/// The seed's preview API version, byte for byte.
pub const PREVIEW_VERSION: &str = "2025-03-31.basil; checkout_server_update_beta=v1;";
/// A generally available version after the `custom` → `elements` rename.
pub const GA_VERSION: &str = "2026-09-30.endive";
pub const SECRET_KEY: &str = "sk_test_e2e_local";
/// The signing secret shared by the emulator's webhook endpoint and the stripe-webhook function.
pub const WEBHOOK_SECRET: &str = "whsec_e2e_local_signing_secret";

/// Test result: any error, sendable so requests can run on threads.
pub type Result<T = (), E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;
