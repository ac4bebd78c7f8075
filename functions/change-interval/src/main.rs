//! `POST /change-subscription-interval` `{checkout_session_id, interval: "monthly"|"yearly"}`:
//! swaps every plan price to its counterpart of that interval, keeping every other item.

// One request at a time per Lambda instance: the single-threaded runtime is enough and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    cart_runtime::serve("change-interval", |body| {
        cart_domain::request::change_interval(body).map(cart_runtime::Operation::Change)
    })
    .await
}
