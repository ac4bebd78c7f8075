//! What a shopper's request asks for, once parsed: the request parser produces these, the planner
//! and the new-cart rules consume them.

use crate::ids::{CheckoutSessionId, LineItemId, PriceId};
use crate::session::{Address, SessionMode};
use crate::terms::Interval;

/// A customer interaction, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartAction {
    /// Move every plan price to its counterpart of this interval.
    ChangeInterval(Interval),
    /// Set one line item's quantity; 0 removes it.
    SetQuantity {
        line_item: LineItemId,
        quantity: u64,
    },
    /// Add an allow-listed cross-sell offer.
    AddOffer(PriceId),
    /// Set where the order ships: the destination picks the shipping options and the tax rate.
    SetShipping { name: String, address: Address },
}

/// What a handler was asked to do, to which session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub session_id: CheckoutSessionId,
    pub action: CartAction,
}

/// Items of a requested cart, as parsed (not yet checked against the catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCartRequest {
    pub items: Vec<(PriceId, u64)>,
    /// `mode` if the client named one; it must agree with the prices.
    pub mode: Option<SessionMode>,
}
