//! `POST /update-shipping-details` `{checkout_session_id, shipping_details:{name, address}}`: sets
//! where the order ships (only where the catalog ships), offers the shipping options of the
//! catalog's tiers for the cart's paid subtotal and puts the destination's tax rate on every item.

// One request at a time per Lambda instance: the single-threaded runtime is enough and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    cart_runtime::serve("update-shipping", |body| {
        cart_domain::request::update_shipping(body).map(cart_runtime::Operation::Change)
    })
    .await
}
