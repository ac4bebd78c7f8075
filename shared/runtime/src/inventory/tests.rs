use super::memory::MemoryInventory;
use super::shards::Contention;
use super::*;
use cart_domain::{Sku, StockChange};
use std::collections::BTreeMap;
use std::time::Duration;

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
    move_holds_reconciled(&store, "rsv_a", &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap();
    let err = move_holds_reconciled(&store, "rsv_b", &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        InventoryError::OutOfStock { available: 1, .. }
    ));
    move_holds_reconciled(
        &store,
        "rsv_a",
        &reversed(&change(0, 2)),
        0,
        None,
        Reconcile::Both,
    )
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
        .move_holds("rsv_a", &change(0, 4), &BTreeMap::new(), 0, None)
        .await
        .unwrap();
    // The cart still says 1; the next change wants 2.
    move_holds_reconciled(&store, "rsv_a", &change(1, 2), 0, None, Reconcile::Both)
        .await
        .unwrap();
    let held = store.holds("rsv_a", &[tee()]).await.unwrap();
    assert_eq!(held.get(&tee()).map(|h| h.quantity), Some(2));
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
    move_holds_reconciled(&store, "rsv_a", &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap();
    store
        .conflicts
        .store(6, std::sync::atomic::Ordering::SeqCst);
    let err = move_holds_reconciled(&store, "rsv_a", &change(2, 3), 0, None, Reconcile::Both)
        .await
        .unwrap_err();
    assert!(matches!(err, InventoryError::Contended { .. }), "{err}");
    let level = store.stock(&tee()).await.unwrap();
    assert_eq!((level.available, level.held), (3, 2), "nothing moved");
}

// --- shards ---------------------------------------------------------------------------------

/// A store with `TEE` on 4 shards.
fn sharded() -> MemoryInventory {
    MemoryInventory::with_shards(BTreeMap::from([(tee(), 4)]))
}

/// Every shard keeps `available + held + sold == received`, and so does their sum.
async fn assert_invariants(store: &MemoryInventory) -> Vec<StockLevel> {
    let shards = store.shard_stock(&tee()).await.unwrap();
    for (shard, l) in shards.iter().enumerate() {
        assert_eq!(
            l.available + l.held + l.sold,
            l.received,
            "shard {shard}: {l:?}"
        );
    }
    let total = store.stock(&tee()).await.unwrap();
    assert_eq!(total, shards.iter().copied().sum());
    assert_eq!(total.available + total.held + total.sold, total.received);
    shards
}

/// A reservation whose hold of `TEE` starts on `shard` of 4.
fn reservation_on(shard: u16) -> String {
    (0..)
        .map(|n| format!("rsv_{n}"))
        .find(|r| primary_shard(r, &tee(), 4) == shard)
        .unwrap()
}

fn held_shard(held: &BTreeMap<Sku, Held>) -> Option<u16> {
    held.get(&tee()).map(|h| h.shard)
}

/// Each shard's `(available, held)`.
fn available_and_held(shards: &[StockLevel]) -> Vec<(u64, u64)> {
    shards.iter().map(|l| (l.available, l.held)).collect()
}

/// Eight T-shirts on the 4 shards, `empty`'s two moved to shard 0, then 2 held for a reservation
/// whose primary shard is `empty`: the hold falls over to the next shard with stock. Returns the
/// reservation.
async fn two_held_beside_an_empty_primary(store: &MemoryInventory, empty: u16) -> String {
    store.receive(&tee(), 8).await.unwrap();
    store.rebalance(&tee(), empty, 0, 2).await.unwrap();
    let reservation = reservation_on(empty);
    move_holds_reconciled(store, &reservation, &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap();
    reservation
}

#[test]
fn the_primary_shard_is_stable_and_spreads_reservations_over_every_shard() {
    assert_eq!(primary_shard("rsv_a", &tee(), 1), 0);
    assert_eq!(
        primary_shard("rsv_a", &tee(), 16),
        primary_shard("rsv_a", &tee(), 16),
        "a retry lands on the same item"
    );
    let mut per_shard = [0; 16];
    for n in 0..1_600 {
        per_shard[usize::from(primary_shard(&format!("rsv_{n}"), &tee(), 16))] += 1;
    }
    assert!(
        per_shard.iter().all(|&c| (50..=150).contains(&c)),
        "{per_shard:?}"
    );
}

#[test]
fn received_units_spread_evenly_the_remainder_on_the_first_shards() {
    let spread_of = |quantity, shards| spread(quantity, shards).map(|(_, q)| q).collect::<Vec<_>>();
    assert_eq!(spread_of(10, 4), [3, 3, 2, 2]);
    assert_eq!(spread_of(3, 4), [1, 1, 1, 0]);
    assert_eq!(spread_of(7, 1), [7]);
    assert_eq!(spread_of(0, 2), [0, 0]);
}

#[tokio::test]
async fn receiving_spreads_over_the_shards_and_the_stock_is_their_sum() {
    let store = sharded();
    store.receive(&tee(), 10).await.unwrap();
    let shards = assert_invariants(&store).await;
    let available: Vec<u64> = shards.iter().map(|l| l.available).collect();
    assert_eq!(available, [3, 3, 2, 2]);
    assert_eq!(store.stock(&tee()).await.unwrap().received, 10);
}

#[tokio::test]
async fn a_new_hold_starts_on_its_primary_shard_and_falls_over_when_that_one_is_empty() {
    let store = sharded();
    store.receive(&tee(), 8).await.unwrap();
    let on_1 = reservation_on(1);
    move_holds_reconciled(&store, &on_1, &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap();
    assert_eq!(
        held_shard(&store.holds(&on_1, &[tee()]).await.unwrap()),
        Some(1)
    );

    // Shard 2 is emptied: a hold that starts there falls over to shard 3.
    store.rebalance(&tee(), 2, 0, 2).await.unwrap();
    let on_2 = reservation_on(2);
    move_holds_reconciled(&store, &on_2, &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap();
    assert_eq!(
        held_shard(&store.holds(&on_2, &[tee()]).await.unwrap()),
        Some(3)
    );
    let shards = assert_invariants(&store).await;
    let held: Vec<u64> = shards.iter().map(|l| l.held).collect();
    assert_eq!(held, [0, 2, 0, 2]);
}

#[tokio::test]
async fn out_of_stock_answers_what_all_the_shards_together_have_available() {
    let store = sharded();
    store.receive(&tee(), 4).await.unwrap();
    // One unit on each shard: none can hold 2 (sharding's known false out-of-stock).
    let err = move_holds_reconciled(&store, "rsv_a", &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InventoryError::OutOfStock { available: 4, .. }),
        "{err}"
    );
    assert_eq!(
        assert_invariants(&store)
            .await
            .iter()
            .map(|l| l.held)
            .sum::<u64>(),
        0
    );
}

#[tokio::test]
async fn an_increase_its_shard_cannot_cover_moves_the_whole_hold_to_another_shard() {
    let store = sharded();
    store.receive(&tee(), 16).await.unwrap();
    let on_1 = reservation_on(1);
    move_holds_reconciled(&store, &on_1, &change(0, 3), 0, None, Reconcile::Both)
        .await
        .unwrap();
    store.rebalance(&tee(), 1, 0, 1).await.unwrap();

    // Shard 1 has nothing left for a fourth unit: the hold moves to shard 2, all 4 units.
    move_holds_reconciled(&store, &on_1, &change(3, 4), 0, None, Reconcile::Both)
        .await
        .unwrap();

    let held = store.holds(&on_1, &[tee()]).await.unwrap();
    assert_eq!(
        held.get(&tee()),
        Some(&Held {
            quantity: 4,
            shard: 2,
            session: None,
            awaiting_payment: false,
            expires_at_s: 0,
        })
    );
    let shards = assert_invariants(&store).await;
    assert_eq!(
        available_and_held(&shards),
        [(5, 0), (3, 0), (0, 4), (4, 0)]
    );
}

#[tokio::test]
async fn a_hold_off_its_primary_shard_moves_on_the_shard_it_records() {
    let store = sharded();
    let on_1 = two_held_beside_an_empty_primary(&store, 1).await;
    assert_eq!(
        held_shard(&store.holds(&on_1, &[tee()]).await.unwrap()),
        Some(2)
    );

    // Without the hold's shard the move is tried on the primary one, refused, and reconciled.
    let err = store
        .move_holds(&on_1, &change(2, 1), &BTreeMap::new(), 0, None)
        .await
        .unwrap_err();
    assert!(matches!(err, InventoryError::HoldMismatch { .. }), "{err}");
    move_holds_reconciled(&store, &on_1, &change(2, 1), 0, None, Reconcile::Both)
        .await
        .unwrap();
    // And with it, the move goes there directly.
    store
        .move_holds(&on_1, &change(1, 0), &BTreeMap::from([(tee(), 2)]), 0, None)
        .await
        .unwrap();

    let shards = assert_invariants(&store).await;
    assert_eq!(
        available_and_held(&shards),
        [(4, 0), (0, 0), (2, 0), (2, 0)]
    );
}

#[tokio::test]
async fn settling_sells_and_releases_on_the_recorded_shard_only() {
    let store = sharded();
    let on_3 = two_held_beside_an_empty_primary(&store, 3).await;
    let held = store.holds(&on_3, &[tee()]).await.unwrap()[&tee()].clone();
    assert_eq!(held.shard, 0, "fell over from the empty shard 3");

    let on_primary = Settlement {
        sku: tee(),
        held: 2,
        shard: 3,
        sold: 1,
    };
    let err = store.settle(&on_3, &[on_primary]).await.unwrap_err();
    assert!(matches!(err, InventoryError::HoldMismatch { .. }), "{err}");
    store
        .settle(
            &on_3,
            &[Settlement {
                sku: tee(),
                held: 2,
                shard: held.shard,
                sold: 1,
            }],
        )
        .await
        .unwrap();

    let shards = assert_invariants(&store).await;
    assert_eq!(
        shards[0],
        StockLevel {
            available: 3,
            held: 0,
            sold: 1,
            received: 4
        }
    );
    assert!(store.holds(&on_3, &[tee()]).await.unwrap().is_empty());
    let swept = store.expired_holds(0, 10).await.unwrap();
    assert!(swept.is_empty(), "{swept:?}");
}

#[tokio::test]
async fn the_sweeper_sees_each_hold_on_its_shard() {
    let store = sharded();
    store.receive(&tee(), 8).await.unwrap();
    let on_2 = reservation_on(2);
    move_holds_reconciled(&store, &on_2, &change(0, 1), 0, None, Reconcile::Both)
        .await
        .unwrap();
    let swept = store.expired_holds(0, 10).await.unwrap();
    assert_eq!(
        swept
            .iter()
            .map(|h| (h.quantity, h.shard))
            .collect::<Vec<_>>(),
        [(1, 2)]
    );
}

#[tokio::test]
async fn rebalancing_moves_available_units_between_two_shards_in_one_step() {
    let store = sharded();
    store.receive(&tee(), 8).await.unwrap();
    move_holds_reconciled(
        &store,
        &reservation_on(0),
        &change(0, 1),
        0,
        None,
        Reconcile::Both,
    )
    .await
    .unwrap();

    store.rebalance(&tee(), 0, 3, 1).await.unwrap();
    let err = store.rebalance(&tee(), 0, 3, 1).await.unwrap_err();
    assert!(
        matches!(err, InventoryError::OutOfStock { available: 0, .. }),
        "held units never move: {err}"
    );
    for (from, to) in [(1, 1), (1, 4)] {
        let err = store.rebalance(&tee(), from, to, 1).await.unwrap_err();
        assert!(
            matches!(err, InventoryError::Store(_)),
            "{from}->{to}: {err}"
        );
    }

    let shards = assert_invariants(&store).await;
    let per_shard: Vec<(u64, u64, u64)> = shards
        .iter()
        .map(|l| (l.available, l.held, l.received))
        .collect();
    assert_eq!(per_shard, [(0, 1, 1), (2, 0, 2), (2, 0, 2), (3, 0, 3)]);
    assert_eq!(store.stock(&tee()).await.unwrap().received, 8);
}

#[tokio::test]
async fn with_one_shard_everything_lives_on_shard_zero() {
    let store = MemoryInventory::default();
    store.receive(&tee(), 3).await.unwrap();
    move_holds_reconciled(&store, "rsv_a", &change(0, 2), 0, None, Reconcile::Both)
        .await
        .unwrap();
    let held = store.holds("rsv_a", &[tee()]).await.unwrap();
    assert_eq!(
        held.get(&tee()),
        Some(&Held {
            quantity: 2,
            shard: 0,
            session: None,
            awaiting_payment: false,
            expires_at_s: 0,
        })
    );
    assert_eq!(store.shard_stock(&tee()).await.unwrap().len(), 1);
    let err = store.rebalance(&tee(), 0, 1, 1).await.unwrap_err();
    assert!(matches!(err, InventoryError::Store(_)), "{err}");
}
