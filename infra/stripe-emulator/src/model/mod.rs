//! The records the store keeps: sessions and their line items, products, prices, shipping and
//! tax rates, events, webhook endpoints and delivery attempts.
//!
//! They sit below the store and below every handler, so the store can hold them and the handlers
//! can take `&mut Store` without either importing the other's module: these files import only
//! the dialect, ids and each other. What needs the store (totals, rendering, validation against
//! other objects) is implemented in the handler modules.

mod event;
mod price;
mod product;
mod session;
mod shipping_rate;
mod tax_rate;
mod webhook;

pub use event::{Event, EventType, RequestRef};
pub use price::{Interval, Price, Recurring};
pub use product::Product;
pub use session::{
    Address, AdjustableQuantity, AsyncPayment, LineItem, Mode, Permission, Permissions, Session,
    ShippingDetails, Status,
};
pub use shipping_rate::ShippingRate;
pub use tax_rate::TaxRate;
pub use webhook::{DeliveryAttempt, EndpointSpec, WebhookEndpoint, ALL_EVENTS};
