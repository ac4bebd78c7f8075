//! The product against Stripe as Stripe behaves (the emulator checked against Stripe's sources,
//! infra/stripe-emulator/README.md): failures saved under an Idempotency-Key, and includable
//! fields that are absent unless expanded.

use e2e_tests::lifecycle::wait_until;
use e2e_tests::{Endpoint, Reply, Result, Stack, Stock, GA_VERSION, TEE_SKU};
use serde_json::{json, Value};
use std::time::Duration;

fn created(stack: &Stack, items: &[(&str, i64)]) -> Result<(String, String)> {
    let reply = stack.create_cart(items, None)?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let session = &reply.body["session"];
    let id = session["id"].as_str().ok_or("id")?.to_owned();
    let line = session["line_items"][0]["id"]
        .as_str()
        .ok_or("line item id")?
        .to_owned();
    Ok((id, line))
}

fn set_quantity(stack: &Stack, id: &str, line: &str, quantity: u64, key: &str) -> Result<Reply> {
    let body = json!({ "checkout_session_id": id, "line_item_id": line, "quantity": quantity });
    stack.functions.call(
        Endpoint::UpdateQuantity,
        &body.to_string(),
        &[("Idempotency-Key", key)],
    )
}

/// The client a shopper's browser runs: the same key until a final answer, at most `attempts`.
fn until_final(attempts: usize, send: &dyn Fn() -> Result<Reply>) -> Result<(Reply, usize)> {
    for attempt in 1..=attempts {
        let reply = send()?;
        if reply.status < 500 && reply.status != 409 {
            return Ok((reply, attempt));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("no final answer after {attempts} attempts").into())
}

/// Stripe's `POST` requests to `path` that Stripe answered from a saved result.
fn replays(stack: &Stack, path: &str) -> Result<Vec<Value>> {
    Ok(stack
        .stripe
        .requests()?
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == path && r["idempotent_replayed"] == true)
        .collect())
}

fn tees_in_cart(stack: &Stack, id: &str) -> Result<u64> {
    let session = stack.stripe.session(id)?;
    Ok(session["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|li| li["price"]["id"] == stack.catalog.tee.as_str())
        .map(|li| li["quantity"].as_u64().unwrap_or(0))
        .sum())
}

#[test]
fn a_change_whose_stripe_writes_got_saved_500s_reaches_200_by_the_clients_keyed_retries() -> Result
{
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    let (id, line) = created(&stack, &[(&c.tee, 1)])?;
    let path = format!("/v1/checkout/sessions/{id}");
    // Three writes in a row fail with a 500 Stripe saves under their key (its default for a 500).
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": path, "status": 500, "count": 3
    }))?;

    let (reply, attempts) = until_final(4, &|| set_quantity(&stack, &id, &line, 3, "click-1"))?;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(attempts <= 2, "{attempts} attempts");
    assert_eq!(tees_in_cart(&stack, &id)?, 3);
    let Stock {
        available: _,
        held,
        sold: _,
        received: _,
    } = stack.dynamo.stock(TEE_SKU)?;
    assert_eq!(held, 3, "holds equal the cart");
    // No attempt reused a key Stripe had saved a failure under.
    assert_eq!(replays(&stack, &path)?, Vec::<Value>::new());
    Ok(())
}

#[test]
fn a_create_whose_stripe_writes_got_saved_500s_converges_on_one_session_holding_the_stock() -> Result
{
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": "/v1/checkout/sessions", "status": 500, "count": 3
    }))?;

    let (reply, attempts) =
        until_final(4, &|| stack.create_cart(&[(&c.tee, 2)], Some("new-cart-1")))?;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(attempts <= 2, "{attempts} attempts");
    let created: Vec<Value> = stack
        .stripe
        .requests()?
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/checkout/sessions")
        .filter(|r| r["status"] == 200)
        .collect();
    assert_eq!(created.len(), 1, "one session: {created:?}");
    assert_eq!(
        replays(&stack, "/v1/checkout/sessions")?,
        Vec::<Value>::new()
    );
    let Stock {
        available,
        held,
        sold: _,
        received: _,
    } = stack.dynamo.stock(TEE_SKU)?;
    assert_eq!((available, held), (8, 2), "one set of holds");
    // The same key again is the stored answer.
    let again = stack.create_cart(&[(&c.tee, 2)], Some("new-cart-1"))?;
    assert!(again.replayed);
    assert_eq!(again.body, reply.body);
    Ok(())
}

#[test]
fn with_a_destination_a_change_that_changes_nothing_sends_stripe_no_update() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    let (id, line) = created(&stack, &[(&c.tee, 2), (&c.sticker, 1)])?;
    let shipped = stack.update_shipping(&id, "US", Some("CA"))?;
    assert_eq!(shipped.status, 200, "{}", shipped.body);
    let updates = stack.stripe.session_updates(&id)?.len();

    // The items carry California's rate: only a read that expands their taxes sees it.
    for n in 0..3 {
        let same = set_quantity(&stack, &id, &line, 2, &format!("same-{n}"))?;
        assert_eq!(same.status, 200, "{}", same.body);
    }
    let again = stack.update_shipping(&id, "US", Some("CA"))?;
    assert_eq!(again.status, 200, "{}", again.body);

    assert_eq!(stack.stripe.session_updates(&id)?.len(), updates);
    Ok(())
}

#[test]
fn after_an_applied_update_whose_answer_was_lost_the_retry_sends_nothing_and_gives_back_the_surplus(
) -> Result {
    let stack = Stack::start(
        GA_VERSION,
        &[
            ("STRIPE_TIMEOUT_MS", "400"),
            ("STRIPE_LATE_WRITE_MS", "1500"),
        ],
    )?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    let (id, line) = created(&stack, &[(&c.tee, 3), (&c.sticker, 1)])?;
    assert_eq!(stack.update_shipping(&id, "US", Some("CA"))?.status, 200);
    // Every attempt of the next write answers too late to wait for, but Stripe applies it.
    let path = format!("/v1/checkout/sessions/{id}");
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": path, "latency_ms": 600, "count": 3
    }))?;
    let lost = set_quantity(&stack, &id, &line, 1, "fewer")?;
    assert_eq!(lost.status, 502, "{}", lost.body);
    // The function may give up (its retries refused while the first attempt still runs) a moment
    // before Stripe finishes that attempt: Stripe applies it, only not yet.
    wait_until(Duration::from_secs(5), "Stripe applied it", || {
        Ok((tees_in_cart(&stack, &id)? == 1).then_some(()))
    })?;
    let Stock {
        available: _,
        held,
        sold: _,
        received: _,
    } = stack.dynamo.stock(TEE_SKU)?;
    assert_eq!(held, 3, "the holds still cover the larger cart");
    let updates = stack.stripe.session_updates(&id)?.len();

    std::thread::sleep(Duration::from_millis(1_600));
    let retry = set_quantity(&stack, &id, &line, 1, "fewer")?;

    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(
        stack.stripe.session_updates(&id)?.len(),
        updates,
        "nothing sent"
    );
    let Stock {
        available: _,
        held,
        sold: _,
        received: _,
    } = stack.dynamo.stock(TEE_SKU)?;
    assert_eq!(held, 1, "the surplus is given back");
    Ok(())
}

#[test]
fn stripe_should_retry_is_honoured_both_ways() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    stack.dynamo.receive(TEE_SKU, 10)?;
    let c = &stack.catalog;
    let (id, line) = created(&stack, &[(&c.tee, 1)])?;
    let path = format!("/v1/checkout/sessions/{id}");
    let posts = |stack: &Stack| -> Result<Vec<Value>> { stack.stripe.session_updates(&id) };

    // A 500 Stripe did not save ("Stripe-Should-Retry: true"): the same key again, at once.
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": path, "status": 500, "saved": false, "count": 1
    }))?;
    let reply = set_quantity(&stack, &id, &line, 2, "retry-yes")?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let sent = posts(&stack)?;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0]["idempotency_key"], sent[1]["idempotency_key"]);

    // "Stripe-Should-Retry: false" on a 429, which is otherwise retried with its key: never that
    // key again; the cart is read again and written under a new one.
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": path, "status": 429, "should_retry": false, "count": 1
    }))?;
    let reply = set_quantity(&stack, &id, &line, 3, "retry-no")?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let sent = posts(&stack)?;
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(sent[2]["status"], 429);
    assert_ne!(sent[2]["idempotency_key"], sent[3]["idempotency_key"]);
    Ok(())
}
