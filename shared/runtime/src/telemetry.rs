//! What the people who run the functions see, without a Powertools port:
//!
//! - **Logs**: one JSON object per line on stdout with Powertools Logger's keys at the top level
//!   (`level`, `message`, `timestamp`, `service`, `cold_start`, `function_name`,
//!   `function_request_id`, `xray_trace_id`, …) and the fields of every open span (`logs`).
//!   The level follows Lambda's advanced logging controls (`AWS_LAMBDA_LOG_LEVEL`, set from the
//!   function's `LoggingConfig`) and `RUST_LOG` ([`directives`]).
//! - **Metrics**: one CloudWatch Embedded Metric Format line per invocation ([`metrics`]), written
//!   by [`Invocation::finish`] from the answer and from the Stripe and DynamoDB calls the
//!   invocation made, which the layer times (`layer`).
//! - **Tracing**: every invocation runs in an `invocation` span that carries the request id, the
//!   X-Ray trace id (Lambda's `Tracing: Active` starts the trace) and `cold_start`; its Stripe
//!   and DynamoDB calls go to the X-Ray daemon as subsegments of the function's segment (`xray`).

mod invocation;
mod layer;
mod logs;
pub mod metrics;
mod subscriber;
mod xray;

pub use invocation::{count, Invocation};
pub use logs::{error_chain, SERVICE};
pub use metrics::{Answer, Metrics, NAMESPACE};
pub use subscriber::{directives, init, subscriber};
