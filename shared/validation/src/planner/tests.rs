use super::*;
use crate::catalog::Plan;
use crate::session::{
    LineItemSnapshot, PriceSnapshot, Recurring, RecurringInterval, SessionMode, SessionStatus,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const GA: UpdatePolicy = UpdatePolicy {
    require_server_only_permission: false,
};
const PREVIEW: UpdatePolicy = UpdatePolicy {
    require_server_only_permission: true,
};

fn price(id: &str) -> PriceId {
    PriceId::parse(id).unwrap()
}

fn catalog(plans: usize) -> Catalog {
    Catalog::new(
        (0..plans)
            .map(|n| Plan {
                id: format!("plan{n}"),
                monthly: price(&format!("price_p{n}_month")),
                yearly: price(&format!("price_p{n}_year")),
            })
            .collect(),
    )
    .unwrap()
}

fn item(
    n: usize,
    price_id: &str,
    recurring: Option<RecurringInterval>,
    quantity: u64,
) -> LineItemSnapshot {
    LineItemSnapshot {
        id: LineItemId::parse(&format!("li_{n}")).unwrap(),
        price: PriceSnapshot {
            id: price(price_id),
            recurring: recurring.map(|interval| Recurring {
                interval,
                interval_count: 1,
            }),
        },
        quantity,
        amount_total: 0,
    }
}

fn session(items: Vec<LineItemSnapshot>) -> SessionSnapshot {
    SessionSnapshot {
        id: CheckoutSessionId::parse("cs_test_1").unwrap(),
        status: SessionStatus::Open,
        mode: SessionMode::Subscription,
        ui_mode: UiMode::Elements,
        update_line_items_permission: Some(UpdateLineItemsPermission::ServerOnly),
        currency: Some("usd".into()),
        amount_subtotal: Some(0),
        amount_total: Some(0),
        metadata: BTreeMap::new(),
        line_items: items,
    }
}

fn monthly_cart() -> SessionSnapshot {
    session(vec![
        item(1, "price_setup", None, 1),
        item(2, "price_p0_month", Some(RecurringInterval::Month), 3),
        item(3, "price_sticker", None, 2),
    ])
}

fn yearly() -> CartAction {
    CartAction::ChangeInterval(Interval::Yearly)
}

fn keep(n: usize) -> PlannedLineItem {
    PlannedLineItem::Keep {
        id: LineItemId::parse(&format!("li_{n}")).unwrap(),
    }
}

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

#[test]
fn only_open_elements_sessions_are_updatable() {
    type Mutation = fn(&mut SessionSnapshot);
    let cases: [(Mutation, NotUpdatableReason); 4] = [
        (
            |s| s.status = SessionStatus::Expired,
            NotUpdatableReason::NotOpen,
        ),
        (
            |s| s.status = SessionStatus::Complete,
            NotUpdatableReason::NotOpen,
        ),
        (
            |s| s.ui_mode = UiMode::Hosted,
            NotUpdatableReason::NotElementsSession,
        ),
        (|s| s.line_items.clear(), NotUpdatableReason::EmptyCart),
    ];
    for (mutate, reason) in cases {
        let mut cart = monthly_cart();
        mutate(&mut cart);
        assert_eq!(
            plan(&cart, &yearly(), &catalog(1), GA),
            Err(Rejection::NotUpdatable(reason))
        );
    }
}

#[test]
fn the_preview_api_also_requires_the_server_only_permission() {
    let mut cart = monthly_cart();
    cart.update_line_items_permission = Some(UpdateLineItemsPermission::ClientOnly);
    assert_eq!(
        plan(&cart, &yearly(), &catalog(1), PREVIEW),
        Err(Rejection::NotUpdatable(
            NotUpdatableReason::LineItemsNotServerOnly
        ))
    );
    // The GA API has no such permission, so its absence is fine there.
    cart.update_line_items_permission = None;
    assert!(plan(&cart, &yearly(), &catalog(1), GA).is_ok());
    assert!(plan(&cart, &yearly(), &catalog(1), PREVIEW).is_err());
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
