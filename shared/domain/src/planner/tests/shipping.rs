//! Shipping destinations, the tier options of the subtotal, and tax on every line.

use super::*;

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
