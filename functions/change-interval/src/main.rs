//! `POST /change-subscription-interval` `{checkout_session_id, interval: "monthly"|"yearly"}`.
//! Wiring only; the behaviour lives in `cart-runtime` (pipeline) and `cart-validation` (rules).

use cart_runtime::App;
use cart_validation::request;
use lambda_http::{service_fn, Error};

const FUNCTION: &str = "change-interval";

// One request at a time per Lambda instance: the single-threaded runtime is enough and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    cart_runtime::telemetry::init();
    let app = match App::from_env(FUNCTION).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "invalid configuration; the function cannot start");
            return Err(error.into());
        }
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(app.handle(req, request::change_interval).await)
    }))
    .await
}
