//! `POST /add-cross-sell` `{checkout_session_id, price_id}`: adds an allow-listed offer that fits
//! the cart (no duplicates, same billing interval, stock held when tracked).

// One request at a time per Lambda instance: the single-threaded runtime is enough and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    cart_runtime::serve("add-cross-sell", |body| {
        cart_domain::request::add_cross_sell(body).map(cart_runtime::Operation::Change)
    })
    .await
}
