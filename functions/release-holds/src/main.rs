//! Scheduled sweeper: live holds past their expiry are settled by what Stripe says of their
//! session — the safety net for a lost `checkout.session.*` webhook.

// One invocation at a time per Lambda instance: the single-threaded runtime is enough.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    cart_runtime::serve_sweeper("release-holds").await
}
