//! The cart planner: session snapshot + action + catalog -> the ENTIRE `line_items` array to send
//! back to Stripe, or a typed refusal.
//!
//! Stripe replaces the whole array on every update: an entry with only an `id` keeps that item, `id`
//! plus fields updates it, `price` + `quantity` adds one, an omitted id removes it, and the array order
//! is the new cart order. The planner therefore always emits one entry per item it wants to exist.
//!
//! This file runs the action and the rules every cart keeps; the submodules below it hold each
//! action and rule, and import only `items` (the planned entries and their sums), never this file.

mod actions;
mod items;
mod limits;
mod offers;
mod shipping;

pub use items::{paid_subtotal, PlannedLineItem};
pub use shipping::ShippingOptionPlan;

use crate::catalog::Catalog;
use crate::commands::CartAction;
use crate::error::{NotUpdatableReason, Rejection};
use crate::session::{
    SessionSnapshot, SessionStatus, ShippingDetails, UiMode, UpdateLineItemsPermission,
};
use crate::terms::StockChange;
use actions::{change_interval, set_quantity};
use items::stock_changes;
use limits::check_stripe_limits;
use offers::{add_offer, complimentary_rule};
use shipping::{plan_shipping, set_shipping, ShippingPlan};

/// Which sessions this deployment may change; follows the configured Stripe API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdatePolicy {
    /// Under the preview API (`2025-03-31.basil; checkout_server_update_beta=v1;`) Stripe only lets a
    /// server update line items of sessions created with `permissions[update_line_items]=server_only`.
    /// The generally available API has no such permission.
    pub require_server_only_permission: bool,
    /// Refuse sessions this app did not create (no reservation in their metadata).
    pub require_own_session: bool,
}

/// The new cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartPlan {
    pub line_items: Vec<PlannedLineItem>,
    /// False when the array would leave the cart exactly as it is (same ids, same order).
    pub changes_cart: bool,
    /// How the cart's demand on each tracked SKU changes (only SKUs whose total changes).
    pub stock: Vec<StockChange>,
    /// New shipping details to send (`collected_information[shipping_details]`), set by
    /// [`CartAction::SetShipping`] only.
    pub shipping_details: Option<ShippingDetails>,
    /// The complete list of shipping options for the new cart, recomputed whenever the session
    /// has (or is getting) a destination and the catalog ships; `None` leaves Stripe's as they
    /// are. Always `None` outside payment mode: Stripe has no shipping rates for subscriptions.
    pub shipping_options: Option<Vec<ShippingOptionPlan>>,
    /// The tax rates EVERY entry of `line_items` carries (added ones too), so tax follows the
    /// destination after any action: `Some(vec![])` clears them, `None` leaves them as they are
    /// (no destination yet).
    pub tax_rates: Option<Vec<String>>,
    /// True when shipping details, options or tax rates differ from what Stripe holds.
    pub changes_shipping: bool,
}

impl CartPlan {
    /// True when sending the plan would not change the cart, so Stripe need not be called.
    pub fn is_noop(&self) -> bool {
        !self.changes_cart && !self.changes_shipping
    }
}

/// Plans the new cart, or says why the action is refused.
pub fn plan(
    session: &SessionSnapshot,
    action: &CartAction,
    catalog: &Catalog,
    policy: UpdatePolicy,
) -> Result<CartPlan, Rejection> {
    ensure_updatable(session, policy)?;
    let line_items = match action {
        CartAction::ChangeInterval(target) => change_interval(session, *target, catalog)?,
        CartAction::SetQuantity {
            line_item,
            quantity,
        } => set_quantity(session, line_item, *quantity, catalog)?,
        CartAction::AddOffer(price) => add_offer(session, price, catalog)?,
        CartAction::SetShipping { address, .. } => set_shipping(session, address, catalog)?,
    };
    // The same rules after every action, so no handler re-implements them.
    let line_items = complimentary_rule(session, line_items, catalog);
    // Removing the last paid item also takes the gift away: nothing would be left.
    if line_items.is_empty() {
        return Err(Rejection::CannotRemoveLastItem);
    }
    check_stripe_limits(session, &line_items, catalog)?;
    let stock = stock_changes(session, &line_items, catalog);
    // Every item kept, none added or removed, order unchanged.
    let changes_cart = line_items.len() != session.line_items.len()
        || line_items
            .iter()
            .zip(&session.line_items)
            .any(|(planned, li)| !matches!(planned, PlannedLineItem::Keep { id } if *id == li.id));
    let ShippingPlan {
        shipping_details,
        shipping_options,
        tax_rates,
        changes_shipping,
    } = plan_shipping(session, action, &line_items, catalog);
    Ok(CartPlan {
        line_items,
        changes_cart,
        stock,
        shipping_details,
        shipping_options,
        tax_rates,
        changes_shipping,
    })
}

fn ensure_updatable(session: &SessionSnapshot, policy: UpdatePolicy) -> Result<(), Rejection> {
    let refuse = |reason| Err(Rejection::NotUpdatable(reason));
    if session.status != SessionStatus::Open {
        return refuse(NotUpdatableReason::NotOpen);
    }
    if session.ui_mode != UiMode::Elements {
        return refuse(NotUpdatableReason::NotElementsSession);
    }
    if policy.require_server_only_permission
        && session.update_line_items_permission != Some(UpdateLineItemsPermission::ServerOnly)
    {
        return refuse(NotUpdatableReason::LineItemsNotServerOnly);
    }
    if policy.require_own_session && session.reservation().is_none() {
        return refuse(NotUpdatableReason::NotCreatedHere);
    }
    if session.line_items.is_empty() {
        return refuse(NotUpdatableReason::EmptyCart);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
