//! release-holds end to end: when a session's webhook never arrives, the scheduled sweeper settles
//! its holds by what Stripe says — sold when complete, released when expired, left while open.

use e2e_tests::{Result, Stack, Stock, GA_VERSION, TEE_SKU};
use serde_json::json;

/// A session from create-session holding `tees` T-shirts; returns (session id, reservation).
fn created(stack: &Stack, tees: i64) -> Result<(String, String)> {
    let c = &stack.catalog;
    let id = stack.new_cart(&[(&c.monthly, 1), (&c.tee, tees)])?;
    let reservation = stack.stripe.session(&id)?["metadata"]["cart_reservation"]
        .as_str()
        .ok_or("reservation")?
        .to_owned();
    Ok((id, reservation))
}

#[test]
fn lost_webhooks_are_repaired_by_the_sweeper() -> Result {
    // No webhook endpoint is connected: every checkout.session.* event is lost.
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let (completed, completed_rsv) = created(&stack, 2)?;
    let (expired, expired_rsv) = created(&stack, 3)?;
    let (_open, open_rsv) = created(&stack, 1)?;
    stack.stripe.complete_session(&completed)?;
    stack.stripe.expire_session(&expired, GA_VERSION)?;
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 4,
            held: 6,
            sold: 0,
            received: 10
        },
        "nothing settled yet"
    );

    // Time passes: every hold is past its expiry.
    for rsv in [&completed_rsv, &expired_rsv, &open_rsv] {
        stack.dynamo.expire_hold(rsv, TEE_SKU)?;
    }
    let report = stack.functions.invoke("release-holds", &json!({}))?;

    assert_eq!(report["units_sold"], 2, "{report}");
    assert_eq!(report["units_released"], 3, "{report}");
    assert_eq!(report["holds_left_open"], 1, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 7,
            held: 1,
            sold: 2,
            received: 10
        }
    );

    // A second run changes nothing but what is still open.
    let again = stack.functions.invoke("release-holds", &json!({}))?;
    assert_eq!(
        (
            again["units_sold"].as_u64(),
            again["units_released"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 7,
            held: 1,
            sold: 2,
            received: 10
        }
    );
    Ok(())
}
