use super::*;
use crate::catalog::{CartMode, Complimentary, Offer, Plan, Product, QuantityBounds};
use crate::ids::CheckoutSessionId;
use crate::session::{
    LineItemSnapshot, PaymentStatus, PriceSnapshot, Recurring, RecurringInterval, SessionMode,
    SessionStatus, RESERVATION_METADATA_KEY,
};
use crate::terms::Sku;
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
            unit_amount: Some(amount_of(price_id)),
            recurring: recurring.map(|interval| Recurring {
                interval,
                interval_count: 1,
            }),
        },
        quantity,
        amount_total: 0,
        tax_rates: vec![],
    }
}

/// Unit amounts the fake "Stripe" knows (and the shop catalog repeats for its products).
fn amount_of(price_id: &str) -> i64 {
    match price_id {
        "price_tee" => 2_500,
        "price_sticker" => 500,
        "price_gift" => 0,
        "price_mug" => 1_200,
        p if p.ends_with("_year") => 15_000,
        _ => 1_500,
    }
}

fn session(items: Vec<LineItemSnapshot>) -> SessionSnapshot {
    SessionSnapshot {
        id: CheckoutSessionId::parse("cs_test_1").unwrap(),
        status: SessionStatus::Open,
        payment_status: PaymentStatus::Unpaid,
        mode: SessionMode::Subscription,
        ui_mode: UiMode::Elements,
        update_line_items_permission: Some(UpdateLineItemsPermission::ServerOnly),
        currency: Some("usd".into()),
        amount_subtotal: Some(0),
        amount_total: Some(0),
        metadata: BTreeMap::from([(RESERVATION_METADATA_KEY.into(), "rsv_1".into())]),
        expires_at: None,
        line_items: items,
        shipping_details: None,
        shipping_options: vec![],
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
                unit_amount: Some(2_500),
            },
            Product {
                price: price("price_sticker"),
                sku: None,
                quantity: QuantityBounds::default(),
                unit_amount: Some(500),
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

/// The shop with offers and a gift: a mug (one-time) for any cart, a support plan add-on for
/// carts with plan0, and a free gift for one-off carts from $50.
fn shop_with_rules() -> Catalog {
    let mut plans = vec![
        Plan {
            id: "plan0".into(),
            monthly: price("price_p0_month"),
            yearly: price("price_p0_year"),
            quantity: QuantityBounds::default(),
        },
        Plan {
            id: "support".into(),
            monthly: price("price_support_month"),
            yearly: price("price_support_year"),
            quantity: QuantityBounds { min: 1, max: 1 },
        },
    ];
    plans.truncate(2);
    let product = |id: &str, sku: Option<&str>, max: u64| Product {
        price: price(id),
        sku: sku.and_then(Sku::parse),
        quantity: QuantityBounds { min: 1, max },
        unit_amount: Some(amount_of(id)),
    };
    Catalog::new(
        plans,
        vec![
            product("price_tee", Some("TEE"), 9),
            product("price_sticker", None, 99),
            product("price_mug", Some("MUG"), 2),
            product("price_gift", Some("GIFT"), 1),
        ],
    )
    .unwrap()
    .with_rules(
        vec![
            Offer {
                plan: None,
                price: Some(price("price_mug")),
                requires: vec![],
            },
            Offer {
                plan: Some("support".into()),
                price: None,
                requires: vec!["plan0".into()],
            },
        ],
        Some(Complimentary {
            price: price("price_gift"),
            threshold: 5_000,
            eligible_modes: vec![CartMode::Payment],
        }),
    )
    .unwrap()
}

fn one_off(items: Vec<LineItemSnapshot>) -> SessionSnapshot {
    let mut s = session(items);
    s.mode = SessionMode::Payment;
    s
}

fn add(p: &str) -> CartAction {
    CartAction::AddOffer(price(p))
}

#[test]
fn offers_are_added_at_the_end_once_and_only_where_allowed() {
    let catalog = shop_with_rules();
    let cart = tee_cart();
    let with_offer = plan(&cart, &add("price_mug"), &catalog, GA).unwrap();
    assert_eq!(
        with_offer.line_items.last(),
        Some(&PlannedLineItem::Add {
            price: price("price_mug"),
            quantity: 1
        })
    );
    assert_eq!(
        with_offer.stock,
        vec![StockChange {
            sku: Sku::parse("MUG").unwrap(),
            from: 0,
            to: 1
        }]
    );

    let mut with_mug = tee_cart();
    with_mug.line_items.push(item(9, "price_mug", None, 1));
    assert!(
        plan_ok(&with_mug, &add("price_mug"), &catalog).is_noop(),
        "already there"
    );

    // The support add-on follows the cart's interval and needs plan0.
    assert!(plan_ok(&cart, &add("price_support_month"), &catalog).changes_cart);
    assert!(matches!(
        plan(&cart, &add("price_support_year"), &catalog, GA),
        Err(Rejection::OfferNotAvailable { .. })
    ));
    let no_plan = one_off(vec![item(2, "price_tee", None, 1)]);
    assert!(matches!(
        plan(&no_plan, &add("price_support_month"), &catalog, GA),
        Err(Rejection::OfferNotAvailable { .. })
    ));
    assert!(
        matches!(
            plan(&cart, &add("price_sticker"), &catalog, GA),
            Err(Rejection::OfferNotAvailable { .. })
        ),
        "a product that is not an offer"
    );
}

fn plan_ok(cart: &SessionSnapshot, action: &CartAction, catalog: &Catalog) -> CartPlan {
    plan(cart, action, catalog, GA).unwrap()
}

#[test]
fn change_interval_swaps_recurring_cross_sells_too() {
    let catalog = shop_with_rules();
    let mut cart = tee_cart();
    cart.line_items.push(item(
        8,
        "price_support_month",
        Some(RecurringInterval::Month),
        1,
    ));
    let plan = plan_ok(
        &cart,
        &CartAction::ChangeInterval(Interval::Yearly),
        &catalog,
    );
    let added: Vec<&PriceId> = plan
        .line_items
        .iter()
        .filter_map(|li| match li {
            PlannedLineItem::Add { price, .. } => Some(price),
            _ => None,
        })
        .collect();
    assert_eq!(
        added,
        vec![&price("price_p0_year"), &price("price_support_year")]
    );
}

#[test]
fn the_gift_comes_at_the_threshold_and_goes_below_it_in_one_off_carts_only() {
    let catalog = shop_with_rules();
    // 1 T-shirt = $25: no gift. Set 2 = $50: gift added (and its stock held).
    let cart = one_off(vec![item(2, "price_tee", None, 1)]);
    let up = plan_ok(&cart, &set(2, 2), &catalog);
    assert_eq!(
        up.line_items.last(),
        Some(&PlannedLineItem::Add {
            price: price("price_gift"),
            quantity: 1
        })
    );
    assert!(up
        .stock
        .iter()
        .any(|c| c.sku.as_str() == "GIFT" && c.to == 1));
    // With the gift in the cart, going back to 1 removes it; the gift never counts itself.
    let gifted = one_off(vec![
        item(2, "price_tee", None, 2),
        item(7, "price_gift", None, 1),
    ]);
    let down = plan_ok(&gifted, &set(2, 1), &catalog);
    assert!(!down.line_items.iter().any(|li| *li == keep(7)));
    assert!(plan_ok(&gifted, &set(2, 2), &catalog).is_noop());
    // A subscription cart over the threshold gains nothing (not eligible by default).
    let rich = session(vec![item(
        1,
        "price_p0_year",
        Some(RecurringInterval::Year),
        1,
    )]);
    assert!(plan_ok(
        &rich,
        &CartAction::ChangeInterval(Interval::Yearly),
        &catalog
    )
    .is_noop());
}

/// Applies a plan the way Stripe would, with fresh ids for added items.
fn apply(cart: &SessionSnapshot, plan: &CartPlan, next_id: &mut usize) -> SessionSnapshot {
    let mut out = cart.clone();
    out.line_items = plan
        .line_items
        .iter()
        .map(|planned| match planned {
            PlannedLineItem::Keep { id } => cart
                .line_items
                .iter()
                .find(|li| &li.id == id)
                .cloned()
                .unwrap(),
            PlannedLineItem::Update { id, quantity } => {
                let mut li = cart
                    .line_items
                    .iter()
                    .find(|li| &li.id == id)
                    .cloned()
                    .unwrap();
                li.quantity = *quantity;
                li
            }
            PlannedLineItem::Add { price, quantity } => {
                *next_id += 1;
                let recurring = if price.as_str().ends_with("_year") {
                    Some(RecurringInterval::Year)
                } else if price.as_str().ends_with("_month") {
                    Some(RecurringInterval::Month)
                } else {
                    None
                };
                item(*next_id, price.as_str(), recurring, *quantity)
            }
        })
        .collect();
    if let Some(rates) = &plan.tax_rates {
        for li in &mut out.line_items {
            li.tax_rates.clone_from(rates);
        }
    }
    if let Some(details) = &plan.shipping_details {
        out.shipping_details = Some(details.clone());
    }
    if let Some(options) = &plan.shipping_options {
        out.shipping_options = options
            .iter()
            .map(|o| crate::session::ShippingOptionSnapshot {
                display_name: Some(o.display_name.clone()),
                amount: o.amount,
            })
            .collect();
    }
    out
}

fn arb_action() -> impl Strategy<Value = CartAction> {
    prop_oneof![
        (0..12usize, 0..10u64).prop_map(|(n, q)| set(n, q)),
        prop_oneof![
            Just("price_mug"),
            Just("price_support_month"),
            Just("price_support_year"),
            Just("price_sticker")
        ]
        .prop_map(add),
        prop_oneof![Just(Interval::Monthly), Just(Interval::Yearly)]
            .prop_map(CartAction::ChangeInterval),
    ]
}

proptest! {
    #[test]
    fn any_sequence_of_actions_keeps_the_rules(
        subscription in any::<bool>(),
        actions in prop::collection::vec(arb_action(), 1..12),
    ) {
        let catalog = shop_with_rules();
        let mut cart = if subscription {
            session(vec![item(0, "price_p0_month", Some(RecurringInterval::Month), 1), item(1, "price_tee", None, 1)])
        } else {
            one_off(vec![item(1, "price_tee", None, 1)])
        };
        let mut next_id = 100;
        for action in actions {
            let Ok(plan) = plan(&cart, &action, &catalog, GA) else { continue };
            let next = apply(&cart, &plan, &mut next_id);
            // Kept items keep their ids.
            for planned in &plan.line_items {
                if let PlannedLineItem::Keep { id } | PlannedLineItem::Update { id, .. } = planned {
                    prop_assert!(next.line_items.iter().any(|li| &li.id == id));
                }
            }
            cart = next;
            prop_assert!(!cart.line_items.is_empty());
            // The gift is there iff the paid subtotal qualifies.
            let paid: i64 = cart.line_items.iter()
                .filter(|li| li.price.id.as_str() != "price_gift")
                .map(|li| amount_of(li.price.id.as_str()) * li.quantity as i64)
                .sum();
            let gifts = cart.line_items.iter().filter(|li| li.price.id.as_str() == "price_gift").count();
            let eligible = cart.mode == SessionMode::Payment;
            prop_assert_eq!(gifts, usize::from(eligible && paid >= 5_000), "paid {}", paid);
            // Recurring intervals agree.
            let intervals: std::collections::HashSet<_> = cart.line_items.iter()
                .filter_map(|li| catalog.plan_price(&li.price.id).map(|p| p.interval))
                .collect();
            prop_assert!(intervals.len() <= 1, "{:?}", intervals);
        }
    }
}

/// The shop with shipping: standard $5 (3-5 days) and express $15 below $50, free standard and
/// express $10 from $50; US and Canada; tax for the US, a state rate for California.
fn shop_with_shipping() -> Catalog {
    let json = r#"{"countries":["US","CA"],"tiers":[
        {"id":"std","display_name":"Standard","amount":500,"below":5000,"min_days":3,"max_days":5},
        {"id":"express","display_name":"Express","amount":1500,"below":5000,"min_days":1,"max_days":2},
        {"id":"free","display_name":"Free shipping","amount":0,"from":5000,"min_days":3,"max_days":5},
        {"id":"express_discounted","display_name":"Express","amount":1000,"from":5000,"min_days":1,"max_days":2}]}"#;
    let rates = r#"[{"country":"US","tax_rate":"txr_us"},{"country":"US","state":"CA","tax_rate":"txr_ca"}]"#;
    shop_with_rules()
        .with_shipping(
            Some(serde_json::from_str(json).unwrap()),
            serde_json::from_str(rates).unwrap(),
        )
        .unwrap()
}

fn ship_to(country: &str, state: Option<&str>) -> CartAction {
    CartAction::SetShipping {
        name: "Ada".into(),
        address: Address {
            line1: "1 Main St".into(),
            line2: None,
            city: Some("Springfield".into()),
            state: state.map(str::to_owned),
            postal_code: Some("94000".into()),
            country: country.into(),
        },
    }
}

/// The options the tier table promises for a paid subtotal (the test's own reading of it).
fn expected_options(paid: i64) -> Vec<(&'static str, i64)> {
    if paid < 5_000 {
        vec![("Standard", 500), ("Express", 1_500)]
    } else {
        vec![("Free shipping", 0), ("Express", 1_000)]
    }
}

fn options_of(plan: &CartPlan) -> Vec<(String, i64)> {
    plan.shipping_options
        .iter()
        .flatten()
        .map(|o| (o.display_name.clone(), o.amount))
        .collect()
}

#[test]
fn setting_a_destination_offers_the_tiers_for_the_subtotal_and_taxes_every_line() {
    let catalog = shop_with_shipping();
    let cart = one_off(vec![item(1, "price_tee", None, 1)]);
    let planned = plan_ok(&cart, &ship_to("US", Some("CA")), &catalog);
    assert!(
        !planned.changes_cart && !planned.is_noop(),
        "only shipping changes"
    );
    assert_eq!(planned.line_items, vec![keep(1)]);
    assert_eq!(
        options_of(&planned),
        vec![("Standard".to_owned(), 500), ("Express".to_owned(), 1_500)]
    );
    let first = &planned.shipping_options.as_ref().unwrap()[0];
    assert_eq!(
        (first.currency.as_str(), first.min_days, first.max_days),
        ("usd", Some(3), Some(5))
    );
    assert_eq!(planned.tax_rates, Some(vec!["txr_ca".to_owned()]));
    assert_eq!(
        planned.shipping_details.as_ref().unwrap().address.country,
        "US"
    );

    // Another state falls back to the country's rate; Canada has none, which clears them.
    let ny = plan_ok(&cart, &ship_to("US", Some("NY")), &catalog);
    assert_eq!(ny.tax_rates, Some(vec!["txr_us".to_owned()]));
    let ca = plan_ok(&cart, &ship_to("CA", Some("ON")), &catalog);
    assert_eq!(ca.tax_rates, Some(vec![]));

    // Unserved countries are refused; so is any country when the catalog does not ship.
    assert_eq!(
        plan(&cart, &ship_to("FR", None), &catalog, GA),
        Err(Rejection::DestinationNotSupported {
            country: "FR".into()
        })
    );
    assert!(matches!(
        plan(&cart, &ship_to("US", None), &shop_with_rules(), GA),
        Err(Rejection::DestinationNotSupported { .. })
    ));
    // And the session must still be updatable.
    let mut closed = cart.clone();
    closed.status = SessionStatus::Complete;
    assert!(matches!(
        plan(&closed, &ship_to("US", None), &catalog, GA),
        Err(Rejection::NotUpdatable(_))
    ));
}

#[test]
fn the_same_destination_again_is_a_noop_and_without_one_nothing_about_shipping_is_sent() {
    let catalog = shop_with_shipping();
    let cart = one_off(vec![item(1, "price_tee", None, 1)]);
    let mut next_id = 10;
    let first = plan_ok(&cart, &ship_to("US", Some("CA")), &catalog);
    let shipped = apply(&cart, &first, &mut next_id);
    assert!(plan_ok(&shipped, &ship_to("US", Some("CA")), &catalog).is_noop());
    // A name change alone is still a change.
    let mut renamed = ship_to("US", Some("CA"));
    if let CartAction::SetShipping { name, .. } = &mut renamed {
        *name = "Grace".into();
    }
    assert!(!plan_ok(&shipped, &renamed, &catalog).is_noop());
    // No destination: other actions leave shipping and tax alone.
    let plain = plan_ok(&cart, &set(1, 2), &catalog);
    assert_eq!(
        (plain.shipping_options.clone(), plain.tax_rates.clone()),
        (None, None)
    );
    assert!(!plain.changes_shipping);
}

#[test]
fn crossing_the_free_shipping_tier_switches_the_options_and_added_items_are_taxed() {
    let catalog = shop_with_shipping();
    let cart = one_off(vec![item(1, "price_tee", None, 1)]);
    let mut next_id = 10;
    let shipped = apply(
        &cart,
        &plan_ok(&cart, &ship_to("US", None), &catalog),
        &mut next_id,
    );
    // Two T-shirts = $50: free shipping (the gift added alongside does not count).
    let up = plan_ok(&shipped, &set(1, 2), &catalog);
    assert_eq!(
        options_of(&up),
        vec![
            ("Free shipping".to_owned(), 0),
            ("Express".to_owned(), 1_000)
        ]
    );
    assert_eq!(up.tax_rates, Some(vec!["txr_us".to_owned()]));
    assert!(
        up.shipping_details.is_none(),
        "details are only sent when they change"
    );
    // Adding the mug to a taxed cart: the new line carries the rate too (same list for all).
    let with_mug = plan_ok(&shipped, &add("price_mug"), &catalog);
    assert!(with_mug.changes_cart);
    assert_eq!(with_mug.tax_rates, Some(vec!["txr_us".to_owned()]));
    // A subscription has a destination for tax, but Stripe allows no shipping options there.
    let sub = session(vec![item(
        1,
        "price_p0_month",
        Some(RecurringInterval::Month),
        1,
    )]);
    let sub_plan = plan_ok(&sub, &ship_to("US", None), &catalog);
    assert_eq!(sub_plan.shipping_options, None);
    assert_eq!(sub_plan.tax_rates, Some(vec!["txr_us".to_owned()]));
}

#[test]
fn the_paid_subtotal_ignores_the_gift_and_counts_planned_quantities() {
    let catalog = shop_with_rules();
    let cart = one_off(vec![
        item(1, "price_tee", None, 2),
        item(2, "price_gift", None, 1),
    ]);
    let planned = vec![
        PlannedLineItem::Update {
            id: LineItemId::parse("li_1").unwrap(),
            quantity: 3,
        },
        keep(2),
        PlannedLineItem::Add {
            price: price("price_mug"),
            quantity: 2,
        },
    ];
    assert_eq!(
        paid_subtotal(&cart, &planned, &catalog),
        3 * 2_500 + 2 * 1_200
    );
}

proptest! {
    #[test]
    fn with_a_destination_the_options_always_match_the_tier_table(
        actions in prop::collection::vec(arb_action(), 1..12),
        state in prop_oneof![Just(None), Just(Some("CA")), Just(Some("NY"))],
    ) {
        let catalog = shop_with_shipping();
        let start = one_off(vec![item(1, "price_tee", None, 1), item(2, "price_sticker", None, 1)]);
        let mut next_id = 100;
        let first = plan(&start, &ship_to("US", state), &catalog, GA).unwrap();
        let mut cart = apply(&start, &first, &mut next_id);
        let rate = if state == Some("CA") { "txr_ca" } else { "txr_us" };
        for action in actions {
            let Ok(plan) = plan(&cart, &action, &catalog, GA) else { continue };
            cart = apply(&cart, &plan, &mut next_id);
            let paid: i64 = cart.line_items.iter()
                .filter(|li| li.price.id.as_str() != "price_gift")
                .map(|li| amount_of(li.price.id.as_str()) * li.quantity as i64)
                .sum();
            let want: Vec<(String, i64)> = expected_options(paid).into_iter().map(|(n, a)| (n.to_owned(), a)).collect();
            prop_assert_eq!(options_of(&plan), want.clone(), "paid {}", paid);
            let have: Vec<(String, i64)> = cart.shipping_options.iter()
                .map(|o| (o.display_name.clone().unwrap_or_default(), o.amount)).collect();
            prop_assert_eq!(have, want);
            prop_assert!(cart.line_items.iter().all(|li| li.tax_rates == [rate]));
            // Planning the same cart again changes nothing.
            if let CartAction::AddOffer(_) = action {
                let again = super::plan(&cart, &action, &catalog, GA);
                if let Ok(again) = again {
                    prop_assert!(again.is_noop(), "{:?}", again);
                }
            }
        }
    }
}

mod limits;
