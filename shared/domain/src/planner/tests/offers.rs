//! Cross-sells the shopper adds and the gift the paid subtotal earns.

use super::*;

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
