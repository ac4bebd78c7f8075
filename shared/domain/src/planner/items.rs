//! The planned `line_items` entries and what they add up to: the paid subtotal every value rule
//! reads and the stock each tracked SKU needs.

use crate::catalog::Catalog;
use crate::ids::{LineItemId, PriceId};
use crate::session::SessionSnapshot;
use crate::terms::{Sku, StockChange};
use std::collections::BTreeMap;

/// One entry of the retransmitted `line_items` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedLineItem {
    Keep { id: LineItemId },
    Update { id: LineItemId, quantity: u64 },
    Add { price: PriceId, quantity: u64 },
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
pub(super) fn stock_changes(
    session: &SessionSnapshot,
    planned: &[PlannedLineItem],
    catalog: &Catalog,
) -> Vec<StockChange> {
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
