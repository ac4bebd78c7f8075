//! One hot SKU split over 4 stock items (the catalog's `inventory_shards`): concurrent holds
//! through the functions never oversell, every hold sits on the shard it records and is sold or
//! released there, and every shard keeps `available + held + sold == received`; a hold written
//! before the SKU was sharded is found on shard 0; and the DynamoDB store itself (receive,
//! fallback, whole-hold moves, settlement, rebalance) does the same against moto.

use cart_domain::{Sku, StockChange};
use cart_runtime::inventory::{
    move_holds_reconciled, primary_shard, DynamoInventory, Held, InventoryError, InventoryStore,
    Reconcile, Settlement, StockAdmin,
};
use e2e_tests::{in_parallel, line_item_ids, now_s, Dynamo, Job, Reply, Result, Rng, Stack, Stock};
use e2e_tests::{GA_VERSION, TEE_SKU};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SHARDS: u16 = 4;

/// Every shard of the T-shirt's stock, each checked to be whole.
fn tee_shards(dynamo: &Dynamo) -> Result<Vec<Stock>> {
    let mut shards = Vec::new();
    for shard in 0..SHARDS {
        let stock = dynamo.shard_stock(TEE_SKU, shard)?;
        stock.assert_balanced(&format!("shard {shard}"));
        shards.push(stock);
    }
    Ok(shards)
}

fn sum(shards: &[Stock]) -> Stock {
    shards.iter().fold(Stock::default(), |t, s| Stock {
        available: t.available + s.available,
        held: t.held + s.held,
        sold: t.sold + s.sold,
        received: t.received + s.received,
    })
}

/// A session's T-shirt hold as its item says: `(state, quantity, shard)`.
fn tee_hold(stack: &Stack, session: &str) -> Result<(String, u64, u16)> {
    let reservation = stack.stripe.session(session)?["metadata"]["cart_reservation"]
        .as_str()
        .ok_or("no reservation")?
        .to_owned();
    let hold = stack
        .dynamo
        .get("InventoryTable", &format!("hold#{reservation}#{TEE_SKU}"))?;
    let number = |name: &str| -> u64 {
        hold[name]["N"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((
        hold["state"]["S"].as_str().unwrap_or_default().to_owned(),
        number("quantity"),
        u16::try_from(number("shard"))?,
    ))
}

/// T-shirts in a session's cart, according to Stripe.
fn tees_in_cart(stack: &Stack, session: &str) -> Result<u64> {
    Ok(stack.stripe.session(session)?["line_items"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["price"]["id"] == stack.catalog.tee.as_str())
        .filter_map(|item| item["quantity"].as_u64())
        .sum())
}

fn wait_until_nothing_held(stack: &Stack) -> Result<Vec<Stock>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shards = tee_shards(&stack.dynamo)?;
        if sum(&shards).held == 0 || Instant::now() > deadline {
            return Ok(shards);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn concurrent_holds_on_four_shards_never_oversell_and_settle_on_the_shard_each_hold_records(
) -> Result {
    const STOCK: u64 = 40;
    let stack = Stack::builder(GA_VERSION)
        .instances(4)
        .sharded(&[(TEE_SKU, SHARDS)])
        .start()?;
    let catalog = stack.catalog.json_with_shards(&[(TEE_SKU, SHARDS)]);
    stack
        .dynamo
        .receive_with_catalog(TEE_SKU, STOCK, &catalog)?;
    let shards = tee_shards(&stack.dynamo)?;
    assert_eq!(
        shards.iter().map(|s| s.available).collect::<Vec<_>>(),
        [10, 10, 10, 10],
        "receive_stock.py spreads the units over the shards"
    );
    stack.connect_webhooks()?;
    let c = &stack.catalog;

    // 32 carts of 2 T-shirts at once for 40 on the shelf: every shard holds an even number, so
    // falling over from a full shard to the others sells all 40, exactly 20 carts.
    let creates: Vec<Job<'_, Result<Reply>>> = (0..32)
        .map(|_| {
            Box::new(|| stack.create_cart(&[(&c.monthly, 1), (&c.tee, 2)], None)) as Job<'_, _>
        })
        .collect();
    let mut sessions = Vec::new();
    for reply in in_parallel(8, creates) {
        let reply = reply?;
        match (reply.status, reply.body["code"].as_str()) {
            (200, _) => {
                let id = reply.body["session"]["id"].as_str().ok_or("id")?.to_owned();
                let tee_line = line_item_ids(&stack.stripe.session(&id)?)[1].clone();
                sessions.push((id, tee_line));
            }
            (409, Some("out_of_stock")) => {}
            (status, _) => return Err(format!("create: {status} {}", reply.body).into()),
        }
    }
    assert_eq!(sessions.len(), 20, "every shard sold out, none oversold");
    let shards = tee_shards(&stack.dynamo)?;
    assert_eq!(
        sum(&shards),
        Stock {
            available: 0,
            held: STOCK,
            sold: 0,
            received: STOCK
        }
    );

    // 120 quantity changes at once (1 to 3 each), far more than the stock can take.
    let mut rng = Rng(9);
    let changes: Vec<Job<'_, Result<Reply>>> = (0..120)
        .map(|_| {
            let (id, line) = sessions[rng.below(sessions.len())].clone();
            let quantity = i64::try_from(1 + rng.below(3)).unwrap_or(1);
            let stack = &stack;
            Box::new(move || stack.update_quantity(&id, &line, quantity)) as Job<'_, _>
        })
        .collect();
    let mut statuses = BTreeMap::new();
    for reply in in_parallel(16, changes) {
        let reply = reply?;
        let code = reply.body["code"].as_str().unwrap_or("-").to_owned();
        assert!(
            matches!(reply.status, 200 | 409),
            "{}: {}",
            reply.status,
            reply.body
        );
        *statuses.entry((reply.status, code)).or_insert(0) += 1;
    }
    eprintln!("120 concurrent update-quantity on 4 shards: {statuses:?}");

    // Never oversold, holds equal to the carts, and each shard holds exactly the holds that
    // record it.
    let shards = tee_shards(&stack.dynamo)?;
    let Stock {
        held,
        sold,
        received,
        ..
    } = sum(&shards);
    assert_eq!((sold, received), (0, STOCK));
    let mut in_carts = 0;
    let mut held_per_shard = [0; SHARDS as usize];
    let mut holds = Vec::new();
    for (id, _) in &sessions {
        let (state, quantity, shard) = tee_hold(&stack, id)?;
        assert_eq!(state, "HELD");
        assert!(shard < SHARDS);
        held_per_shard[usize::from(shard)] += quantity;
        in_carts += tees_in_cart(&stack, id)?;
        holds.push((quantity, shard));
    }
    assert_eq!(held, in_carts, "holds match the carts exactly");
    assert_eq!(
        shards.iter().map(|s| s.held).collect::<Vec<_>>(),
        held_per_shard,
        "each shard's `held` is the sum of the holds recorded on it"
    );
    assert!(
        held_per_shard.iter().filter(|&&h| h > 0).count() >= 2,
        "holds spread over the shards: {held_per_shard:?}"
    );

    // Every session ends: even ones complete (their carts are sold from the shard their hold
    // records), odd ones expire (their units go back there).
    let mut bought = 0;
    let mut sold_per_shard = [0; SHARDS as usize];
    for (n, ((id, _), (quantity, shard))) in sessions.iter().zip(&holds).enumerate() {
        if n % 2 == 0 {
            assert_eq!(tees_in_cart(&stack, id)?, *quantity);
            bought += quantity;
            sold_per_shard[usize::from(*shard)] += quantity;
            stack.stripe.complete_session(id)?;
        } else {
            stack.stripe.expire_session(id, GA_VERSION)?;
        }
    }
    let shards = wait_until_nothing_held(&stack)?;
    let Stock {
        available,
        held,
        sold,
        received,
    } = sum(&shards);
    assert_eq!(held, 0, "no hold leaked");
    assert_eq!(sold, bought, "sold == quantities bought");
    assert_eq!((available + sold, received), (STOCK, STOCK));
    assert_eq!(
        shards.iter().map(|s| s.sold).collect::<Vec<_>>(),
        sold_per_shard,
        "each sale landed on the shard its hold recorded"
    );
    Ok(())
}

#[test]
fn a_hold_written_before_the_sku_was_sharded_is_found_on_shard_zero() -> Result {
    let stack = Stack::builder(GA_VERSION)
        .instances(1)
        .sharded(&[(TEE_SKU, SHARDS)])
        .start()?;
    stack.connect_webhooks()?;
    let c = &stack.catalog;
    let tee = Sku::parse(TEE_SKU).ok_or("sku")?;
    // A session whose reservation would start a new hold on another shard than 0, so only the
    // hold's own (absent) `shard` can send its moves to shard 0.
    let (session, reservation) = loop {
        let created = stack.create_session(&[(&c.monthly, 1), (&c.tee, 2)])?;
        let reservation = created["metadata"]["cart_reservation"]
            .as_str()
            .ok_or("reservation")?
            .to_owned();
        if primary_shard(&reservation, &tee, SHARDS) != 0 {
            break (created["id"].as_str().ok_or("id")?.to_owned(), reservation);
        }
    };
    let tee_line = line_item_ids(&stack.stripe.session(&session)?)[1].clone();
    // The store as the unsharded code left it: all stock on `sku#TEE`, a hold without `shard`.
    let n = |v: u64| json!({ "N": v.to_string() });
    stack.dynamo.put(
        "InventoryTable",
        &json!({ "pk": { "S": format!("sku#{TEE_SKU}") },
                 "available": n(8), "held": n(2), "sold": n(0), "received": n(10) }),
    )?;
    stack.dynamo.put(
        "InventoryTable",
        &json!({ "pk": { "S": format!("hold#{reservation}#{TEE_SKU}") },
                 "quantity": n(2), "state": { "S": "HELD" }, "sku": { "S": TEE_SKU },
                 "reservation": { "S": reservation }, "session_id": { "S": session },
                 "expires_at": n(u64::try_from(now_s())? + 86_400), "sweep": { "S": "HELD" } }),
    )?;

    let reply = stack.update_quantity(&session, &tee_line, 3)?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(tee_hold(&stack, &session)?, ("HELD".into(), 3, 0));
    assert_eq!(
        stack.dynamo.shard_stock(TEE_SKU, 0)?,
        Stock {
            available: 7,
            held: 3,
            sold: 0,
            received: 10
        }
    );
    let reply = stack.update_quantity(&session, &tee_line, 1)?;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        stack.dynamo.shard_stock(TEE_SKU, 0)?,
        Stock {
            available: 9,
            held: 1,
            sold: 0,
            received: 10
        }
    );
    for shard in 1..SHARDS {
        let pk = format!("sku#{TEE_SKU}#{shard}");
        assert_eq!(
            stack.dynamo.get("InventoryTable", &pk)?,
            Value::Null,
            "the refused tries on shard {shard} left nothing behind"
        );
    }

    stack.stripe.complete_session(&session)?;
    let shards = wait_until_nothing_held(&stack)?;
    assert_eq!(
        shards[0],
        Stock {
            available: 9,
            held: 0,
            sold: 1,
            received: 10
        },
        "sold from shard 0"
    );
    assert_eq!(tee_hold(&stack, &session)?, ("SOLD".into(), 1, 0));
    Ok(())
}

/// The inventory store of the functions, on this DynamoDB, with `shards` per SKU.
fn store(dynamo: &Dynamo, shards: &[(&str, u16)]) -> Result<DynamoInventory> {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&dynamo.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "e2e"))
        .build();
    let shards = shards
        .iter()
        .map(|(sku, n)| Ok((Sku::parse(sku).ok_or("sku")?, *n)))
        .collect::<Result<_>>()?;
    Ok(DynamoInventory::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "InventoryTable",
        shards,
    ))
}

/// A reservation whose holds of `sku` start on `shard`.
fn reservation_on(sku: &Sku, shard: u16) -> String {
    (0..)
        .map(|n| format!("rsv_e2e_{n}"))
        .find(|r| primary_shard(r, sku, SHARDS) == shard)
        .unwrap_or_default()
}

fn change(sku: &Sku, from: u64, to: u64) -> [StockChange; 1] {
    [StockChange {
        sku: sku.clone(),
        from,
        to,
    }]
}

/// `(available, held)` of each shard, each checked to be whole.
async fn per_shard(store: &DynamoInventory, sku: &Sku) -> Result<Vec<(u64, u64)>> {
    let shards = store.shard_stock(sku).await?;
    for (shard, l) in shards.iter().enumerate() {
        assert_eq!(
            l.available + l.held + l.sold,
            l.received,
            "shard {shard}: {l:?}"
        );
    }
    Ok(shards.iter().map(|l| (l.available, l.held)).collect())
}

#[tokio::test]
async fn the_dynamodb_store_spreads_falls_over_moves_whole_holds_settles_and_rebalances_by_shard(
) -> Result {
    let dynamo = Dynamo::start()?;
    let store = store(&dynamo, &[(TEE_SKU, SHARDS), ("MUG", 1)])?;
    let tee = Sku::parse(TEE_SKU).ok_or("sku")?;

    // Receiving spreads like receive_stock.py; an unsharded SKU keeps its one item.
    store.receive(&tee, 10).await?;
    assert_eq!(
        per_shard(&store, &tee).await?,
        [(3, 0), (3, 0), (2, 0), (2, 0)]
    );
    dynamo.receive_with_catalog("HOT", 10, r#"{"inventory_shards":{"HOT":4}}"#)?;
    let hot = Sku::parse("HOT").ok_or("sku")?;
    let hot_store = self::store(&dynamo, &[("HOT", SHARDS)])?;
    assert_eq!(
        per_shard(&hot_store, &hot).await?,
        per_shard(&store, &tee).await?,
        "the local tool and the functions spread alike"
    );
    let mug = Sku::parse("MUG").ok_or("sku")?;
    store.receive(&mug, 3).await?;
    assert_eq!(
        dynamo.stock("MUG")?,
        Stock {
            available: 3,
            held: 0,
            sold: 0,
            received: 3
        }
    );
    assert_eq!(dynamo.get("InventoryTable", "sku#MUG#1")?, Value::Null);
    assert_eq!(store.stock(&mug).await?.available, 3);

    // A hold of 3 takes all of shard 1; a fourth unit fits on no shard: out of stock with what
    // all of them have (0 + 2 + 2 + 3).
    let on_1 = reservation_on(&tee, 1);
    move_holds_reconciled(&store, &on_1, &change(&tee, 0, 3), 0, None, Reconcile::Both).await?;
    let err = move_holds_reconciled(&store, &on_1, &change(&tee, 3, 4), 0, None, Reconcile::Both)
        .await
        .err()
        .ok_or("4 fit nowhere")?;
    assert!(
        matches!(err, InventoryError::OutOfStock { available: 7, .. }),
        "{err}"
    );
    // Once shard 2 has 4, the whole hold moves there in one transaction.
    store.rebalance(&tee, 3, 2, 2).await?;
    move_holds_reconciled(&store, &on_1, &change(&tee, 3, 4), 0, None, Reconcile::Both).await?;
    let held = store.holds(&on_1, std::slice::from_ref(&tee)).await?;
    assert_eq!(
        held.get(&tee),
        Some(&Held {
            quantity: 4,
            shard: 2,
            session: None,
            awaiting_payment: false,
            expires_at_s: 0,
        })
    );
    assert_eq!(
        per_shard(&store, &tee).await?,
        [(3, 0), (3, 0), (0, 4), (0, 0)]
    );

    // A new hold whose shard is empty falls over to the next one (3 -> 0).
    let on_3 = reservation_on(&tee, 3);
    move_holds_reconciled(&store, &on_3, &change(&tee, 0, 1), 0, None, Reconcile::Both).await?;
    let held = store.holds(&on_3, std::slice::from_ref(&tee)).await?;
    assert_eq!(
        held.get(&tee),
        Some(&Held {
            quantity: 1,
            shard: 0,
            session: None,
            awaiting_payment: false,
            expires_at_s: 0,
        })
    );

    // A move that does not know the hold's shard tries its primary one, is refused, and
    // converges on the recorded one.
    move_holds_reconciled(&store, &on_1, &change(&tee, 4, 1), 0, None, Reconcile::Both).await?;
    assert_eq!(
        per_shard(&store, &tee).await?,
        [(2, 1), (3, 0), (3, 1), (0, 0)]
    );

    // The sweeper sees each hold's shard; settling sells on that shard, and only there.
    let mut swept: Vec<(String, u64, u16)> = store
        .expired_holds(1, 10)
        .await?
        .into_iter()
        .map(|h| (h.reservation, h.quantity, h.shard))
        .collect();
    swept.sort();
    let mut expected = vec![(on_1.clone(), 1, 2), (on_3.clone(), 1, 0)];
    expected.sort();
    assert_eq!(swept, expected);
    let settle = |shard| Settlement {
        sku: tee.clone(),
        held: 1,
        shard,
        sold: 1,
    };
    let err = store
        .settle(&on_1, &[settle(1)])
        .await
        .err()
        .ok_or("settled on the wrong shard")?;
    assert!(matches!(err, InventoryError::HoldMismatch { .. }), "{err}");
    store.settle(&on_1, &[settle(2)]).await?;
    store
        .settle(
            &on_3,
            &[Settlement {
                sold: 0,
                ..settle(0)
            }],
        )
        .await?;
    let shards = store.shard_stock(&tee).await?;
    let counters: Vec<Stock> = shards
        .iter()
        .map(|l| Stock {
            available: l.available,
            held: l.held,
            sold: l.sold,
            received: l.received,
        })
        .collect();
    assert_eq!(
        counters,
        [
            Stock {
                available: 3,
                held: 0,
                sold: 0,
                received: 3
            },
            Stock {
                available: 3,
                held: 0,
                sold: 0,
                received: 3
            },
            Stock {
                available: 3,
                held: 0,
                sold: 1,
                received: 4
            },
            Stock::default()
        ]
    );
    assert_eq!(store.stock(&tee).await?.received, 10);

    // Rebalancing moves only what is available, and only to a shard the SKU has.
    let err = store
        .rebalance(&tee, 0, 3, 4)
        .await
        .err()
        .ok_or("more than available")?;
    assert!(
        matches!(err, InventoryError::OutOfStock { available: 3, .. }),
        "{err}"
    );
    assert!(store.rebalance(&tee, 0, SHARDS, 1).await.is_err());
    store.rebalance(&tee, 0, 3, 3).await?;
    assert_eq!(
        per_shard(&store, &tee).await?,
        [(0, 0), (3, 0), (3, 0), (3, 0)]
    );
    Ok(())
}
