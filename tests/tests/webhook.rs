//! POST /stripe-webhook end to end: the Stripe emulator signs and delivers events to the
//! function, which settles the session's stock holds in DynamoDB exactly once.

use e2e_tests::{
    now_s, stripe_signature, Endpoint, Result, Stack, Stock, GA_VERSION, TEE_SKU, WEBHOOK_SECRET,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A session created through create-session holding the plan and `tees` T-shirts.
fn created(stack: &Stack, tees: i64) -> Result<String> {
    let c = &stack.catalog;
    stack.new_cart(&[(&c.monthly, 1), (&c.tee, tees)])
}

fn wait_for_stock(stack: &Stack, want: Stock) -> Result {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let stock = stack.dynamo.stock(TEE_SKU)?;
        if stock == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("stock {stock:?}, wanted {want:?}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn control(stack: &Stack, path: &str, body: &Value) -> Result<Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{}{path}", stack.stripe.base))
        .send_json(body)?;
    Ok(serde_json::from_str(
        &response.body_mut().read_to_string()?,
    )?)
}

#[test]
fn a_completed_session_sells_its_held_stock_once_even_when_delivered_twice() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    stack.connect_webhooks()?;
    let id = created(&stack, 2)?;
    let tee_line = stack.stripe.session(&id)?["line_items"]["data"][1]["id"]
        .as_str()
        .ok_or("li")?
        .to_owned();
    assert_eq!(stack.update_quantity(&id, &tee_line, 3)?.status, 200);
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 2,
            held: 3,
            sold: 0,
            received: 5
        }
    );

    control(
        &stack,
        &format!("/_emulator/checkout/sessions/{id}/complete"),
        &json!({}),
    )?;

    wait_for_stock(
        &stack,
        Stock {
            available: 2,
            held: 0,
            sold: 3,
            received: 5,
        },
    )?;
    // Stripe delivers again (a duplicate): nothing moves twice.
    let events = stack
        .stripe
        .get("/v1/events?type=checkout.session.completed", GA_VERSION)?
        .1;
    let event_id = events["data"][0]["id"].as_str().ok_or("event id")?;
    control(
        &stack,
        &format!("/_emulator/events/{event_id}/redeliver"),
        &json!({}),
    )?;
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 2,
            held: 0,
            sold: 3,
            received: 5
        }
    );
    let replays = stack
        .functions
        .responses_logged()
        .iter()
        .filter(|l| l["replayed"] == true)
        .count();
    assert!(
        replays >= 1,
        "the duplicate was answered from the stored outcome"
    );
    Ok(())
}

#[test]
fn an_expired_session_gives_its_stock_back() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    stack.connect_webhooks()?;
    let id = created(&stack, 2)?;
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 3,
            held: 2,
            sold: 0,
            received: 5
        }
    );

    let (status, _) = stack.stripe.post(
        &format!("/v1/checkout/sessions/{id}/expire"),
        &[],
        GA_VERSION,
    )?;
    assert_eq!(status, 200);

    wait_for_stock(
        &stack,
        Stock {
            available: 5,
            held: 0,
            sold: 0,
            received: 5,
        },
    )
}

#[test]
fn forged_stale_and_unsigned_deliveries_are_400_and_change_nothing() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    let id = created(&stack, 2)?;
    let event = json!({
        "id": "evt_forged_1", "object": "event", "type": "checkout.session.completed",
        "data": { "object": { "id": id, "object": "checkout.session",
                              "metadata": stack.stripe.session(&id)?["metadata"] } }
    })
    .to_string();
    let cases = [
        (
            "forged",
            stripe_signature(&event, "whsec_not_the_secret", now_s())?,
        ),
        (
            "stale",
            stripe_signature(&event, WEBHOOK_SECRET, now_s() - 3_600)?,
        ),
        ("garbled", "t=abc,v1=zz".to_owned()),
    ];
    for (what, header) in cases {
        let reply = stack.functions.call(
            Endpoint::StripeWebhook,
            &event,
            &[("Stripe-Signature", &header)],
        )?;
        assert_eq!(reply.status, 400, "{what}");
        reply.assert_error(400, "invalid_signature");
    }
    let unsigned = stack.functions.call(Endpoint::StripeWebhook, &event, &[])?;
    assert_eq!(unsigned.status, 400);
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: 3,
            held: 2,
            sold: 0,
            received: 5
        },
        "nothing sold by a forgery"
    );

    // The same body, properly signed and fresh, is accepted: the checks above were the signature.
    let good = stack.functions.call(
        Endpoint::StripeWebhook,
        &event,
        &[(
            "Stripe-Signature",
            &stripe_signature(&event, WEBHOOK_SECRET, now_s())?,
        )],
    )?;
    assert_eq!(good.status, 200, "{}", good.body);
    let ignored = json!({ "id": "evt_other", "type": "invoice.paid", "data": { "object": { "id": "in_1" } } })
        .to_string();
    let reply = stack.functions.call(
        Endpoint::StripeWebhook,
        &ignored,
        &[(
            "Stripe-Signature",
            &stripe_signature(&ignored, WEBHOOK_SECRET, now_s())?,
        )],
    )?;
    assert_eq!(
        (reply.status, reply.body["action"].as_str()),
        (200, Some("ignored"))
    );
    Ok(())
}
