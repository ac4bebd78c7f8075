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
