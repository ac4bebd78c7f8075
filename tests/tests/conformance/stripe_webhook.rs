//! stripe-webhook's answers: every one the spec lists, each delivery signed (or not) on purpose.

use super::seen::Seen;
use super::{concurrent_stack, session_id, while_one_is_slow};
use e2e_tests::openapi::Spec;
use e2e_tests::{now_s, stripe_signature, Endpoint, Reply, Result, TEE_SKU, WEBHOOK_SECRET};
use serde_json::json;

/// A fresh `Stripe-Signature` for `payload` with the stack's webhook secret.
fn signed(payload: &str) -> Result<String> {
    stripe_signature(payload, WEBHOOK_SECRET, now_s())
}

#[test]
fn openapi_every_stripe_webhook_answer_conforms() -> Result {
    let spec = Spec::load();
    let stack = concurrent_stack()?;
    stack.dynamo.receive(TEE_SKU, 5)?;
    let c = &stack.catalog;
    let mut seen = Seen::new(Endpoint::StripeWebhook);
    // A session of this app holding a T-shirt, and its reservation.
    let held = || -> Result<(String, String)> {
        let created = stack.create_cart(&[(&c.tee, 1)], None)?;
        let id = session_id(&created.body["session"])?;
        let session = stack.stripe.session(&id)?;
        let reservation = session["metadata"]["cart_reservation"]
            .as_str()
            .ok_or("reservation")?;
        Ok((id, reservation.to_owned()))
    };
    let event = |id: &str, kind: &str, session: &str, reservation: &str| {
        json!({
            "id": id, "object": "event", "type": kind,
            "data": { "object": { "id": session, "object": "checkout.session",
                                  "metadata": { "cart_reservation": reservation } } }
        })
        .to_string()
    };
    let mut post = |what: &str, payload: &str, signature: Option<&str>| -> Result<Reply> {
        let signed = match signature {
            Some(given) => given.to_owned(),
            None => signed(payload)?,
        };
        seen.post(
            &spec,
            &stack,
            what,
            payload,
            &[("Stripe-Signature", &signed)],
        )
    };

    let (id, reservation) = held()?;
    let expired = event("evt_conf_1", "checkout.session.expired", &id, &reservation);
    post("unsigned", &expired, Some(""))?;
    post("wrong signature", &expired, Some("t=1,v1=00"))?;
    post("signed, not JSON", "{", None)?;
    let other = event("evt_conf_2", "customer.created", &id, &reservation);
    post("an event this app ignores", &other, None)?;
    let released = post("expired session", &expired, None)?;
    let again = post("redelivery", &expired, None)?;
    assert!(
        again.replayed && again.body == released.body,
        "{}",
        again.body
    );
    let (sold, sold_reservation) = held()?;
    let completed = event(
        "evt_conf_3",
        "checkout.session.completed",
        &sold,
        &sold_reservation,
    );
    post("completed session", &completed, None)?;
    let unknown = event(
        "evt_conf_4",
        "checkout.session.expired",
        "cs_test_doesNotExist0000",
        &reservation,
    );
    post("session Stripe does not know", &unknown, None)?;

    let (refused, refused_reservation) = held()?;
    stack.stripe.inject_fault(&json!({
        "method": "GET", "path_prefix": format!("/v1/checkout/sessions/{refused}"),
        "status": 400, "count": 1
    }))?;
    let refused_event = event(
        "evt_conf_5",
        "checkout.session.expired",
        &refused,
        &refused_reservation,
    );
    post("Stripe refuses the read", &refused_event, None)?;
    let (down, down_reservation) = held()?;
    stack.stripe.inject_fault(&json!({
        "path_prefix": format!("/v1/checkout/sessions/{down}"), "status": 500
    }))?;
    let down_event = event(
        "evt_conf_6",
        "checkout.session.expired",
        &down,
        &down_reservation,
    );
    post("Stripe unavailable", &down_event, None)?;

    let (slow, slow_reservation) = held()?;
    let first = event(
        "evt_conf_7",
        "checkout.session.expired",
        &slow,
        &slow_reservation,
    );
    let second = event(
        "evt_conf_8",
        "checkout.session.expired",
        &slow,
        &slow_reservation,
    );
    let (first_sig, second_sig) = (signed(&first)?, signed(&second)?);
    let first_sig: &[(&str, &str)] = &[("Stripe-Signature", &first_sig)];
    let second_sig: &[(&str, &str)] = &[("Stripe-Signature", &second_sig)];
    let [first, twin, other] = while_one_is_slow(
        &stack,
        Endpoint::StripeWebhook,
        ("GET", &format!("/v1/checkout/sessions/{slow}")),
        (&first, first_sig),
        (&first, first_sig),
        (&second, second_sig),
    )?;
    seen.record(&spec, "slow delivery", "POST", &first);
    seen.record(&spec, "redelivery while the first runs", "POST", &twin);
    twin.assert_error(409, "request_in_progress");
    seen.record(&spec, "another event of that session", "POST", &other);
    other.assert_error(409, "session_busy");

    seen.finish(&spec, &stack, &[])
}
