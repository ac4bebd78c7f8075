//! The actions that change the cart's own items: its billing interval and one item's quantity.

use super::items::PlannedLineItem;
use crate::catalog::Catalog;
use crate::error::Rejection;
use crate::ids::LineItemId;
use crate::session::{LineItemSnapshot, SessionMode, SessionSnapshot};
use crate::terms::Interval;

/// Swaps every recurring item to its plan's price of `target`; keeps every other item as it is.
pub(super) fn change_interval(
    session: &SessionSnapshot,
    target: Interval,
    catalog: &Catalog,
) -> Result<Vec<PlannedLineItem>, Rejection> {
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
    Ok(line_items)
}

/// Sets one item's quantity within the catalog's bounds; 0 removes it, but never the last item
/// nor the only subscription item of a subscription.
pub(super) fn set_quantity(
    session: &SessionSnapshot,
    target: &LineItemId,
    quantity: u64,
    catalog: &Catalog,
) -> Result<Vec<PlannedLineItem>, Rejection> {
    let Some(item) = session.line_items.iter().find(|li| &li.id == target) else {
        return Err(Rejection::LineItemNotFound {
            param: "line_item_id".into(),
        });
    };
    let Some(sold) = catalog.item(&item.price.id) else {
        return Err(Rejection::OfferNotAvailable {
            reason: format!(
                "price {} of line item {target} is not in the catalog",
                item.price.id
            ),
        });
    };
    if quantity == 0 {
        let recurring = |li: &&LineItemSnapshot| li.price.recurring.is_some();
        let last_plan = item.price.recurring.is_some()
            && session.mode == SessionMode::Subscription
            && session.line_items.iter().filter(recurring).count() == 1;
        if session.line_items.len() == 1 || last_plan {
            return Err(Rejection::CannotRemoveLastItem);
        }
    } else if !sold.bounds().contains(quantity) {
        return Err(Rejection::QuantityOutOfRange {
            param: "quantity".into(),
            min: sold.bounds().min,
            max: sold.bounds().max,
        });
    }
    Ok(session
        .line_items
        .iter()
        .filter(|li| !(li.id == *target && quantity == 0))
        .map(|li| {
            if li.id == *target && li.quantity != quantity {
                PlannedLineItem::Update {
                    id: li.id.clone(),
                    quantity,
                }
            } else {
                PlannedLineItem::Keep { id: li.id.clone() }
            }
        })
        .collect())
}
