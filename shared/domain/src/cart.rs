//! A new cart for a session that does not exist yet (create-session): the items a shopper asked
//! for, checked against the catalog, with the mode Stripe needs and the stock to hold.

use crate::catalog::{CartMode, Catalog, CatalogItem};
use crate::commands::NewCartRequest;
use crate::error::Rejection;
use crate::ids::PriceId;
use crate::session::SessionMode;
use crate::terms::{Sku, StockChange};
use std::collections::BTreeMap;

/// A cart the catalog allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCart {
    pub mode: SessionMode,
    pub items: Vec<(PriceId, u64)>,
    /// Stock to hold per tracked SKU (all from 0).
    pub stock: Vec<StockChange>,
}

/// Checks every item against the catalog: known price, quantity within bounds, no duplicates,
/// plan prices of one interval. A cart with a plan is a subscription, otherwise a payment.
pub fn plan_new_cart(request: &NewCartRequest, catalog: &Catalog) -> Result<NewCart, Rejection> {
    let mut interval = None;
    let mut stock: BTreeMap<Sku, u64> = BTreeMap::new();
    let mut has_plan = false;
    for (n, (price, quantity)) in request.items.iter().enumerate() {
        if request.items[..n].iter().any(|(p, _)| p == price) {
            return Err(Rejection::invalid_field(
                format!("items[{n}].price"),
                "Each price may appear only once; set its quantity instead.",
            ));
        }
        let Some(item) = catalog.item(price) else {
            return Err(Rejection::OfferNotAvailable {
                reason: format!("items[{n}]: price {price} is not in the catalog"),
            });
        };
        let bounds = item.bounds();
        if !bounds.contains(*quantity) {
            return Err(Rejection::QuantityOutOfRange {
                param: format!("items[{n}].quantity"),
                min: bounds.min,
                max: bounds.max,
            });
        }
        if let CatalogItem::Plan(plan) = item {
            has_plan = true;
            if interval.is_some_and(|i| i != plan.interval) {
                return Err(Rejection::OfferNotAvailable {
                    reason: "the cart mixes monthly and yearly plans".into(),
                });
            }
            interval = Some(plan.interval);
        }
        if let Some(sku) = item.sku() {
            *stock.entry(sku.clone()).or_default() += quantity;
        }
    }
    let mode = if has_plan {
        SessionMode::Subscription
    } else {
        SessionMode::Payment
    };
    if request.mode.is_some_and(|m| m != mode) {
        return Err(Rejection::invalid_field(
            "mode",
            if has_plan {
                "A cart with a subscription plan must use mode \"subscription\"."
            } else {
                "A cart without a subscription plan must use mode \"payment\"."
            },
        ));
    }
    let mut items = request.items.clone();
    // The complimentary rule, as after every change of an existing cart.
    if let Some(gift) = catalog.complimentary() {
        let eligible = gift.eligible_modes.contains(&match mode {
            SessionMode::Subscription => CartMode::Subscription,
            _ => CartMode::Payment,
        });
        let paid: i64 = items
            .iter()
            .filter(|(price, _)| *price != gift.price)
            .map(|(price, q)| {
                catalog.unit_amount(price).unwrap_or(0) * i64::try_from(*q).unwrap_or(i64::MAX)
            })
            .sum();
        let has_gift = items.iter().any(|(price, _)| *price == gift.price);
        if eligible && paid >= gift.threshold && !has_gift {
            items.push((gift.price.clone(), 1));
            if let Some(sku) = catalog.item(&gift.price).and_then(|i| i.sku()) {
                *stock.entry(sku.clone()).or_default() += 1;
            }
        } else if has_gift && !(eligible && paid >= gift.threshold) {
            return Err(Rejection::OfferNotAvailable {
                reason: "the complimentary item is not available for this cart".into(),
            });
        }
    }
    Ok(NewCart {
        mode,
        items,
        stock: stock
            .into_iter()
            .map(|(sku, to)| StockChange { sku, from: 0, to })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::from_json(
            r#"{"plans":[{"id":"pro","monthly":"price_m","yearly":"price_y"},
                         {"id":"team","monthly":"price_tm","yearly":"price_ty"}],
                "products":[{"price":"price_tee","sku":"TEE","quantity":{"min":1,"max":3}},
                            {"price":"price_sticker"}]}"#,
        )
        .unwrap()
    }

    fn request(items: &[(&str, u64)]) -> NewCartRequest {
        NewCartRequest {
            items: items
                .iter()
                .map(|(p, q)| (PriceId::parse(p).unwrap(), *q))
                .collect(),
            mode: None,
        }
    }

    #[test]
    fn a_plan_makes_a_subscription_and_tracked_items_are_held() {
        let cart =
            plan_new_cart(&request(&[("price_m", 1), ("price_tee", 2)]), &catalog()).unwrap();
        assert_eq!(cart.mode, SessionMode::Subscription);
        assert_eq!(
            cart.stock,
            vec![StockChange {
                sku: Sku::parse("TEE").unwrap(),
                from: 0,
                to: 2
            }]
        );
        let payment = plan_new_cart(&request(&[("price_sticker", 4)]), &catalog()).unwrap();
        assert_eq!(payment.mode, SessionMode::Payment);
        assert!(payment.stock.is_empty());
    }

    #[test]
    fn carts_the_catalog_does_not_allow_are_refused_with_the_item_named() {
        let c = catalog();
        assert!(matches!(
            plan_new_cart(&request(&[("price_unknown", 1)]), &c),
            Err(Rejection::OfferNotAvailable { .. })
        ));
        assert_eq!(
            plan_new_cart(&request(&[("price_m", 1), ("price_tee", 4)]), &c),
            Err(Rejection::QuantityOutOfRange {
                param: "items[1].quantity".into(),
                min: 1,
                max: 3
            })
        );
        assert!(matches!(
            plan_new_cart(&request(&[("price_m", 1), ("price_ty", 1)]), &c),
            Err(Rejection::OfferNotAvailable { .. })
        ));
        assert!(matches!(
            plan_new_cart(&request(&[("price_tee", 1), ("price_tee", 1)]), &c),
            Err(Rejection::InvalidField { param, .. }) if param == "items[1].price"
        ));
        let mut wrong_mode = request(&[("price_m", 1)]);
        wrong_mode.mode = Some(SessionMode::Payment);
        assert!(matches!(
            plan_new_cart(&wrong_mode, &c),
            Err(Rejection::InvalidField { param, .. }) if param == "mode"
        ));
    }
}
