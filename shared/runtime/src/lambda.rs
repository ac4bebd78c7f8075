//! The Lambda glue: cold start, and the runtime loops of the HTTP functions and the sweeper.
//! Each invocation runs in its own span and ends with its metrics line.

use crate::pipeline::{App, Parser};
use crate::{claims, http, inventory, stripe, telemetry};

/// Cold start: JSON logs, then configuration and clients, built once. A bad configuration stops
/// the function with an error naming the variable.
async fn start(
    function: &'static str,
) -> Result<
    App<stripe::HttpStripe, claims::DynamoClaimStore, inventory::DynamoInventory>,
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
    run_http(function, Kind::Cart, move |request| {
        app.handle(request, parse)
    })
    .await
}

/// The stripe-webhook function's `main`: signed Stripe events settle inventory holds.
pub async fn serve_webhook(function: &'static str) -> Result<(), lambda_http::Error> {
    let app = &start(function).await?;
    run_http(function, Kind::Webhook, move |request| {
        app.handle_webhook(request)
    })
    .await
}

/// Which answers an HTTP function counts (see [`telemetry::metrics::record_answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cart,
    Webhook,
}

/// `lambda_http::run` with the event checked first: lambda_http panics on a body that is not the
/// base64 its event says it is, and cannot read an event with a control character in a header.
/// API Gateway and function URLs never send either, but anyone allowed to invoke the function
/// can; such an event gets a 400 like any other unreadable request instead of a crash (with
/// `panic = "abort"`, a cold start for the next request). Each invocation runs in its own span
/// and ends with its metrics line.
async fn run_http<F, Fut>(
    function: &'static str,
    kind: Kind,
    handle: F,
) -> Result<(), lambda_http::Error>
where
    F: Fn(lambda_http::Request) -> Fut + Copy + Send,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send,
{
    use lambda_http::tower::Service;
    use tracing::Instrument as _;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<Box<serde_json::value::RawValue>>| async move {
            let lambda_http::LambdaEvent { payload, context } = event;
            let mut invocation = telemetry::Invocation::start(function, &context);
            let answered = async {
                let request = match readable_event(payload.get()) {
                    Ok(request) => request,
                    Err(reason) => {
                        tracing::info!(reason, "unreadable invocation event refused");
                        return Ok(unreadable_event_response(reason));
                    }
                };
                let mut adapter =
                    lambda_http::Adapter::from(lambda_http::service_fn(move |request| async move {
                        Ok::<_, lambda_http::Error>(handle(request).await)
                    }));
                let response = adapter
                    .call(lambda_http::LambdaEvent::new(request, context))
                    .await?;
                Ok::<_, lambda_http::Error>(serde_json::to_value(response)?)
            }
            .instrument(invocation.span().clone())
            .await;
            // A failed invocation is Lambda's error, not an answer: the metrics say so.
            match &answered {
                Ok(response) => telemetry::metrics::record_answer(
                    invocation.metrics(),
                    &telemetry::Answer::read(response),
                    kind == Kind::Webhook,
                ),
                Err(_) => {
                    invocation.metrics().count("InvocationErrors", 1);
                }
            }
            invocation.finish();
            answered
        },
    ))
    .await
}

/// The event as lambda_http reads it, or why it cannot be read.
fn readable_event(raw: &str) -> Result<lambda_http::request::LambdaRequest, &'static str> {
    use base64::Engine as _;
    #[derive(serde::Deserialize)]
    struct Encoding {
        #[serde(rename = "isBase64Encoded", default)]
        is_base64_encoded: bool,
        body: Option<String>,
    }
    let encoding: Encoding =
        serde_json::from_str(raw).map_err(|_| "the event is not an HTTP request")?;
    if let (true, Some(body)) = (encoding.is_base64_encoded, &encoding.body) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| "the body is not the base64 the event says it is")?;
    }
    serde_json::from_str(raw).map_err(|_| "the event is not an HTTP request this function can read")
}

/// A 400 in the response format of API Gateway HTTP APIs and function URLs.
fn unreadable_event_response(reason: &str) -> serde_json::Value {
    let error = http::ApiError::new(http::ErrorCode::InvalidRequest)
        .with_message(format!("The request could not be read: {reason}."));
    let reply = http::Reply::error(&error);
    serde_json::json!({
        "statusCode": reply.status,
        "headers": { "content-type": "application/json", "cache-control": "no-store" },
        "body": reply.body,
        "isBase64Encoded": false,
    })
}

/// The release-holds function's `main`: each scheduled invocation runs one sweep, within the
/// invocation's deadline, and returns its report.
pub async fn serve_sweeper(function: &'static str) -> Result<(), lambda_http::Error> {
    let app = &start(function).await?;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: lambda_http::LambdaEvent<serde_json::Value>| async move {
            use tracing::Instrument as _;
            let mut invocation = telemetry::Invocation::start(function, &event.context);
            let report = app
                .sweep(event.context.deadline)
                .instrument(invocation.span().clone())
                .await;
            match serde_json::to_value(report) {
                Ok(report) => telemetry::metrics::record_sweep(invocation.metrics(), &report),
                Err(error) => tracing::error!(%error, "the sweep report is not JSON"),
            }
            invocation.finish();
            Ok::<_, lambda_http::Error>(report)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str, base64: bool, header: &str) -> String {
        serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/update-quantity",
            "rawQueryString": "", "headers": { "content-type": "application/json", "x-test": header },
            "requestContext": { "accountId": "123", "apiId": "api", "domainName": "x.example",
                "domainPrefix": "x", "http": { "method": "POST", "path": "/update-quantity",
                "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test" },
                "requestId": "r", "routeKey": "$default", "stage": "$default",
                "time": "26/Nov/2026:00:00:00 +0000", "timeEpoch": 0 },
            "body": body, "isBase64Encoded": base64,
        })
        .to_string()
    }

    #[test]
    fn events_api_gateway_sends_are_read() {
        assert!(readable_event(&event("{}", false, "ok")).is_ok());
        assert!(readable_event(&event("e30=", true, "ok")).is_ok());
    }

    #[test]
    fn events_lambda_http_would_crash_on_are_refused_with_a_json_400() {
        for (raw, why) in [
            (event("not base64!", true, "ok"), "base64"),
            (event("{}", false, "a\u{0}b"), "HTTP request"),
            ("[1, 2]".to_owned(), "HTTP request"),
        ] {
            let reason = readable_event(&raw).unwrap_err();
            assert!(reason.contains(why), "{reason}");
            let response = unreadable_event_response(reason);
            assert_eq!(response["statusCode"], 400);
            let body: serde_json::Value =
                serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
            assert_eq!(
                (body["type"].as_str(), body["code"].as_str()),
                (Some("error"), Some("invalid_request"))
            );
        }
    }
}
