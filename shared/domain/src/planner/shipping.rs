//! Shipping and tax for the new cart: the destination the shopper sets, the options of the tiers
//! its paid subtotal falls in, and the tax rate every line carries.

use super::items::{paid_subtotal, PlannedLineItem};
use crate::catalog::{Catalog, Shipping};
use crate::commands::CartAction;
use crate::error::Rejection;
use crate::session::{Address, SessionMode, SessionSnapshot, ShippingDetails};

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

/// What the new cart sends of shipping and tax (see the fields of the same names on `CartPlan`).
pub(super) struct ShippingPlan {
    pub shipping_details: Option<ShippingDetails>,
    pub shipping_options: Option<Vec<ShippingOptionPlan>>,
    pub tax_rates: Option<Vec<String>>,
    pub changes_shipping: bool,
}

/// Recomputes shipping options and tax rates whenever the session has (or is getting) a
/// destination, after any action, so they follow the cart's new subtotal.
pub(super) fn plan_shipping(
    session: &SessionSnapshot,
    action: &CartAction,
    line_items: &[PlannedLineItem],
    catalog: &Catalog,
) -> ShippingPlan {
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
                    let paid = paid_subtotal(session, line_items, catalog);
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
            .is_some_and(|rates| !same_tax(session, line_items, rates));
    ShippingPlan {
        shipping_details,
        shipping_options,
        tax_rates,
        changes_shipping,
    }
}

/// The options of every tier whose band holds `paid`, in catalog order; a tier priced in another
/// currency than the session's is not offered (Stripe would refuse it).
fn shipping_options_for(
    shipping: &Shipping,
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
pub(super) fn set_shipping(
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
