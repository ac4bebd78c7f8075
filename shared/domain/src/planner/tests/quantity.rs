//! Setting one item's quantity: bounds, removal, and the stock it moves.

use super::*;

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
