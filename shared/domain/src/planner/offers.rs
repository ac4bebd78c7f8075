//! Cross-sells the shopper adds and the gift the cart earns.

use super::items::{paid_subtotal, PlannedLineItem};
use crate::catalog::{CartMode, Catalog};
use crate::error::Rejection;
use crate::ids::{LineItemId, PriceId};
use crate::session::{SessionMode, SessionSnapshot};
use crate::terms::Interval;

/// The cart's current recurring interval, if it has plan prices.
fn cart_interval(session: &SessionSnapshot, catalog: &Catalog) -> Option<Interval> {
    session
        .line_items
        .iter()
        .find_map(|li| catalog.plan_price(&li.price.id).map(|p| p.interval))
}

/// Adds an offer the catalog allows for this cart, at the end, at its minimum quantity; an offer
/// already in the cart is a no-op.
pub(super) fn add_offer(
    session: &SessionSnapshot,
    price: &PriceId,
    catalog: &Catalog,
) -> Result<Vec<PlannedLineItem>, Rejection> {
    let refuse = |reason: String| Err(Rejection::OfferNotAvailable { reason });
    let Some(offer) = catalog.offer_for(price) else {
        return refuse(format!("{price} is not an offer"));
    };
    let plan_ids: Vec<&str> = session
        .line_items
        .iter()
        .filter_map(|li| catalog.plan_price(&li.price.id).map(|p| p.plan.id.as_str()))
        .collect();
    if !offer.requires.is_empty()
        && !offer
            .requires
            .iter()
            .any(|r| plan_ids.contains(&r.as_str()))
    {
        return refuse(format!(
            "{price} needs one of the plans {:?}",
            offer.requires
        ));
    }
    let keep_all: Vec<PlannedLineItem> = session
        .line_items
        .iter()
        .map(|li| PlannedLineItem::Keep { id: li.id.clone() })
        .collect();
    let already = |p: &PriceId| {
        session.line_items.iter().any(|li| {
            li.price.id == *p
                || matches!((catalog.plan_price(&li.price.id), catalog.plan_price(p)),
                    (Some(a), Some(b)) if a.plan.id == b.plan.id)
        })
    };
    if already(price) {
        return Ok(keep_all);
    }
    if let Some(offered) = catalog.plan_price(price) {
        if session.mode != SessionMode::Subscription {
            return refuse(format!(
                "{price} is recurring and the cart is a one-off payment"
            ));
        }
        if cart_interval(session, catalog).is_some_and(|i| i != offered.interval) {
            return refuse(format!(
                "{price} does not match the cart's billing interval"
            ));
        }
    }
    let quantity = catalog.item(price).map_or(1, |item| item.bounds().min);
    let mut planned = keep_all;
    planned.push(PlannedLineItem::Add {
        price: price.clone(),
        quantity,
    });
    Ok(planned)
}

/// The complimentary item is in the cart exactly while the cart qualifies: an eligible mode and a
/// paid subtotal (the gift itself never counts) at least the threshold. Amounts come from Stripe
/// for items already in the cart and from the catalog for added ones; an unknown amount counts 0.
pub(super) fn complimentary_rule(
    session: &SessionSnapshot,
    mut planned: Vec<PlannedLineItem>,
    catalog: &Catalog,
) -> Vec<PlannedLineItem> {
    let Some(gift) = catalog.complimentary() else {
        return planned;
    };
    let existing = |id: &LineItemId| session.line_items.iter().find(|li| &li.id == id);
    let price_of = |item: &PlannedLineItem| match item {
        PlannedLineItem::Keep { id } | PlannedLineItem::Update { id, .. } => {
            existing(id).map(|li| li.price.id.clone())
        }
        PlannedLineItem::Add { price, .. } => Some(price.clone()),
    };
    let paid = paid_subtotal(session, &planned, catalog);
    let mode = match session.mode {
        SessionMode::Payment => Some(CartMode::Payment),
        SessionMode::Subscription => Some(CartMode::Subscription),
        SessionMode::Setup | SessionMode::Unknown => None,
    };
    let qualifies =
        mode.is_some_and(|m| gift.eligible_modes.contains(&m)) && paid >= gift.threshold;
    let has_gift = planned
        .iter()
        .any(|item| price_of(item).as_ref() == Some(&gift.price));
    if qualifies && !has_gift {
        planned.push(PlannedLineItem::Add {
            price: gift.price.clone(),
            quantity: 1,
        });
    } else if !qualifies && has_gift {
        planned.retain(|item| price_of(item).as_ref() != Some(&gift.price));
    }
    planned
}
