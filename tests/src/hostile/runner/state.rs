//! The state the corpus may not change, read before it runs and compared after: Stripe writes to
//! Checkout Sessions, the sessions themselves, and the inventory table (stock and holds).

use crate::hostile::corpus::Fixtures;
use crate::{Result, Stack};
use serde_json::Value;
use std::collections::BTreeMap;

/// Every item of the inventory table (stock and holds), by key.
fn inventory(stack: &Stack) -> Result<BTreeMap<String, Value>> {
    Ok(stack
        .dynamo
        .scan("InventoryTable")?
        .into_iter()
        .map(|item| {
            (
                item["pk"]["S"].as_str().unwrap_or_default().to_owned(),
                item,
            )
        })
        .collect())
}

fn last_stripe_request(stack: &Stack) -> Result<u64> {
    Ok(stack
        .stripe
        .requests()?
        .iter()
        .filter_map(|r| r["seq"].as_u64())
        .max()
        .unwrap_or(0))
}

#[derive(Debug)]
pub(crate) struct Snapshot {
    last_request: u64,
    sessions: Vec<(String, Value)>,
    inventory: BTreeMap<String, Value>,
}

pub(crate) fn snapshot(stack: &Stack, f: &Fixtures) -> Result<Snapshot> {
    let sessions = f
        .sessions()
        .into_iter()
        .map(|t| Ok((t.id.clone(), stack.stripe.session(&t.id)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Snapshot {
        last_request: last_stripe_request(stack)?,
        sessions,
        inventory: inventory(stack)?,
    })
}

/// Everything that changed since `before`.
pub(crate) fn state_changes(stack: &Stack, before: &Snapshot) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    for request in stack.stripe.requests()? {
        let seq = request["seq"].as_u64().unwrap_or(0);
        let path = request["path"].as_str().unwrap_or_default();
        if seq > before.last_request
            && request["method"] == "POST"
            && path.starts_with("/v1/checkout/sessions")
        {
            changes.push(format!("Stripe was sent POST {path}"));
        }
    }
    for (id, was) in &before.sessions {
        let now = stack.stripe.session(id)?;
        if &now != was {
            changes.push(format!("session {id} changed"));
        }
    }
    let after = inventory(stack)?;
    for (pk, item) in &after {
        match before.inventory.get(pk) {
            None if pk.starts_with("hold#") => changes.push(format!("hold created: {pk}")),
            None => changes.push(format!("inventory item created: {pk}")),
            Some(was) if was != item => changes.push(format!("{pk} changed: {was} -> {item}")),
            Some(_) => {}
        }
    }
    for pk in before.inventory.keys() {
        if !after.contains_key(pk) {
            changes.push(format!("inventory item deleted: {pk}"));
        }
    }
    Ok(changes)
}
