//! Inventory under load and under faults, against function instances that really run in
//! parallel: no oversell, `available + held + sold == received` exactly, and no hold left behind
//! once every session has completed or expired.

use e2e_tests::{
    in_parallel, line_item_ids, Endpoint, Reply, Result, Rng, Stack, Stock, GA_VERSION, TEE_SKU,
};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// T-shirts in each session's cart, according to Stripe.
fn tees_in_carts(stack: &Stack, sessions: &[(String, String)]) -> Result<u64> {
    let mut total = 0;
    for (id, _) in sessions {
        let session = stack.stripe.session(id)?;
        for item in session["line_items"]["data"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if item["price"]["id"] == stack.catalog.tee.as_str() {
                total += item["quantity"].as_u64().unwrap_or(0);
            }
        }
    }
    Ok(total)
}

/// Each session's T-shirt hold next to its cart's T-shirts, for diagnosing a mismatch.
fn holds_and_carts(stack: &Stack, sessions: &[(String, String)]) -> Result<Vec<(u64, u64)>> {
    let mut pairs = Vec::new();
    for session in sessions {
        let stored = stack.stripe.session(&session.0)?;
        let reservation = stored["metadata"]["cart_reservation"]
            .as_str()
            .unwrap_or_default();
        let hold = stack
            .dynamo
            .get("InventoryTable", &format!("hold#{reservation}#{TEE_SKU}"))?;
        let held = hold["quantity"]["N"]
            .as_str()
            .and_then(|q| q.parse().ok())
            .unwrap_or(0);
        pairs.push((held, tees_in_carts(stack, std::slice::from_ref(session))?));
    }
    Ok(pairs)
}

fn wait_until_nothing_held(stack: &Stack) -> Result<Stock> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stock = stack.dynamo.stock(TEE_SKU)?;
        if stock.held == 0 || Instant::now() > deadline {
            return Ok(stock);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Completes every other session and expires the rest (webhooks settle them); returns how many
/// T-shirts the completed carts bought.
fn finish_all(stack: &Stack, sessions: &[(String, String)]) -> Result<u64> {
    let mut bought = 0;
    for (n, (id, _)) in sessions.iter().enumerate() {
        if n % 2 == 0 {
            bought += tees_in_carts(stack, &[(id.clone(), String::new())])?;
            stack.stripe.complete_session(id)?;
        } else {
            stack.stripe.expire_session(id, GA_VERSION)?;
        }
    }
    Ok(bought)
}

#[test]
fn two_hundred_concurrent_changes_over_twenty_four_sessions_never_oversell() -> Result {
    const STOCK: u64 = 30;
    let stack = Stack::builder(GA_VERSION).instances(4).start()?;
    stack.dynamo.receive(TEE_SKU, STOCK)?;
    stack.connect_webhooks()?;
    let c = &stack.catalog;

    // 24 carts of one T-shirt each, created concurrently.
    let creates: Vec<Box<dyn FnOnce() -> Result<Reply> + Send>> = (0..24)
        .map(|_| Box::new(|| stack.create_cart(&[(&c.monthly, 1), (&c.tee, 1)], None)) as Box<_>)
        .collect();
    let mut sessions = Vec::new();
    for reply in in_parallel(8, creates) {
        let reply = reply?;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let id = reply.body["session"]["id"].as_str().ok_or("id")?.to_owned();
        let tee_line = line_item_ids(&stack.stripe.session(&id)?)[1].clone();
        sessions.push((id, tee_line));
    }
    assert_eq!(
        stack.dynamo.stock(TEE_SKU)?,
        Stock {
            available: STOCK - 24,
            held: 24,
            sold: 0,
            received: STOCK
        }
    );

    // 200 quantity changes at once, asking for far more than the 6 T-shirts left.
    let mut rng = Rng(42);
    let changes: Vec<Box<dyn FnOnce() -> Result<Reply> + Send>> = (0..200)
        .map(|_| {
            let (id, line) = sessions[rng.below(sessions.len())].clone();
            // 1 to 6 (6 is out of bounds); removals are tested elsewhere and would turn later
            // changes of the same item into 404s.
            let quantity = i64::try_from(1 + rng.below(6)).unwrap_or(1);
            let stack = &stack;
            Box::new(move || stack.update_quantity(&id, &line, quantity)) as Box<_>
        })
        .collect();
    let started = Instant::now();
    let replies = in_parallel(16, changes);
    let elapsed = started.elapsed();
    let mut statuses = std::collections::BTreeMap::new();
    for reply in replies {
        let reply = reply?;
        assert!(
            matches!(reply.status, 200 | 409 | 422),
            "{}: {}",
            reply.status,
            reply.body
        );
        *statuses.entry(reply.status).or_insert(0) += 1;
    }
    eprintln!("200 concurrent update-quantity in {elapsed:?}: {statuses:?}");

    // Exactly what the carts hold is held, and nothing more was promised than there is.
    let stock = stack.dynamo.stock(TEE_SKU)?;
    stock.assert_balanced(TEE_SKU);
    assert_eq!(
        stock.held,
        tees_in_carts(&stack, &sessions)?,
        "holds match the carts exactly; per session (hold, cart): {:?}",
        holds_and_carts(&stack, &sessions)?
    );
    assert!(stock.held <= STOCK);

    let instances: HashSet<_> = stack
        .functions
        .responses_logged()
        .iter()
        .filter(|l| l["function"] == "update-quantity")
        .map(|l| l["instance"].clone())
        .collect();
    assert!(
        instances.len() >= 2,
        "requests spread over instances {instances:?}"
    );

    // Every session ends: completed ones sell their carts, expired ones give stock back.
    let bought = finish_all(&stack, &sessions)?;
    let Stock {
        available,
        held,
        sold,
        received,
    } = wait_until_nothing_held(&stack)?;
    assert_eq!(held, 0, "no hold leaked");
    assert_eq!(sold, bought, "sold == quantities bought");
    assert_eq!(available + sold, received);
    Ok(())
}

#[test]
fn with_a_third_of_stripe_calls_failing_retries_converge_and_nothing_leaks() -> Result {
    const STOCK: u64 = 40;
    let stack = Stack::builder(GA_VERSION)
        .env(&[("STRIPE_TIMEOUT_MS", "500")])
        .instances(2)
        .start()?;
    stack.dynamo.receive(TEE_SKU, STOCK)?;
    let c = &stack.catalog;
    // ~30 % of Stripe calls fail: 500s, 429s and answers too slow to wait for.
    for rule in [
        json!({ "path_prefix": "/v1/checkout", "status": 500, "probability": 0.15 }),
        json!({ "path_prefix": "/v1/checkout", "status": 429, "probability": 0.1 }),
        json!({ "path_prefix": "/v1/checkout", "latency_ms": 800, "probability": 0.07 }),
    ] {
        stack.stripe.inject_fault(&rule)?;
    }

    // A client that retries with the same Idempotency-Key until it gets a final answer.
    let until_final = |send: &dyn Fn() -> Result<Reply>| -> Result<Reply> {
        for _ in 0..12 {
            let reply = send()?;
            if reply.status < 500 && reply.status != 409 {
                return Ok(reply);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("no final answer after 12 attempts".into())
    };
    let mut sessions = Vec::new();
    for n in 0..8 {
        let key = format!("fault-cart-{n}");
        let reply =
            until_final(&|| stack.create_cart(&[(&c.monthly, 1), (&c.tee, 2)], Some(&key)))?;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let id = reply.body["session"]["id"].as_str().ok_or("id")?.to_owned();
        let line = reply.body["session"]["line_items"][1]["id"]
            .as_str()
            .ok_or("li")?
            .to_owned();
        sessions.push((id, line));
    }
    let mut rng = Rng(7);
    for n in 0..24 {
        let (id, line) = &sessions[rng.below(sessions.len())];
        let quantity = i64::try_from(rng.below(6)).unwrap_or(1);
        let key = format!("fault-change-{n}");
        let body = json!({ "checkout_session_id": id, "line_item_id": line, "quantity": quantity });
        let reply = until_final(&|| {
            stack.functions.call(
                Endpoint::UpdateQuantity,
                &body.to_string(),
                &[("Idempotency-Key", &key)],
            )
        })?;
        assert!(
            matches!(reply.status, 200 | 404 | 409 | 422),
            "{}: {}",
            reply.status,
            reply.body
        );
    }
    let failures = stack
        .stripe
        .requests()?
        .iter()
        .filter(|r| r["status"].as_u64().is_some_and(|s| s >= 429))
        .count();
    assert!(failures > 0, "the faults were really injected");

    // Stripe heals (the test's own reads would otherwise hit the faults too).
    stack.stripe.clear_faults()?;
    // Holds never fell below the carts (no oversell possible) ...
    let stock = stack.dynamo.stock(TEE_SKU)?;
    stock.assert_balanced(TEE_SKU);
    assert!(
        stock.held >= tees_in_carts(&stack, &sessions)?,
        "holds cover every cart"
    );

    // ... and once every session has ended, nothing is held any more.
    stack.connect_webhooks()?;
    let bought = finish_all(&stack, &sessions)?;
    let Stock {
        available,
        held,
        sold,
        received,
    } = wait_until_nothing_held(&stack)?;
    assert_eq!(held, 0, "no hold leaked");
    assert_eq!(sold, bought);
    assert_eq!(available + sold, received);
    Ok(())
}
