use super::*;
use crate::catalog::{Plan, Product, QuantityBounds, Sku};
use crate::session::{
    LineItemSnapshot, PriceSnapshot, Recurring, RecurringInterval, SessionMode, SessionStatus,
    RESERVATION_METADATA_KEY,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const GA: UpdatePolicy = UpdatePolicy {
    require_server_only_permission: false,
    require_own_session: true,
};
const PREVIEW: UpdatePolicy = UpdatePolicy {
    require_server_only_permission: true,
    require_own_session: true,
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
                quantity: QuantityBounds::default(),
            })
            .collect(),
        vec![],
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
        metadata: BTreeMap::from([(RESERVATION_METADATA_KEY.into(), "rsv_1".into())]),
        expires_at: None,
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
    let cases: [(Mutation, NotUpdatableReason); 5] = [
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
        (|s| s.metadata.clear(), NotUpdatableReason::NotCreatedHere),
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

/// One plan, a tracked T-shirt (1..=3) and an untracked sticker pack (default bounds).
fn shop() -> Catalog {
    Catalog::new(
        vec![Plan {
            id: "plan0".into(),
            monthly: price("price_p0_month"),
            yearly: price("price_p0_year"),
            quantity: QuantityBounds::default(),
        }],
        vec![
            Product {
                price: price("price_tee"),
                sku: Sku::parse("TEE"),
                quantity: QuantityBounds { min: 1, max: 3 },
            },
            Product {
                price: price("price_sticker"),
                sku: None,
                quantity: QuantityBounds::default(),
            },
        ],
    )
    .unwrap()
}

fn set(n: usize, quantity: u64) -> CartAction {
    CartAction::SetQuantity {
        line_item: LineItemId::parse(&format!("li_{n}")).unwrap(),
        quantity,
    }
}

fn tee_cart() -> SessionSnapshot {
    session(vec![
        item(1, "price_p0_month", Some(RecurringInterval::Month), 1),
        item(2, "price_tee", None, 2),
        item(3, "price_sticker", None, 1),
    ])
}

#[test]
fn setting_a_quantity_updates_that_item_and_moves_its_stock() {
    let plan = plan(&tee_cart(), &set(2, 3), &shop(), GA).unwrap();
    assert_eq!(
        plan.line_items,
        vec![
            keep(1),
            PlannedLineItem::Update {
                id: LineItemId::parse("li_2").unwrap(),
                quantity: 3
            },
            keep(3)
        ]
    );
    assert_eq!(
        plan.stock,
        vec![StockChange {
            sku: Sku::parse("TEE").unwrap(),
            from: 2,
            to: 3
        }]
    );
}

#[test]
fn zero_removes_the_item_and_releases_its_stock() {
    let plan = plan(&tee_cart(), &set(2, 0), &shop(), GA).unwrap();
    assert_eq!(plan.line_items, vec![keep(1), keep(3)]);
    assert!(
        !plan.is_noop(),
        "a removal keeps every other id but is still a change"
    );
    assert_eq!(plan.stock[0].to, 0);
}

#[test]
fn untracked_items_move_no_stock_and_same_quantity_is_a_noop() {
    let plan1 = plan(&tee_cart(), &set(3, 5), &shop(), GA).unwrap();
    assert!(plan1.stock.is_empty());
    let same = plan(&tee_cart(), &set(2, 2), &shop(), GA).unwrap();
    assert!(same.is_noop());
    assert!(same.stock.is_empty());
}

#[test]
fn quantity_rules_are_enforced() {
    assert_eq!(
        plan(&tee_cart(), &set(2, 4), &shop(), GA),
        Err(Rejection::QuantityOutOfRange {
            param: "quantity".into(),
            min: 1,
            max: 3
        })
    );
    assert_eq!(
        plan(&tee_cart(), &set(1, 0), &shop(), GA),
        Err(Rejection::CannotRemoveLastItem),
        "the subscription's only plan"
    );
    let lonely = session(vec![item(2, "price_tee", None, 1)]);
    assert_eq!(
        plan(&lonely, &set(2, 0), &shop(), GA),
        Err(Rejection::CannotRemoveLastItem)
    );
    assert!(matches!(
        plan(&tee_cart(), &set(9, 1), &shop(), GA),
        Err(Rejection::LineItemNotFound { .. })
    ));
    let foreign = session(vec![
        item(1, "price_p0_month", Some(RecurringInterval::Month), 1),
        item(2, "price_unknown", None, 1),
    ]);
    assert!(matches!(
        plan(&foreign, &set(2, 2), &shop(), GA),
        Err(Rejection::OfferNotAvailable { .. })
    ));
}

/// Random carts over the shop's prices (plan first, so subscriptions stay valid).
fn arb_shop_cart() -> impl Strategy<Value = SessionSnapshot> {
    let entry = prop_oneof![
        (1..=3u64).prop_map(|q| ("price_tee", q)),
        (1..=9u64).prop_map(|q| ("price_sticker", q)),
    ];
    prop::collection::vec(entry, 0..6).prop_map(|entries| {
        let mut items = vec![item(0, "price_p0_month", Some(RecurringInterval::Month), 1)];
        items.extend(
            entries
                .into_iter()
                .enumerate()
                .map(|(n, (p, q))| item(n + 1, p, None, q)),
        );
        session(items)
    })
}

proptest! {
    #[test]
    fn set_quantity_touches_only_its_item_and_accounts_for_every_unit(
        cart in arb_shop_cart(), target in 0..7usize, quantity in 0..5u64
    ) {
        let catalog = shop();
        let Ok(plan) = plan(&cart, &set(target, quantity), &catalog, GA) else { return Ok(()) };
        prop_assert!(!plan.line_items.is_empty());
        let target_id = LineItemId::parse(&format!("li_{target}")).unwrap();
        let mut kept = plan.line_items.iter();
        for li in &cart.line_items {
            if li.id == target_id {
                if quantity == 0 { continue; }
                let next = kept.next();
                let is_target = matches!(next, Some(PlannedLineItem::Keep { id } | PlannedLineItem::Update { id, .. }) if *id == target_id);
                prop_assert!(is_target);
            } else {
                prop_assert_eq!(kept.next(), Some(&PlannedLineItem::Keep { id: li.id.clone() }));
            }
        }
        prop_assert!(kept.next().is_none());
        let current = cart.line_items.iter().find(|li| li.id == target_id).map(|li| li.quantity);
        prop_assert_eq!(plan.is_noop(), current == Some(quantity), "no-op exactly when nothing changes");
        // Stock: the TEE total changes by exactly the target's quantity change.
        let tee_before: u64 = cart.line_items.iter().filter(|li| li.price.id.as_str() == "price_tee").map(|li| li.quantity).sum();
        let target_item = cart.line_items.iter().find(|li| li.id == target_id).unwrap();
        let tee_after = if target_item.price.id.as_str() == "price_tee" {
            tee_before - target_item.quantity + quantity
        } else {
            tee_before
        };
        let reported = plan.stock.iter().find(|c| c.sku.as_str() == "TEE");
        match reported {
            Some(change) => prop_assert_eq!((change.from, change.to), (tee_before, tee_after)),
            None => prop_assert_eq!(tee_before, tee_after),
        }
    }
}
