//! The cart planner: session snapshot + action + catalog -> the ENTIRE `line_items` array to send
//! back to Stripe, or a typed refusal.
//!
//! Stripe replaces the whole array on every update: an entry with only an `id` keeps that item, `id`
//! plus fields updates it, `price` + `quantity` adds one, an omitted id removes it, and the array order
//! is the new cart order. The planner therefore always emits one entry per item it wants to exist.

use crate::catalog::Catalog;
use crate::error::{NotUpdatableReason, Rejection};
use crate::ids::{CheckoutSessionId, LineItemId, PriceId};
use crate::request::Interval;
use crate::session::{SessionSnapshot, SessionStatus, UiMode, UpdateLineItemsPermission};

/// A customer interaction, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartAction {
    /// Move every plan price to its counterpart of this interval.
    ChangeInterval(Interval),
}

/// What a handler was asked to do, to which session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub session_id: CheckoutSessionId,
    pub action: CartAction,
}

/// Which sessions this deployment may change; follows the configured Stripe API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdatePolicy {
    /// Under the preview API (`2025-03-31.basil; checkout_server_update_beta=v1;`) Stripe only lets a
    /// server update line items of sessions created with `permissions[update_line_items]=server_only`.
    /// The generally available API has no such permission.
    pub require_server_only_permission: bool,
}

/// One entry of the retransmitted `line_items` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedLineItem {
    Keep { id: LineItemId },
    Update { id: LineItemId, quantity: u64 },
    Add { price: PriceId, quantity: u64 },
}

/// The new cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartPlan {
    pub line_items: Vec<PlannedLineItem>,
}

impl CartPlan {
    /// True when sending the plan would not change the cart, so Stripe need not be called.
    pub fn is_noop(&self) -> bool {
        self.line_items
            .iter()
            .all(|item| matches!(item, PlannedLineItem::Keep { .. }))
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
    match action {
        CartAction::ChangeInterval(target) => change_interval(session, *target, catalog),
    }
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
    if session.line_items.is_empty() {
        return refuse(NotUpdatableReason::EmptyCart);
    }
    Ok(())
}

/// Swaps every recurring item to its plan's price of `target`; keeps every other item as it is.
fn change_interval(
    session: &SessionSnapshot,
    target: Interval,
    catalog: &Catalog,
) -> Result<CartPlan, Rejection> {
    let mut saw_recurring = false;
    let mut line_items = Vec::with_capacity(session.line_items.len());
    for item in &session.line_items {
        if item.price.recurring.is_none() {
            line_items.push(PlannedLineItem::Keep {
                id: item.id.clone(),
            });
            continue;
        }
        saw_recurring = true;
        let Some(found) = catalog.plan_price(&item.price.id) else {
            return Err(Rejection::OfferNotAvailable {
                reason: format!(
                    "recurring price {} of line item {} has no {} counterpart in the catalog",
                    item.price.id,
                    item.id,
                    target.as_str()
                ),
            });
        };
        if found.interval == target {
            line_items.push(PlannedLineItem::Keep {
                id: item.id.clone(),
            });
        } else {
            // Replace in place: omit the old id and add the counterpart at the same position, which
            // uses only the documented add/remove semantics of the update endpoint.
            line_items.push(PlannedLineItem::Add {
                price: found.plan.price(target).clone(),
                quantity: item.quantity,
            });
        }
    }
    if !saw_recurring {
        return Err(Rejection::OfferNotAvailable {
            reason: "the cart has no subscription item".into(),
        });
    }
    Ok(CartPlan { line_items })
}

#[cfg(test)]
mod tests;
