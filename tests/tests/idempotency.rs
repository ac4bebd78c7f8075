//! Idempotency keys and the per-session lease end to end: the built function, DynamoDB (moto) and
//! the Stripe emulator.

use e2e_tests::{Result, Stack, GA_VERSION};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn body(session_id: &str, interval: &str) -> String {
    json!({ "checkout_session_id": session_id, "interval": interval }).to_string()
}

fn open_session(stack: &Stack) -> Result<String> {
    let c = &stack.catalog;
    let created = stack.create_session(&[(&c.monthly, 1), (&c.sticker, 2)])?;
    Ok(created["id"].as_str().ok_or("session id")?.to_owned())
}

#[test]
fn a_repeated_key_replays_the_identical_response_with_one_stripe_update() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let id = open_session(&stack)?;

    let first = stack.change_interval_keyed(&body(&id, "yearly"), "order-7-yearly")?;
    let again = stack.change_interval_keyed(&body(&id, "yearly"), "order-7-yearly")?;

    assert_eq!(first.status, 200, "{}", first.body);
    assert!(!first.replayed);
    assert_eq!(again.status, 200);
    assert!(again.replayed, "Idempotent-Replayed: true");
    assert_eq!(again.body, first.body, "identical body");
    assert_eq!(
        stack.stripe.session_updates(&id)?.len(),
        1,
        "one Stripe update"
    );

    // Round-trip budget: claim + finish in DynamoDB, retrieve + update at Stripe.
    let logged = stack.functions.responses_logged();
    assert_eq!(logged[0]["dynamo_round_trips"], 2, "{logged:?}");
    assert_eq!(
        logged[1]["dynamo_round_trips"], 1,
        "a replay is one read-back"
    );
    let stripe_calls = stack
        .stripe
        .requests()?
        .into_iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with(&id)))
        .count();
    assert_eq!(stripe_calls, 2, "retrieve + update, nothing for the replay");
    Ok(())
}

#[test]
fn a_key_reused_with_a_different_body_is_a_422() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let id = open_session(&stack)?;
    assert_eq!(
        stack
            .change_interval_keyed(&body(&id, "yearly"), "k1")?
            .status,
        200
    );

    let reused = stack.change_interval_keyed(&body(&id, "monthly"), "k1")?;

    reused.assert_error(422, "idempotency_key_reused");
    assert_eq!(stack.stripe.session_updates(&id)?.len(), 1);
    Ok(())
}

#[test]
fn a_twin_sent_while_the_first_is_in_progress_gets_409_with_retry_after() -> Result {
    // Two instances, so the twin really runs while the first one waits on a slow Stripe.
    let stack = Stack::builder(GA_VERSION)
        .env(&[("IDEMPOTENCY_WAIT_MS", "300")])
        .instances(2)
        .start()?;
    let id = open_session(&stack)?;
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "latency_ms": 2500, "count": 1
    }))?;

    let (first, twin) = std::thread::scope(|scope| {
        let first = scope.spawn(|| stack.change_interval_keyed(&body(&id, "yearly"), "twin-key"));
        std::thread::sleep(Duration::from_millis(700));
        let twin = stack.change_interval_keyed(&body(&id, "yearly"), "twin-key");
        (first.join(), twin)
    });
    let (first, twin) = (first.map_err(|_| "first request panicked")??, twin?);

    twin.assert_error(409, "request_in_progress");
    assert_eq!(twin.retry_after.as_deref(), Some("1"));
    assert_eq!(first.status, 200, "{}", first.body);
    // Once the first has finished, the twin's retry is a replay.
    let retry = stack.change_interval_keyed(&body(&id, "yearly"), "twin-key")?;
    assert!(retry.replayed);
    assert_eq!(retry.body, first.body);
    assert_eq!(stack.stripe.session_updates(&id)?.len(), 1);
    Ok(())
}

#[test]
fn after_a_stripe_write_whose_answer_never_came_the_session_stays_busy_then_the_key_succeeds(
) -> Result {
    let stack = Stack::start(
        GA_VERSION,
        &[
            ("LEASE_WAIT_MS", "100"),
            ("STRIPE_LATE_WRITE_MS", "1500"),
            ("STRIPE_TIMEOUT_MS", "300"),
        ],
    )?;
    let id = open_session(&stack)?;
    // Every attempt answers after the function stopped waiting (Stripe still applies it).
    stack.stripe.inject_fault(&json!({
        "method": "POST", "path_prefix": format!("/v1/checkout/sessions/{id}"), "latency_ms": 700, "count": 3
    }))?;

    let failed = stack.change_interval_keyed(&body(&id, "yearly"), "retry-me")?;
    assert_eq!(failed.status, 502, "{}", failed.body);

    // No answer says whether Stripe will still apply the update: nothing reads the cart until
    // it no longer can. (A 5xx answer does say it: Stripe saved it, the write is over.)
    let early = stack.change_interval_keyed(&body(&id, "yearly"), "retry-me")?;
    early.assert_error(409, "session_busy");
    assert!(
        matches!(early.retry_after.as_deref(), Some("1" | "2")),
        "{:?}",
        early.retry_after
    );
    std::thread::sleep(Duration::from_millis(1_600));

    let retried = stack.change_interval_keyed(&body(&id, "yearly"), "retry-me")?;
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert!(!retried.replayed, "the failure was not stored");
    let after = stack.stripe.session(&id)?;
    assert_eq!(
        after["line_items"]["data"][0]["price"]["id"],
        stack.catalog.yearly.as_str()
    );
    Ok(())
}

#[test]
fn an_expired_record_still_in_the_table_is_ignored() -> Result {
    let stack = Stack::start(GA_VERSION, &[])?;
    let id = open_session(&stack)?;
    // A completed record whose TTL has passed but which DynamoDB has not deleted yet.
    stack.dynamo.put(
        "IdempotencyTable",
        &json!({
            "pk": {"S": format!("idem#change-interval#{id}#old-key")},
            "status": {"S": "COMPLETED"},
            "holder": {"S": "long-gone"},
            "body_hash": {"S": "whatever"},
            "expiration": {"N": "1000"},
            "in_progress_until": {"N": "1000"},
            "response_status": {"N": "200"},
            "response_body": {"S": "{\"stale\":true}"},
        }),
    )?;

    let reply = stack.change_interval_keyed(&body(&id, "yearly"), "old-key")?;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(!reply.replayed);
    assert_eq!(reply.body["type"], "success");
    assert_eq!(stack.stripe.session_updates(&id)?.len(), 1);
    Ok(())
}

#[test]
fn fifty_concurrent_changes_of_one_session_leave_it_consistent() -> Result {
    const INSTANCES: usize = 4;
    const REQUESTS: usize = 50;
    let stack = Stack::builder(GA_VERSION).instances(INSTANCES).start()?;
    let id = open_session(&stack)?;
    let sticker_before = stack.stripe.session(&id)?["line_items"]["data"][1]["id"].clone();

    let replies: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..REQUESTS)
            .map(|n| {
                let (stack, id) = (&stack, &id);
                scope.spawn(move || {
                    let interval = if n % 2 == 0 { "yearly" } else { "monthly" };
                    stack.change_interval_keyed(&body(id, interval), &format!("race-{n}"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });

    let mut statuses = Vec::new();
    for reply in replies {
        let reply = reply.map_err(|_| "request thread panicked")??;
        assert!(
            matches!(reply.status, 200 | 409),
            "unexpected {}: {}",
            reply.status,
            reply.body
        );
        if reply.status == 409 {
            assert_eq!(reply.body["code"], "session_busy");
        }
        statuses.push(reply.status);
    }
    assert!(statuses.contains(&200));

    // Consistent: exactly one plan item, the other item untouched, amounts add up.
    let after = stack.stripe.session(&id)?;
    let items = after["line_items"]["data"].as_array().ok_or("items")?;
    let plan_items: Vec<&Value> = items
        .iter()
        .filter(|li| !li["price"]["recurring"].is_null())
        .collect();
    assert_eq!(items.len(), 2, "{after}");
    assert_eq!(plan_items.len(), 1, "{after}");
    assert_eq!(items[1]["id"], sticker_before, "the other item kept its id");
    let sum: i64 = items
        .iter()
        .filter_map(|li| li["amount_total"].as_i64())
        .sum();
    assert_eq!(after["amount_total"].as_i64(), Some(sum));

    // The instances really ran side by side: several handled requests, and some overlapped.
    let logged = stack.functions.responses_logged();
    let instances: HashSet<_> = logged.iter().map(|l| l["instance"].clone()).collect();
    assert!(instances.len() >= 2, "requests spread over {instances:?}");
    assert!(
        overlapping_across_instances(&logged),
        "no two instances overlapped in time"
    );
    Ok(())
}

/// Whether two requests handled by different instances were in flight at the same moment,
/// judged from each `responded` line's timestamp and elapsed time.
fn overlapping_across_instances(logged: &[Value]) -> bool {
    let spans: Vec<(Value, f64, f64)> = logged
        .iter()
        .filter_map(|l| {
            let end = timestamp_seconds(l["timestamp"].as_str()?)?;
            let elapsed = l["elapsed_us"].as_f64()? / 1e6;
            Some((l["instance"].clone(), end - elapsed, end))
        })
        .collect();
    spans.iter().any(|(a, a_start, a_end)| {
        spans
            .iter()
            .any(|(b, b_start, b_end)| a != b && a_start < b_end && b_start < a_end)
    })
}

/// Seconds within the day of an RFC 3339 UTC timestamp (`…T12:34:56.789012Z`); the test runs in
/// seconds, so the date can be ignored.
fn timestamp_seconds(ts: &str) -> Option<f64> {
    let time = ts.split('T').nth(1)?.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}
