//! Stripe's limits on one session's line items, refused before any stock is held.

use super::items::PlannedLineItem;
use crate::catalog::Catalog;
use crate::error::Rejection;
use crate::session::{SessionMode, SessionSnapshot};

/// Stripe's limits on one session's line items (API reference, create a Checkout Session,
/// `line_items`): up to 100 in payment mode; in subscription mode up to 20 with recurring prices
/// and 20 with one-time prices. Refused here, before any stock is held, rather than by Stripe
/// after. A new cart (at most `MAX_CART_ITEMS`) is always within them.
pub const MAX_PAYMENT_LINE_ITEMS: usize = 100;
pub const MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND: usize = 20;

pub(super) fn check_stripe_limits(
    session: &SessionSnapshot,
    line_items: &[PlannedLineItem],
    catalog: &Catalog,
) -> Result<(), Rejection> {
    let too_many = |kind, count, limit| {
        if count > limit {
            Err(Rejection::CartTooLarge { kind, count, limit })
        } else {
            Ok(())
        }
    };
    if session.mode != SessionMode::Subscription {
        return too_many("payment-mode", line_items.len(), MAX_PAYMENT_LINE_ITEMS);
    }
    let recurring = line_items
        .iter()
        .filter(|planned| match planned {
            PlannedLineItem::Keep { id } | PlannedLineItem::Update { id, .. } => session
                .line_items
                .iter()
                .any(|li| li.id == *id && li.price.recurring.is_some()),
            PlannedLineItem::Add { price, .. } => catalog.plan_price(price).is_some(),
        })
        .count();
    too_many("recurring", recurring, MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND)?;
    too_many(
        "one-time",
        line_items.len() - recurring,
        MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND,
    )
}
