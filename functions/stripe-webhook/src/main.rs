//! `POST /stripe-webhook`: verifies `Stripe-Signature`, then `checkout.session.completed` turns
//! the session's holds into sold stock and `checkout.session.expired` releases them, once per event.

// One request at a time per Lambda instance: the single-threaded runtime is enough and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    cart_runtime::serve_webhook("stripe-webhook").await
}
