//! Well-formed requests the cart refuses: its business rules, sessions Stripe does not know,
//! expired or completed sessions, and other integrations' sessions.

use super::case::Case;
use super::fields::valid_body;
use super::fixtures::{Fixtures, Target, FOREIGN_PRICES, MISSING_ITEM};
use crate::Endpoint;
use serde_json::json;

/// Well-formed requests the cart rules refuse: refused with nothing held or sent to Stripe.
pub(super) fn business_cases(f: &Fixtures) -> Vec<Case> {
    let c = &f.catalog;
    let own = &f.own;
    let quantity = |item: &str, quantity: i64| {
        json!({ "checkout_session_id": own.id, "line_item_id": item, "quantity": quantity })
            .to_string()
    };
    let plan = own.items.first().map_or(MISSING_ITEM, String::as_str);
    let offer =
        |price: &str| json!({ "checkout_session_id": own.id, "price_id": price }).to_string();
    let mut ship = valid_body(Endpoint::UpdateShipping, own, f);
    ship["shipping_details"]["address"]["country"] = json!("FR");
    let create = |price: &str, quantity: i64| {
        json!({ "items": [ { "price": price, "quantity": quantity } ] }).to_string()
    };
    vec![
        Case::post(Endpoint::UpdateQuantity, "business-rules", "above the product's bounds")
            .body(quantity(own.item(), 6))
            .exactly(422, "quantity_out_of_range"),
        Case::post(Endpoint::UpdateQuantity, "business-rules", "Stripe's maximum")
            .body(quantity(own.item(), 999_999))
            .exactly(422, "quantity_out_of_range"),
        Case::post(Endpoint::UpdateQuantity, "business-rules", "remove the plan")
            .body(quantity(plan, 0))
            .exactly(422, "cannot_remove_last_item"),
        Case::post(Endpoint::UpdateQuantity, "nonexistent", "item of another session")
            .body(quantity(f.expired.item(), 1))
            .exactly(404, "line_item_not_found"),
        Case::post(Endpoint::UpdateQuantity, "nonexistent", "item that does not exist")
            .body(quantity(MISSING_ITEM, 1))
            .exactly(404, "line_item_not_found"),
        Case::post(Endpoint::AddCrossSell, "business-rules", "not an offer")
            .body(offer(&c.sticker))
            .exactly(422, "offer_not_available"),
        Case::post(Endpoint::AddCrossSell, "business-rules", "offer of the other interval")
            .body(offer(&c.support_yearly))
            .exactly(422, "offer_not_available"),
        Case::post(Endpoint::AddCrossSell, "business-rules", "a price outside the catalog")
            .body(offer(FOREIGN_PRICES[0]))
            .exactly(422, "offer_not_available"),
        Case::post(Endpoint::UpdateShipping, "business-rules", "a country not served")
            .body(ship.to_string())
            .exactly(422, "destination_not_supported"),
        Case::post(Endpoint::CreateSession, "business-rules", "above the product's bounds")
            .body(create(&c.tee, 6))
            .exactly(422, "quantity_out_of_range"),
        Case::post(Endpoint::CreateSession, "business-rules", "a price outside the catalog")
            .body(create(FOREIGN_PRICES[0], 1))
            .exactly(422, "offer_not_available"),
        Case::post(Endpoint::CreateSession, "business-rules", "21 items")
            .body(
                json!({ "items": (0..21).map(|n| json!({ "price": format!("price_{n}"), "quantity": 1 }))
                    .collect::<Vec<_>>() })
                .to_string(),
            )
            .exactly(400, "invalid_request"),
    ]
}

pub(super) fn session_state_cases(endpoint: Endpoint, f: &Fixtures) -> Vec<Case> {
    let mut cases = Vec::new();
    for (prefix, category) in [("cs_test_", "nonexistent"), ("cs_live_", "nonexistent")] {
        let mut target = f.missing.clone();
        target.id = format!("{prefix}hostileSessionThatDoesNotExist0000");
        cases.push(
            Case::post(
                endpoint,
                category,
                format!("a {prefix}… session Stripe does not know"),
            )
            .body(valid_body(endpoint, &target, f).to_string())
            .exactly(404, "session_not_found"),
        );
    }
    let mut refused: Vec<(String, &Target, &'static str)> = vec![
        (
            "an expired session".into(),
            &f.expired,
            "expired-or-completed",
        ),
        (
            "a completed session".into(),
            &f.completed,
            "expired-or-completed",
        ),
    ];
    for (label, target) in &f.foreign {
        refused.push((
            format!("another integration's session: {label}"),
            target,
            "other-integration",
        ));
    }
    for (name, target, category) in refused {
        cases.push(
            Case::post(endpoint, category, name)
                .body(valid_body(endpoint, target, f).to_string())
                .exactly(409, "session_not_updatable"),
        );
    }
    cases
}
