//! The Stripe gateway: the two calls every cart change needs, behind a small trait so handlers can be
//! tested in-process, and one implementation over async-stripe's typed requests.

mod client;
mod events;
mod gateway;
mod settings;
mod version;
mod wire;

pub use client::HttpStripe;
pub use gateway::{
    CheckoutEvent, CreatedSession, NewSession, StripeError, StripeGateway, WriteState,
};
pub use settings::{SetupError, StripeConfig};
pub use version::{ApiVersion, DEFAULT_API_VERSION};
