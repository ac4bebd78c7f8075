use super::memory::MemoryInventory;
use super::*;

fn tee() -> Sku {
    Sku::parse("TEE").unwrap()
}

fn change(from: u64, to: u64) -> Vec<StockChange> {
    vec![StockChange {
        sku: tee(),
        from,
        to,
    }]
}

#[tokio::test]
async fn holds_move_stock_and_never_below_zero() {
    let store = MemoryInventory::default();
    store.receive(&tee(), 3).await.unwrap();
    move_holds_reconciled(&store, "rsv_a", &change(0, 2), 0, None)
        .await
        .unwrap();
    let err = move_holds_reconciled(&store, "rsv_b", &change(0, 2), 0, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        InventoryError::OutOfStock { available: 1, .. }
    ));
    move_holds_reconciled(&store, "rsv_a", &reversed(&change(0, 2)), 0, None)
        .await
        .unwrap();
    let level = store.stock(&tee()).await.unwrap();
    assert_eq!((level.available, level.held), (3, 0));
}

#[tokio::test]
async fn a_hold_that_drifted_from_the_cart_is_reconciled() {
    let store = MemoryInventory::default();
    store.receive(&tee(), 10).await.unwrap();
    // A previous request moved the hold to 4 and never moved it back.
    store
        .move_holds("rsv_a", &change(0, 4), 0, None)
        .await
        .unwrap();
    // The cart still says 1; the next change wants 2.
    move_holds_reconciled(&store, "rsv_a", &change(1, 2), 0, None)
        .await
        .unwrap();
    let held = store.holds("rsv_a", &[tee()]).await.unwrap();
    assert_eq!(held.get(&tee()), Some(&2));
    let level = store.stock(&tee()).await.unwrap();
    assert_eq!(level.available + level.held, 10);
}

#[tokio::test]
async fn the_contention_backoff_allows_six_attempts_within_a_short_budget() {
    let mut contention = Contention::default();
    let started = std::time::Instant::now();
    let mut retries = 0;
    while contention.backoff().await {
        retries += 1;
    }
    assert_eq!(retries, 5, "6 attempts in all");
    // Full jitter under 10, 20, 40, 80 and 160 ms ceilings: at most 310 ms of waiting.
    assert!(started.elapsed() < Duration::from_millis(600));
}

#[tokio::test]
async fn a_conflicting_move_is_retried_until_the_budget_runs_out() {
    let store = MemoryInventory::default();
    store.receive(&tee(), 5).await.unwrap();
    store
        .conflicts
        .store(5, std::sync::atomic::Ordering::SeqCst);
    move_holds_reconciled(&store, "rsv_a", &change(0, 2), 0, None)
        .await
        .unwrap();
    store
        .conflicts
        .store(6, std::sync::atomic::Ordering::SeqCst);
    let err = move_holds_reconciled(&store, "rsv_a", &change(2, 3), 0, None)
        .await
        .unwrap_err();
    assert!(matches!(err, InventoryError::Contended { .. }), "{err}");
    let level = store.stock(&tee()).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2), "nothing moved");
}
