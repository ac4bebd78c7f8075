use super::memory::MemoryClaimStore;
use super::*;
use std::time::Duration;

fn claim(key: Option<&str>, hash: &str) -> Claim {
    let now = now_ms();
    Claim {
        holder: format!("holder-{}", fastrand::u64(..)),
        lease_pk: "lease#cs_test_1".into(),
        lease_until_ms: now + 10_000,
        record: key.map(|k| RecordClaim {
            pk: format!("idem#f#cs_test_1#{k}"),
            body_hash: hash.into(),
            in_progress_until_ms: now + 10_000,
            expiration_s: now / 1000 + 86_400,
            stripe_generation: 0,
        }),
    }
}

fn quick() -> ClaimSettings {
    ClaimSettings {
        record_ttl: Duration::from_secs(60),
        lease_wait: Duration::from_millis(60),
        in_progress_wait: Duration::from_millis(60),
        late_write: Duration::from_millis(60),
    }
}

fn done(body: &str) -> StoredResponse {
    StoredResponse {
        status: 200,
        body: body.into(),
    }
}

#[tokio::test]
async fn a_completed_key_is_replayed_and_takes_no_lease() {
    let store = MemoryClaimStore::default();
    let first = claim(Some("k1"), "h");
    assert!(matches!(
        admit(&store, first.clone(), quick()).await.unwrap(),
        Admission::Proceed(_)
    ));
    store
        .finish(
            &first,
            RecordEnd::Store(&done("{\"a\":1}")),
            LeaseEnd::Release,
        )
        .await
        .unwrap();
    assert_eq!(
        store.lease_holder("lease#cs_test_1"),
        None,
        "lease released"
    );

    let again = admit(&store, claim(Some("k1"), "h"), quick())
        .await
        .unwrap();
    assert_eq!(again, Admission::Replay(done("{\"a\":1}")));
    assert_eq!(
        store.lease_holder("lease#cs_test_1"),
        None,
        "a replay holds nothing"
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let store = MemoryClaimStore::default();
    let first = claim(Some("k1"), "h1");
    admit(&store, first.clone(), quick()).await.unwrap();
    store
        .finish(&first, RecordEnd::Store(&done("{}")), LeaseEnd::Release)
        .await
        .unwrap();
    assert_eq!(
        admit(&store, claim(Some("k1"), "h2"), quick())
            .await
            .unwrap(),
        Admission::KeyReused
    );
}

#[tokio::test]
async fn a_twin_still_in_progress_is_awaited_then_reported() {
    let store = MemoryClaimStore::default();
    admit(&store, claim(Some("k1"), "h"), quick())
        .await
        .unwrap();
    // Same key, same body, first one never finishes within the wait.
    assert_eq!(
        admit(&store, claim(Some("k1"), "h"), quick())
            .await
            .unwrap(),
        Admission::InProgress
    );
}

#[tokio::test]
async fn a_twin_that_completes_during_the_wait_is_replayed() {
    let store = std::sync::Arc::new(MemoryClaimStore::default());
    let first = claim(Some("k1"), "h");
    admit(&*store, first.clone(), quick()).await.unwrap();
    let finisher = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            store
                .finish(
                    &first,
                    RecordEnd::Store(&done("{\"ok\":true}")),
                    LeaseEnd::Release,
                )
                .await
                .unwrap();
        })
    };
    let settings = ClaimSettings {
        in_progress_wait: Duration::from_millis(2_000),
        ..quick()
    };
    let second = admit(&*store, claim(Some("k1"), "h"), settings)
        .await
        .unwrap();
    finisher.await.unwrap();
    assert_eq!(second, Admission::Replay(done("{\"ok\":true}")));
}

#[tokio::test]
async fn a_failed_first_attempt_leaves_the_key_free_for_a_retry() {
    let store = MemoryClaimStore::default();
    let first = claim(Some("k1"), "h");
    admit(&store, first.clone(), quick()).await.unwrap();
    store
        .finish(&first, RecordEnd::Forget, LeaseEnd::Release)
        .await
        .unwrap();
    assert!(store.record("idem#f#cs_test_1#k1").is_none());
    assert!(matches!(
        admit(&store, claim(Some("k1"), "h"), quick())
            .await
            .unwrap(),
        Admission::Proceed(_)
    ));
}

#[tokio::test]
async fn expired_records_count_as_absent_even_before_ttl_deletes_them() {
    let store = MemoryClaimStore::default();
    let now = now_ms();
    store.put_record(
        "idem#f#cs_test_1#k1",
        Record {
            status: RecordStatus::Completed,
            body_hash: "other".into(),
            expiration_s: now / 1000 - 1,
            in_progress_until_ms: now - 1,
            response: Some(done("{\"stale\":true}")),
            stripe_generation: 0,
        },
    );
    assert!(matches!(
        admit(&store, claim(Some("k1"), "h"), quick())
            .await
            .unwrap(),
        Admission::Proceed(_)
    ));
    // And an in-progress record whose owner ran out of time.
    let store = MemoryClaimStore::default();
    store.put_record(
        "idem#f#cs_test_1#k1",
        Record {
            status: RecordStatus::InProgress,
            body_hash: "h".into(),
            expiration_s: now / 1000 + 3600,
            in_progress_until_ms: now - 1,
            response: None,
            stripe_generation: 0,
        },
    );
    assert!(matches!(
        admit(&store, claim(Some("k1"), "h"), quick())
            .await
            .unwrap(),
        Admission::Proceed(_)
    ));
}

#[tokio::test]
async fn a_busy_session_is_awaited_then_reported_and_an_expired_lease_is_taken() {
    let store = MemoryClaimStore::default();
    let until_ms = now_ms() + 60_000;
    store.hold_lease("lease#cs_test_1", until_ms);
    assert_eq!(
        admit(&store, claim(None, "h"), quick()).await.unwrap(),
        Admission::SessionBusy { until_ms }
    );
    store.hold_lease("lease#cs_test_1", now_ms() - 1);
    assert!(matches!(
        admit(&store, claim(None, "h"), quick()).await.unwrap(),
        Admission::Proceed(_)
    ));
}

#[test]
fn idempotency_keys_are_visible_ascii_up_to_255() {
    assert!(IdempotencyKey::parse(b"order-42_retry").is_some());
    assert!(IdempotencyKey::parse(&[b'a'; 255]).is_some());
    assert!(IdempotencyKey::parse(&[b'a'; 256]).is_none());
    assert!(IdempotencyKey::parse(b"").is_none());
    assert!(IdempotencyKey::parse(b"has space").is_none());
    assert!(IdempotencyKey::parse("caf\u{e9}".as_bytes()).is_none());
}

#[test]
fn body_hash_ignores_key_order_and_whitespace_only() {
    let a: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":{"x":[1,2],"y":"z"}}"#).unwrap();
    let b: serde_json::Value =
        serde_json::from_str(r#"{ "b": { "y": "z", "x": [1, 2] }, "a": 1 }"#).unwrap();
    let c: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":{"x":[2,1],"y":"z"}}"#).unwrap();
    assert_eq!(body_hash(&a), body_hash(&b));
    assert_ne!(body_hash(&a), body_hash(&c));
}

#[tokio::test]
async fn a_lease_kept_at_finish_stays_busy_until_its_new_end_while_the_key_is_free() {
    let store = MemoryClaimStore::default();
    let first = claim(Some("k1"), "h");
    admit(&store, first.clone(), quick()).await.unwrap();
    let until_ms = now_ms() + 150;
    store
        .finish(&first, RecordEnd::Forget, LeaseEnd::KeepUntil(until_ms))
        .await
        .unwrap();

    assert!(
        store.record("idem#f#cs_test_1#k1").is_none(),
        "the retry may run"
    );
    assert_eq!(
        admit(&store, claim(Some("k1"), "h"), quick())
            .await
            .unwrap(),
        Admission::SessionBusy { until_ms },
        "but not before the kept lease ends"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(matches!(
        admit(&store, claim(Some("k1"), "h"), quick())
            .await
            .unwrap(),
        Admission::Proceed(_)
    ));
}

#[tokio::test]
async fn a_waiting_twin_never_gets_the_answer_of_another_body_that_took_the_key_meanwhile() {
    let store = std::sync::Arc::new(MemoryClaimStore::default());
    let first = claim(Some("k1"), "h");
    admit(&*store, first.clone(), quick()).await.unwrap();
    let takeover = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            // The first fails, and a request with another body claims the key and completes.
            store
                .finish(&first, RecordEnd::Forget, LeaseEnd::Release)
                .await
                .unwrap();
            let other = claim(Some("k1"), "other-body");
            store.try_claim(&other, now_ms()).await.unwrap();
            store
                .finish(
                    &other,
                    RecordEnd::Store(&done("{\"other\":true}")),
                    LeaseEnd::Release,
                )
                .await
                .unwrap();
        })
    };
    let settings = ClaimSettings {
        in_progress_wait: Duration::from_millis(2_000),
        ..quick()
    };

    let waiter = admit(&*store, claim(Some("k1"), "h"), settings)
        .await
        .unwrap();

    takeover.await.unwrap();
    assert_eq!(waiter, Admission::KeyReused);
}

#[tokio::test]
async fn a_failed_record_hands_its_stripe_key_generation_to_the_retry_and_binds_its_body() {
    let store = MemoryClaimStore::default();
    let first = claim(Some("k1"), "h");
    admit(&store, first.clone(), quick()).await.unwrap();
    store
        .finish(
            &first,
            RecordEnd::Failed { next_generation: 3 },
            LeaseEnd::Release,
        )
        .await
        .unwrap();

    let reused = admit(&store, claim(Some("k1"), "another-body"), quick())
        .await
        .unwrap();
    let Admission::Proceed(retry) = admit(&store, claim(Some("k1"), "h"), quick())
        .await
        .unwrap()
    else {
        panic!("the retry runs");
    };

    assert_eq!(reused, Admission::KeyReused);
    assert_eq!(retry.stripe_generation(), 3);
}
