//! Properties over random sequences of actions: the rules hold after every step.

use super::*;

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

/// The options the tier table promises for a paid subtotal (the test's own reading of it).
fn expected_options(paid: i64) -> Vec<(&'static str, i64)> {
    if paid < 5_000 {
        vec![("Standard", 500), ("Express", 1_500)]
    } else {
        vec![("Free shipping", 0), ("Express", 1_000)]
    }
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
