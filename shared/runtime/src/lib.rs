//! The I/O side every handler runs on.
//!
//! A function's `main` builds an [`App`] once per cold start ([`Config::from_env`], the Stripe
//! gateway, the catalog) and hands each API Gateway request to [`App::handle`], which runs the shared
//! pipeline: parse (pure) → retrieve the session from Stripe → plan (pure) → update Stripe with the
//! entire `line_items` array → respond. Errors become JSON responses in exactly one place
//! ([`http::error_response`]); details go to the logs, never to the client.

pub mod config;
pub mod guard;
pub mod http;
pub mod inventory;
mod pipeline;
pub mod stripe;
pub mod telemetry;

pub use config::{Config, ConfigError};
pub use pipeline::{App, Operation, Parser};

/// A function's whole `main`: JSON logs, configuration and clients built once (a bad
/// configuration stops the cold start with an error naming the variable), then every invocation
/// through the pipeline with `parse` as the endpoint's request parser.
pub async fn serve(function: &'static str, parse: Parser) -> Result<(), lambda_http::Error> {
    telemetry::init();
    let app = match App::from_env(function).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "invalid configuration; the function cannot start");
            return Err(error.into());
        }
    };
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, lambda_http::Error>(app.handle(request, parse).await)
    }))
    .await
}

/// `outer: inner: root`: hyper's and the AWS SDK's own messages ("client error (Connect)",
/// "dispatch failure") hide the cause that explains a failure.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
