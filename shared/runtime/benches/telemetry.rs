//! What the logs and metrics of one request cost in CPU, before and after the telemetry layer:
//! the spans and lines of an update-quantity request that retries one Stripe call (runtime span,
//! request span, two Stripe calls, three DynamoDB calls, a retry warning, the `responded` line),
//! written to a sink.
//!
//! - `fmt_json`: the subscriber the functions used before (tracing-subscriber's JSON formatter,
//!   current span only, no metrics).
//! - `telemetry`: `cart_runtime::telemetry` (Powertools keys and every span's fields on each line,
//!   the invocation span, timed calls, and the EMF line).
//!
//! `cargo bench -p cart-runtime --bench telemetry`

use divan::Bencher;

fn main() {
    divan::main();
}

fn request(sdk_spans: bool) {
    let runtime = tracing::info_span!(
        target: "lambda_runtime::layers::trace",
        "Lambda runtime invoke",
        requestId = "8476a536-e9f4-4ba3-9c2a-1e0f4b2c9d01",
        xrayTraceId = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    );
    let _runtime = runtime.enter();
    let request = tracing::info_span!(
        target: "cart_runtime::pipeline",
        "request",
        function = "update-quantity",
        request_id = "8476a536-e9f4-4ba3-9c2a-1e0f4b2c9d01",
        session_id = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let _request = request.enter();
    request.record(
        "session_id",
        "cs_test_a1Zp2Q7xTQ8rLkVn3sD4fG5hJ6kL7mN8bV9cX0zA1sD2fG3hJ4kL5",
    );
    for _ in 0..u8::from(sdk_spans) * 2 {
        drop(tracing::debug_span!(target: "aws_sdk_dynamodb::operation::get_item", "DynamoDB.GetItem").entered());
    }
    for attempts in [1, 2] {
        let stripe = tracing::info_span!(
            target: "cart_runtime::stripe::client",
            "stripe",
            method = "Post",
            path = "/checkout/sessions/cs_test_a1Zp2Q7xTQ8rLkVn3sD4fG5hJ6kL7mN8bV9cX0zA1sD2fG3hJ4kL5",
            attempts = tracing::field::Empty
        );
        let _stripe = stripe.enter();
        stripe.record("attempts", attempts);
        if attempts == 2 {
            tracing::warn!(target: "cart_runtime::stripe::client", attempt = 1, cause = "HTTP 429: Request rate limit exceeded.", "Stripe call failed; retrying");
        }
    }
    if sdk_spans {
        drop(tracing::debug_span!(target: "aws_sdk_dynamodb::operation::update_item", "DynamoDB.UpdateItem").entered());
    }
    request.record("outcome", "updated");
    tracing::info!(
        target: "cart_runtime::pipeline",
        status = 200,
        replayed = false,
        elapsed_us = 52_000,
        dynamo_round_trips = 2,
        guard_us = 12_000,
        "responded"
    );
}

#[divan::bench]
fn fmt_json(bencher: Bencher) {
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || bencher.bench_local(|| request(true)));
}

/// The telemetry subscriber, with or without the AWS SDK's per-operation spans (the DynamoDB
/// calls it times).
#[divan::bench(args = [true, false])]
fn telemetry(bencher: Bencher, sdk_spans: bool) {
    let mut context = lambda_http::Context::default();
    context.request_id = "8476a536-e9f4-4ba3-9c2a-1e0f4b2c9d01".into();
    context.xray_trace_id =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
    let subscriber = cart_runtime::telemetry::subscriber(|line| {
        divan::black_box(line);
    });
    tracing::subscriber::with_default(subscriber, || {
        bencher.bench_local(|| {
            let mut invocation =
                cart_runtime::telemetry::Invocation::start("update-quantity", &context);
            invocation.span().in_scope(|| request(sdk_spans));
            cart_runtime::telemetry::metrics::record_answer(
                invocation.metrics(),
                &cart_runtime::telemetry::Answer {
                    status: 200,
                    ..Default::default()
                },
                false,
            );
            invocation.finish();
        })
    });
}

/// The telemetry subscriber sending the calls of a sampled trace to an X-Ray daemon (a local UDP
/// socket nobody reads: the cost is the send).
#[divan::bench]
fn telemetry_with_xray_daemon(bencher: Bencher) {
    let Ok(daemon) = std::net::UdpSocket::bind("127.0.0.1:0") else {
        return;
    };
    let Ok(address) = daemon.local_addr() else {
        return;
    };
    std::env::set_var("AWS_XRAY_DAEMON_ADDRESS", address.to_string());
    telemetry(bencher, true);
    std::env::remove_var("AWS_XRAY_DAEMON_ADDRESS");
    drop(daemon);
}
