//! `bench actions`: every action through its function, beside the Node.js peer.

use crate::measure::{measure, BodyFor, Settings, Target, CONCURRENCY};
use crate::table::print_table;
use e2e_tests::{
    listening_address, Dynamo, Endpoint, Result, Stack, MUG_SKU, PREVIEW_VERSION, SECRET_KEY,
    TEE_SKU,
};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) fn actions(settings: &Settings) -> Result {
    let dynamo = Dynamo::start_with_latency(settings.dynamo_ms)?;
    let stack = Stack::builder(PREVIEW_VERSION)
        .dynamo(dynamo)
        .instances(CONCURRENCY)
        .start()?;
    let c = &stack.catalog;
    stack.dynamo.receive(TEE_SKU, 1_000_000)?;
    stack.dynamo.receive(MUG_SKU, 1_000_000)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();

    // Sessions the scenarios work on, made by create-session like the shop's would be: one per
    // client thread, and fresh ones for the cross-sell (an offer is added once per cart).
    let carts = |items: &[(&str, i64)], count: usize| -> Result<Vec<(String, Vec<String>)>> {
        (0..count)
            .map(|_| {
                let reply = stack.create_cart(items, None)?;
                let session = &reply.body["session"];
                let id = session["id"].as_str().ok_or("session id")?.to_owned();
                let lines = session["line_items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|li| li["id"].as_str().map(str::to_owned))
                    .collect();
                Ok((id, lines))
            })
            .collect()
    };
    let plan_and_sticker = carts(&[(&c.monthly, 1), (&c.sticker, 1)], CONCURRENCY)?;
    let plan_and_tee = carts(&[(&c.monthly, 1), (&c.tee, 1)], CONCURRENCY)?;
    let bare_plans = carts(&[(&c.monthly, 1)], 2 * settings.requests + 3 + CONCURRENCY)?;
    if settings.stripe_ms > 0 {
        stack
            .stripe
            .inject_fault(&json!({ "path_prefix": "/v1", "latency_ms": settings.stripe_ms }))?;
    }

    let interval = |n: usize| if n % 2 == 0 { "yearly" } else { "monthly" };
    let target = |endpoint: Endpoint| Target {
        url: stack.functions.endpoint_url(endpoint),
        pids: stack.functions.pids(endpoint.function()),
        agent: &agent,
    };
    let change_interval: BodyFor<'_> = Box::new(|n, client| {
        json!({ "checkout_session_id": plan_and_sticker[client].0, "interval": interval(n) })
            .to_string()
    });
    let scenarios: Vec<(&str, Target<'_>, BodyFor<'_>)> = vec![
        (
            "create-session (holds stock)",
            target(Endpoint::CreateSession),
            Box::new(|_, _| {
                json!({ "items": [{ "price": c.monthly, "quantity": 1 },
                                  { "price": c.tee, "quantity": 1 }] })
                .to_string()
            }),
        ),
        (
            "change-interval",
            target(Endpoint::ChangeInterval),
            Box::new(&change_interval),
        ),
        (
            "update-quantity (no stock)",
            target(Endpoint::UpdateQuantity),
            Box::new(|n, client| {
                let (id, lines) = &plan_and_sticker[client];
                json!({ "checkout_session_id": id, "line_item_id": lines.get(1),
                        "quantity": 1 + n % 2 })
                .to_string()
            }),
        ),
        (
            "update-quantity (stock move)",
            target(Endpoint::UpdateQuantity),
            Box::new(|n, client| {
                let (id, lines) = &plan_and_tee[client];
                json!({ "checkout_session_id": id, "line_item_id": lines.get(1),
                        "quantity": 1 + n % 2 })
                .to_string()
            }),
        ),
        (
            "add-cross-sell (stock move)",
            target(Endpoint::AddCrossSell),
            Box::new(|n, _| {
                // Each request its own cart: warm-ups count down from usize::MAX.
                let cart = if n > usize::MAX / 2 {
                    usize::MAX - n
                } else {
                    n + 3
                };
                json!({ "checkout_session_id": bare_plans[cart % bare_plans.len()].0,
                        "price_id": c.mug })
                .to_string()
            }),
        ),
        (
            "update-shipping",
            target(Endpoint::UpdateShipping),
            Box::new(|n, client| {
                json!({ "checkout_session_id": plan_and_tee[client].0, "shipping_details": {
                    "name": "Ada Lovelace", "address": { "line1": "1 Main St",
                    "city": "Springfield", "postal_code": "94105",
                    "country": if n % 2 == 0 { "US" } else { "CA" } } } })
                .to_string()
            }),
        ),
    ];
    let mut rows = Vec::new();
    for (name, target, body) in &scenarios {
        eprintln!("measuring {name} …");
        rows.push(measure(&stack, settings, name, target, body)?);
    }
    let rust_change = rows.iter().position(|r| r.name == "change-interval");

    let peer = if settings.peer {
        eprintln!("measuring the Node.js peer …");
        let (mut process, url) = start_peer(&stack)?;
        let pid = process.id();
        let row = measure(
            &stack,
            settings,
            "peer: change-interval (Node.js)",
            &Target {
                url: format!("{url}/change-subscription-interval"),
                pids: vec![pid],
                agent: &agent,
            },
            &change_interval,
        );
        drop(process.stdin.take());
        let _ = process.wait();
        Some(row?)
    } else {
        None
    };

    print_table(
        settings,
        &rows,
        peer.as_ref(),
        rust_change.map(|i| &rows[i]),
    );
    Ok(())
}

/// Starts bench/peer-node against the stack's emulators; returns the process and its URL.
pub(crate) fn start_peer(stack: &Stack) -> Result<(Child, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/peer-node");
    if !dir.join("node_modules").exists() {
        return Err(
            "bench/peer-node has no node_modules: run `npm ci` there (bench/run.sh does)".into(),
        );
    }
    let mut command = Command::new("node");
    command
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", "0")
        .env("STRIPE_API_BASE", &stack.stripe.base)
        .env("STRIPE_SECRET_KEY", SECRET_KEY)
        .env("STRIPE_API_VERSION", stack.api_version)
        .env("CATALOG_JSON", stack.catalog.json())
        .envs(stack.dynamo.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut process = command.spawn()?;
    let url = listening_address(&mut process, "peer listening on ")?;
    Ok((process, url))
}
