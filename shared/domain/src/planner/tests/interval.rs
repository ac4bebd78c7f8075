//! Changing the billing interval: plans swap in place, everything else is kept.

use super::*;

#[test]
fn switching_to_yearly_swaps_the_plan_in_place_and_keeps_everything_else() {
    let plan = plan(&monthly_cart(), &yearly(), &catalog(1), GA).unwrap();
    assert_eq!(
        plan.line_items,
        vec![
            keep(1),
            PlannedLineItem::Add {
                price: price("price_p0_year"),
                quantity: 3
            },
            keep(3),
        ]
    );
    assert!(!plan.is_noop());
}

#[test]
fn asking_for_the_interval_the_cart_already_has_is_a_noop() {
    let plan = plan(
        &monthly_cart(),
        &CartAction::ChangeInterval(Interval::Monthly),
        &catalog(1),
        GA,
    )
    .unwrap();
    assert_eq!(plan.line_items, vec![keep(1), keep(2), keep(3)]);
    assert!(plan.is_noop());
}

#[test]
fn a_recurring_price_outside_the_catalog_has_no_counterpart() {
    let cart = session(vec![item(
        1,
        "price_legacy",
        Some(RecurringInterval::Month),
        1,
    )]);
    assert!(matches!(
        plan(&cart, &yearly(), &catalog(1), GA),
        Err(Rejection::OfferNotAvailable { .. })
    ));
}

#[test]
fn a_cart_without_subscription_items_cannot_change_interval() {
    let cart = session(vec![item(1, "price_sticker", None, 1)]);
    assert!(matches!(
        plan(&cart, &yearly(), &catalog(1), GA),
        Err(Rejection::OfferNotAvailable { .. })
    ));
}

/// A random cart built from a catalog of `plans` plans: every item is either a one-time price or one
/// of the plan prices, at a random interval.
fn arb_cart(plans: usize) -> impl Strategy<Value = SessionSnapshot> {
    let entry = prop_oneof![
        (0..5usize, 1..10u64).prop_map(|(n, q)| (format!("price_once{n}"), None, q)),
        (0..plans, any::<bool>(), 1..10u64).prop_map(|(p, yearly, q)| {
            let (suffix, interval) = if yearly {
                ("year", RecurringInterval::Year)
            } else {
                ("month", RecurringInterval::Month)
            };
            (format!("price_p{p}_{suffix}"), Some(interval), q)
        }),
    ];
    prop::collection::vec(entry, 1..12).prop_map(|entries| {
        session(
            entries
                .into_iter()
                .enumerate()
                .map(|(n, (price_id, recurring, q))| item(n, &price_id, recurring, q))
                .collect(),
        )
    })
}

fn arb_interval() -> impl Strategy<Value = Interval> {
    prop_oneof![Just(Interval::Monthly), Just(Interval::Yearly)]
}

proptest! {
    #[test]
    fn untouched_items_keep_their_ids_and_positions(cart in arb_cart(3), target in arb_interval()) {
        let catalog = catalog(3);
        if let Ok(plan) = plan(&cart, &CartAction::ChangeInterval(target), &catalog, GA) {
            prop_assert_eq!(plan.line_items.len(), cart.line_items.len());
            for (before, after) in cart.line_items.iter().zip(&plan.line_items) {
                let already_there = before.price.recurring.is_none()
                    || catalog.plan_price(&before.price.id).map(|p| p.interval) == Some(target);
                if already_there {
                    prop_assert_eq!(after, &PlannedLineItem::Keep { id: before.id.clone() });
                } else {
                    let is_add_with_same_quantity = matches!(
                        after,
                        PlannedLineItem::Add { quantity, .. } if *quantity == before.quantity
                    );
                    prop_assert!(is_add_with_same_quantity);
                }
            }
        }
    }

    #[test]
    fn the_new_cart_is_never_empty(cart in arb_cart(3), target in arb_interval()) {
        if let Ok(plan) = plan(&cart, &CartAction::ChangeInterval(target), &catalog(3), GA) {
            prop_assert!(!plan.line_items.is_empty());
        }
    }

    #[test]
    fn recurring_intervals_always_agree_after_a_change(cart in arb_cart(3), target in arb_interval()) {
        let catalog = catalog(3);
        let has_recurring = cart.line_items.iter().any(|li| li.price.recurring.is_some());
        let result = plan(&cart, &CartAction::ChangeInterval(target), &catalog, GA);
        prop_assert_eq!(result.is_ok(), has_recurring);
        let Ok(plan) = result else { return Ok(()) };
        for (before, after) in cart.line_items.iter().zip(&plan.line_items) {
            let price = match after {
                PlannedLineItem::Add { price, .. } => price,
                PlannedLineItem::Keep { .. } | PlannedLineItem::Update { .. } => &before.price.id,
            };
            if let Some(found) = catalog.plan_price(price) {
                prop_assert_eq!(found.interval, target);
            }
        }
    }

    #[test]
    fn changing_twice_to_the_same_interval_is_a_noop_the_second_time(
        cart in arb_cart(2), target in arb_interval()
    ) {
        let catalog = catalog(2);
        let action = CartAction::ChangeInterval(target);
        let Ok(first) = plan(&cart, &action, &catalog, GA) else { return Ok(()) };
        // Apply the plan the way Stripe would, then plan again.
        let mut applied = cart.clone();
        for (n, (li, planned)) in applied.line_items.iter_mut().zip(&first.line_items).enumerate() {
            if let PlannedLineItem::Add { price, .. } = planned {
                li.id = LineItemId::parse(&format!("li_new{n}")).unwrap();
                li.price.id = price.clone();
            }
        }
        prop_assert!(plan(&applied, &action, &catalog, GA).unwrap().is_noop());
    }
}
