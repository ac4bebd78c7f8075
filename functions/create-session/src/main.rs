//! `POST /checkout-sessions` `{items:[{price, quantity}], mode?}`: checks the cart against the
//! catalog, holds its stock, and creates the Elements Checkout Session (in the configured Stripe
//! API dialect) tagged with its reservation; releases the stock if Stripe fails.

// One request at a time per Lambda instance: the single-threaded runtime is enough and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    cart_runtime::serve("create-session", |body| {
        cart_domain::request::create_session(body).map(cart_runtime::Operation::Create)
    })
    .await
}
