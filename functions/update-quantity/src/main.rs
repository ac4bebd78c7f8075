//! `POST /update-quantity` `{checkout_session_id, line_item_id, quantity}`: sets an absolute
//! quantity within the product's bounds (0 removes the item, never the last one), holding or
//! releasing stock by the difference before Stripe sees the new cart.

// One request at a time per Lambda instance: the single-threaded runtime is enough and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    cart_runtime::serve("update-quantity", |body| {
        cart_domain::request::update_quantity(body).map(cart_runtime::Operation::Change)
    })
    .await
}
