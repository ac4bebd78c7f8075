//! The cart planner: session snapshot + action + catalog -> the ENTIRE `line_items` array to send
//! back to Stripe, or a typed refusal.
//!
//! Stripe replaces the whole array on every update: an entry with only an `id` keeps that item, `id`
//! plus fields updates it, `price` + `quantity` adds one, an omitted id removes it, and the array order
//! is the new cart order. The planner therefore always emits one entry per item it wants to exist.

use crate::catalog::Catalog;
use crate::commands::CartAction;
use crate::error::{NotUpdatableReason, Rejection};
use crate::ids::{LineItemId, PriceId};
use crate::session::{
    Address, SessionMode, SessionSnapshot, SessionStatus, ShippingDetails, UiMode,
    UpdateLineItemsPermission,
};
use crate::terms::{Interval, Sku, StockChange};

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

/// One shipping option to offer, from a catalog tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOptionPlan {
    pub display_name: String,
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// Delivery estimate in business days.
    pub min_days: Option<u32>,
    pub max_days: Option<u32>,
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
    let shipping_details = match action {
        CartAction::SetShipping { name, address } => Some(ShippingDetails {
            name: name.clone(),
            address: address.clone(),
        }),
        _ => None,
    };
    let destination = shipping_details
        .as_ref()
        .or(session.shipping_details.as_ref())
        .map(|d| &d.address);
    let (shipping_options, tax_rates) = match destination {
        None => (None, None),
        Some(to) => {
            let options = catalog
                .shipping()
                .filter(|_| session.mode == SessionMode::Payment)
                .map(|shipping| {
                    let paid = paid_subtotal(session, &line_items, catalog);
                    shipping_options_for(shipping, paid, session.currency.as_deref())
                });
            let rates: Vec<String> = catalog
                .tax_rate_for(&to.country, to.state.as_deref())
                .map(str::to_owned)
                .into_iter()
                .collect();
            (options, Some(rates))
        }
    };
    let changes_shipping = shipping_details
        .as_ref()
        .is_some_and(|d| session.shipping_details.as_ref() != Some(d))
        || shipping_options
            .as_ref()
            .is_some_and(|options| !same_options(session, options))
        || tax_rates
            .as_ref()
            .is_some_and(|rates| !same_tax(session, &line_items, rates));
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

/// Stripe's limits on one session's line items (API reference, create a Checkout Session,
/// `line_items`): up to 100 in payment mode; in subscription mode up to 20 with recurring prices
/// and 20 with one-time prices. Refused here, before any stock is held, rather than by Stripe
/// after. A new cart (at most `MAX_CART_ITEMS`) is always within them.
pub const MAX_PAYMENT_LINE_ITEMS: usize = 100;
pub const MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND: usize = 20;

fn check_stripe_limits(
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

/// The options of every tier whose band holds `paid`, in catalog order; a tier priced in another
/// currency than the session's is not offered (Stripe would refuse it).
pub(crate) fn shipping_options_for(
    shipping: &crate::catalog::Shipping,
    paid: i64,
    session_currency: Option<&str>,
) -> Vec<ShippingOptionPlan> {
    shipping
        .tiers
        .iter()
        .filter(|tier| tier.applies_to(paid))
        .filter_map(|tier| {
            let currency = match (&tier.currency, session_currency) {
                (Some(own), Some(session)) if own != session => return None,
                (Some(own), _) => own.clone(),
                (None, Some(session)) => session.to_owned(),
                (None, None) => return None,
            };
            Some(ShippingOptionPlan {
                display_name: tier.display_name.clone(),
                amount: tier.amount,
                currency,
                min_days: tier.min_days,
                max_days: tier.max_days,
            })
        })
        .collect()
}

/// Whether Stripe already offers exactly these options (by name when it told us, and amount).
fn same_options(session: &SessionSnapshot, planned: &[ShippingOptionPlan]) -> bool {
    session.shipping_options.len() == planned.len()
        && session
            .shipping_options
            .iter()
            .zip(planned)
            .all(|(have, want)| {
                have.amount == want.amount
                    && have
                        .display_name
                        .as_ref()
                        .is_none_or(|name| *name == want.display_name)
            })
}

/// Whether every item of the new cart would already carry exactly `rates`.
fn same_tax(session: &SessionSnapshot, planned: &[PlannedLineItem], rates: &[String]) -> bool {
    planned.iter().all(|item| match item {
        PlannedLineItem::Keep { id } | PlannedLineItem::Update { id, .. } => session
            .line_items
            .iter()
            .find(|li| &li.id == id)
            .is_some_and(|li| li.tax_rates == rates),
        PlannedLineItem::Add { .. } => rates.is_empty(),
    })
}

/// Setting a destination keeps the cart as it is, but only where the store ships.
fn set_shipping(
    session: &SessionSnapshot,
    address: &Address,
    catalog: &Catalog,
) -> Result<Vec<PlannedLineItem>, Rejection> {
    let ships = catalog
        .shipping()
        .is_some_and(|s| s.countries.contains(&address.country));
    if !ships {
        return Err(Rejection::DestinationNotSupported {
            country: address.country.clone(),
        });
    }
    Ok(session
        .line_items
        .iter()
        .map(|li| PlannedLineItem::Keep { id: li.id.clone() })
        .collect())
}

/// The cart's current recurring interval, if it has plan prices.
fn cart_interval(session: &SessionSnapshot, catalog: &Catalog) -> Option<Interval> {
    session
        .line_items
        .iter()
        .find_map(|li| catalog.plan_price(&li.price.id).map(|p| p.interval))
}

/// Adds an offer the catalog allows for this cart, at the end, at its minimum quantity; an offer
/// already in the cart is a no-op.
fn add_offer(
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
fn complimentary_rule(
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
        SessionMode::Payment => Some(crate::catalog::CartMode::Payment),
        SessionMode::Subscription => Some(crate::catalog::CartMode::Subscription),
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

/// What the shopper pays for the planned cart before shipping and tax, in minor units: the
/// complimentary gift never counts. Amounts come from Stripe for items already in the cart and
/// from the catalog for added ones; an unknown amount counts 0. The one definition behind every
/// rule that depends on the cart's value (the gift, the shipping tiers).
pub fn paid_subtotal(
    session: &SessionSnapshot,
    planned: &[PlannedLineItem],
    catalog: &Catalog,
) -> i64 {
    let gift = catalog.complimentary().map(|g| &g.price);
    let existing = |id: &LineItemId| session.line_items.iter().find(|li| &li.id == id);
    planned
        .iter()
        .filter_map(|item| {
            let (price, unit, quantity) = match item {
                PlannedLineItem::Keep { id } => {
                    let li = existing(id)?;
                    (&li.price.id, li.price.unit_amount.unwrap_or(0), li.quantity)
                }
                PlannedLineItem::Update { id, quantity } => {
                    let li = existing(id)?;
                    (&li.price.id, li.price.unit_amount.unwrap_or(0), *quantity)
                }
                PlannedLineItem::Add { price, quantity } => {
                    (price, catalog.unit_amount(price).unwrap_or(0), *quantity)
                }
            };
            (Some(price) != gift).then(|| unit.saturating_mul(to_i64(quantity)))
        })
        .fold(0i64, i64::saturating_add)
}

fn to_i64(quantity: u64) -> i64 {
    i64::try_from(quantity).unwrap_or(i64::MAX)
}

/// Per tracked SKU, the cart's total quantity before and after `planned` replaces the items.
fn stock_changes(
    session: &SessionSnapshot,
    planned: &[PlannedLineItem],
    catalog: &Catalog,
) -> Vec<StockChange> {
    use std::collections::BTreeMap;
    let sku_of = |price: &PriceId| catalog.item(price).and_then(|item| item.sku()).cloned();
    let mut totals: BTreeMap<Sku, (u64, u64)> = session
        .units_by_sku(catalog)
        .into_iter()
        .map(|(sku, units)| (sku, (units, 0)))
        .collect();
    let existing = |id: &LineItemId| session.line_items.iter().find(|li| &li.id == id);
    for item in planned {
        let (price, quantity) = match item {
            PlannedLineItem::Keep { id } => match existing(id) {
                Some(li) => (&li.price.id, li.quantity),
                None => continue,
            },
            PlannedLineItem::Update { id, quantity } => match existing(id) {
                Some(li) => (&li.price.id, *quantity),
                None => continue,
            },
            PlannedLineItem::Add { price, quantity } => (price, *quantity),
        };
        if let Some(sku) = sku_of(price) {
            totals.entry(sku).or_default().1 += quantity;
        }
    }
    totals
        .into_iter()
        .filter(|(_, (from, to))| from != to)
        .map(|(sku, (from, to))| StockChange { sku, from, to })
        .collect()
}

/// Sets one item's quantity within the catalog's bounds; 0 removes it, but never the last item
/// nor the only subscription item of a subscription.
fn set_quantity(
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
        let recurring = |li: &&crate::session::LineItemSnapshot| li.price.recurring.is_some();
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

/// Swaps every recurring item to its plan's price of `target`; keeps every other item as it is.
fn change_interval(
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

#[cfg(test)]
mod tests;
