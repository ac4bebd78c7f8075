//! Checkout Sessions: create, retrieve, update, expire, line items, and what a customer paying
//! does to them. The stored form is [`crate::model::Session`]; each request's dialect decides how
//! it renders.
//!
//! This file only declares the parts and re-exports what the API and control routes call.

mod create;
mod expiry;
mod line_items;
mod payment;
mod render;
mod retrieve;
mod shipping;
#[cfg(test)]
mod tests;
mod update;

pub use crate::model::{
    Address, AdjustableQuantity, AsyncPayment, LineItem, Mode, Permission, Permissions, Session,
    ShippingDetails, Status,
};
pub use create::create;
pub use expiry::{expire, expire_due, get_mut};
pub use payment::{async_payment, complete, AsyncOutcome, PaymentStatus};
pub use render::{render, render_by_id, SESSION_EXPANSIONS};
pub use retrieve::{list_line_items, retrieve};
pub use update::update;
