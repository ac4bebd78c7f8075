//! Pure cart rules shared by every handler.
//!
//! This crate has no I/O, no async and no AWS or Stripe client types, so every rule that decides what a
//! cart may become can be tested exhaustively in-process. The I/O side (`cart-runtime`) turns Stripe's
//! JSON into a [`SessionSnapshot`], asks [`plan`] for the new cart, and sends the resulting full
//! `line_items` array back to Stripe.
//!
//! Flow: wire body --[`request`]--> [`Command`] ; snapshot + command + [`Catalog`] --[`plan`]-->
//! [`CartPlan`] | [`Rejection`]. What a rejection becomes on the wire is the runtime's business.

// Modules import downwards only: ids, terms → session, catalog → commands → request, cart,
// planner; error beside them all.
mod cart;
mod catalog;
mod commands;
mod error;
mod ids;
mod planner;
pub mod request;
mod session;
mod terms;

pub use cart::{plan_new_cart, NewCart};
pub use catalog::{
    is_country_code, CartMode, Catalog, CatalogError, CatalogItem, Complimentary, Offer, Plan,
    PlanPrice, Product, QuantityBounds, Shipping, ShippingTier, TaxRateRule, MAX_SHIPPING_OPTIONS,
};
pub use commands::{CartAction, Command, NewCartRequest};
pub use error::{NotUpdatableReason, Rejection};
pub use ids::{CheckoutSessionId, IdError, LineItemId, PriceId};
pub use planner::{
    paid_subtotal, plan, CartPlan, PlannedLineItem, ShippingOptionPlan, UpdatePolicy,
};
pub use session::{
    Address, LineItemSnapshot, PaymentStatus, PriceSnapshot, Recurring, RecurringInterval,
    SessionMode, SessionSnapshot, SessionStatus, SessionSummary, ShippingDetails,
    ShippingOptionSnapshot, SummaryLineItem, UiMode, UpdateLineItemsPermission,
    RESERVATION_METADATA_KEY,
};
pub use terms::{Interval, Sku, StockChange};
