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

pub use config::{Config, ConfigError, Secret};
pub use pipeline::{App, Operation, Parser};

/// Cold start: JSON logs, then configuration and clients, built once. A bad configuration stops
/// the function with an error naming the variable.
async fn start(
    function: &'static str,
) -> Result<
    App<stripe::HttpStripe, guard::DynamoGuardStore, inventory::DynamoInventory>,
    lambda_http::Error,
> {
    let started = std::time::Instant::now();
    telemetry::init();
    let app = App::from_env(function).await.map_err(|error| {
        tracing::error!(%error, "invalid configuration; the function cannot start");
        error
    })?;
    // What a cold start costs before the first request (the bench reads it).
    tracing::info!(
        function,
        init_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "ready"
    );
    Ok(app)
}

/// A cart endpoint's whole `main`: every invocation goes through the pipeline with `parse` as
/// the endpoint's request parser.
pub async fn serve(function: &'static str, parse: Parser) -> Result<(), lambda_http::Error> {
    let app = &start(function).await?;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, lambda_http::Error>(app.handle(request, parse).await)
    }))
    .await
}

/// The stripe-webhook function's `main`: signed Stripe events settle inventory holds.
pub async fn serve_webhook(function: &'static str) -> Result<(), lambda_http::Error> {
    let app = &start(function).await?;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, lambda_http::Error>(app.handle_webhook(request).await)
    }))
    .await
}

/// The release-holds function's `main`: each scheduled invocation runs one sweep and returns its
/// report.
pub async fn serve_sweeper(function: &'static str) -> Result<(), lambda_http::Error> {
    let app = &start(function).await?;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |_: lambda_http::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, lambda_http::Error>(app.sweep().await)
        },
    ))
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
