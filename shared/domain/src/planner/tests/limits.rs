//! Stripe's line item limits per session, refused by the planner before any stock is held.

use super::*;
use crate::planner::limits::{MAX_PAYMENT_LINE_ITEMS, MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND};

fn filler(count: usize, first: usize) -> Vec<LineItemSnapshot> {
    (first..first + count)
        .map(|n| item(n, &format!("price_extra{n}"), None, 1))
        .collect()
}

#[test]
fn a_cross_sell_beyond_twenty_one_time_items_of_a_subscription_is_cart_too_large() {
    let catalog = shop_with_rules();
    let mut cart = session(filler(20, 100));
    cart.line_items
        .push(item(2, "price_p0_month", Some(RecurringInterval::Month), 1));

    let refused = plan(&cart, &add("price_mug"), &catalog, GA);

    assert_eq!(
        refused,
        Err(Rejection::CartTooLarge {
            kind: "one-time",
            count: 21,
            limit: MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND
        })
    );
    // A recurring add-on still fits: the two kinds are counted apart.
    assert!(plan_ok(&cart, &add("price_support_month"), &catalog).changes_cart);
}

#[test]
fn a_payment_cart_holds_at_most_one_hundred_items() {
    let catalog = shop_with_rules();
    let full = one_off(filler(MAX_PAYMENT_LINE_ITEMS, 100));
    assert!(matches!(
        plan(&full, &add("price_mug"), &catalog, GA),
        Err(Rejection::CartTooLarge { limit: 100, .. })
    ));
    // 98 items, the mug, and the gift their subtotal earns: 100.
    let room = one_off(filler(MAX_PAYMENT_LINE_ITEMS - 2, 100));
    assert!(plan_ok(&room, &add("price_mug"), &catalog).changes_cart);
}
