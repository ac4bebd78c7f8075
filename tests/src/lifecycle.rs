//! Harness for the end of a checkout (tests/tests/checkout_lifecycle.rs, sweeper_scale.rs and the
//! fault run): the emulator's delayed payments and lost events, hold items read and edited in bulk
//! (infra/local/holds.py, one process for many items), and timed sweeper runs.

pub use crate::dynamo::{n, number};
use crate::{read, repo_root, Dynamo, Emulator, Result, Stack, Stock};
use serde_json::{json, Value};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The table the functions keep stock and holds in (template.yaml's logical id).
pub const INVENTORY_TABLE: &str = "InventoryTable";

impl Emulator {
    /// A control-API POST (`/_emulator/...`), failing the test on any status but 200.
    pub fn control(&self, path: &str, body: &Value) -> Result<Value> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .send_json(body)?;
        match read(response)? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("POST {path} -> {status}: {body}").into()),
        }
    }

    /// Completes an open session with `payment_status` `paid` or `unpaid` (a delayed payment
    /// method); Stripe sends `checkout.session.completed`.
    pub fn complete_with(&self, id: &str, payment_status: &str) -> Result<Value> {
        self.control(
            &format!("/_emulator/checkout/sessions/{id}/complete"),
            &json!({ "payment_status": payment_status }),
        )
    }

    /// The delayed payment of a session completed unpaid `succeeded` or `failed`; Stripe sends
    /// `checkout.session.async_payment_succeeded` or `_failed`.
    pub fn async_payment(&self, id: &str, outcome: &str) -> Result<Value> {
        self.control(
            &format!("/_emulator/checkout/sessions/{id}/async_payment"),
            &json!({ "outcome": outcome }),
        )
    }

    /// The next `count` events for the webhook endpoint are lost (they stay in `/v1/events`).
    pub fn drop_events(&self, endpoint: &str, count: usize) -> Result<()> {
        self.control(
            &format!("/_emulator/webhook_endpoints/{endpoint}/drop"),
            &json!({ "count": count }),
        )
        .map(drop)
    }

    /// Every delivery attempt so far, oldest first.
    pub fn deliveries(&self) -> Result<Vec<Value>> {
        let response = self
            .agent
            .get(format!("{}/_emulator/webhook_deliveries", self.base))
            .call()?;
        Ok(read(response)?.1["data"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Waits (at most `timeout`) until `expected` deliveries were answered 200; returns them.
    pub fn wait_for_deliveries(&self, expected: usize, timeout: Duration) -> Result<Vec<Value>> {
        wait_until(timeout, &format!("{expected} webhook deliveries"), || {
            let ok: Vec<Value> = self
                .deliveries()?
                .into_iter()
                .filter(|d| d["status"] == 200)
                .collect();
            Ok((ok.len() >= expected).then_some(ok))
        })
    }

    /// Events of `kind` Stripe recorded (newest first, at most 100).
    pub fn events(&self, kind: &str) -> Result<Vec<Value>> {
        let (status, body) = self.get(
            &format!("/v1/events?type={kind}&limit=100"),
            crate::GA_VERSION,
        )?;
        if status != 200 {
            return Err(format!("listing events: {status} {body}").into());
        }
        Ok(body["data"].as_array().cloned().unwrap_or_default())
    }
}

impl Dynamo {
    /// Runs infra/local/holds.py `command` with `input` on its stdin; its JSON answer.
    fn holds_tool(&self, command: &str, input: &str) -> Result<Value> {
        let mut child = Command::new("python3")
            .arg(repo_root().join("infra/local/holds.py"))
            .args(["--endpoint", &self.endpoint, command])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        child
            .stdin
            .take()
            .ok_or("holds.py stdin")?
            .write_all(input.as_bytes())?;
        let output = child.wait_with_output()?;
        if !output.status.success() {
            return Err(format!("holds.py {command} failed: {}", output.status).into());
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    /// Writes many items (DynamoDB JSON) into the inventory table, 25 a request.
    pub fn put_many(&self, items: &[Value]) -> Result<()> {
        let lines: Vec<String> = items.iter().map(Value::to_string).collect();
        self.holds_tool("put", &lines.join("\n")).map(drop)
    }

    /// The inventory items of `pks`, in that order (`null` where absent).
    pub fn get_many(&self, pks: &[String]) -> Result<Vec<Value>> {
        let answer = self.holds_tool("get", &serde_json::to_string(pks)?)?;
        let items = answer.as_array().cloned().ok_or("holds.py get: no list")?;
        if items.len() != pks.len() {
            return Err(format!("asked {} items, got {}", pks.len(), items.len()).into());
        }
        Ok(items)
    }

    /// `(live, due)`: holds the sweeper's index lists, and those of them past their expiry.
    pub fn live_holds(&self) -> Result<(u64, u64)> {
        let counts = self.holds_tool("live", "")?;
        let n = |name: &str| counts[name].as_u64().ok_or(format!("no {name} count"));
        Ok((n("live")?, n("due")?))
    }

    /// A hold item as DynamoDB JSON (`null` when absent).
    pub fn hold(&self, reservation: &str, sku: &str) -> Result<Value> {
        self.get(INVENTORY_TABLE, &hold_pk(reservation, sku))
    }

    /// Reads the items of `pks`, changes each with `edit` and writes them back (a test's
    /// stand-in for another writer or the passing of time).
    pub fn edit_items(&self, pks: &[String], mut edit: impl FnMut(&mut Value)) -> Result<()> {
        let mut items = self.get_many(pks)?;
        for (pk, item) in pks.iter().zip(&mut items) {
            if item.is_null() {
                return Err(format!("no item {pk}").into());
            }
            edit(item);
        }
        self.put_many(&items)
    }

    /// Moves the expiry of the reservation's holds of `skus` into the past (`expires_at` 1), as
    /// if their time had come; in one read and one write however many there are.
    pub fn expire_holds(&self, reservation: &str, skus: &[&str]) -> Result<()> {
        let pks: Vec<String> = skus.iter().map(|sku| hold_pk(reservation, sku)).collect();
        self.edit_items(&pks, |item| item["expires_at"] = n(1))
    }

    /// The stock of many unsharded SKUs, in one read.
    pub fn stocks(&self, skus: &[String]) -> Result<Vec<Stock>> {
        let pks: Vec<String> = skus.iter().map(|sku| format!("sku#{sku}")).collect();
        Ok(self.get_many(&pks)?.iter().map(Stock::from_item).collect())
    }
}

/// The key of a reservation's hold of `sku`.
pub fn hold_pk(reservation: &str, sku: &str) -> String {
    format!("hold#{reservation}#{sku}")
}

/// A string attribute of a DynamoDB JSON item.
pub fn text<'a>(item: &'a Value, name: &str) -> Option<&'a str> {
    item[name]["S"].as_str()
}

/// Polls `check` every 100 ms until it yields a value; an error after `timeout`.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check()? {
            return Ok(found);
        }
        if Instant::now() > deadline {
            return Err(format!("waited {timeout:?} for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The reservation a session carries in its metadata (create-session writes it).
pub fn reservation_of(stack: &Stack, session: &str) -> Result<String> {
    Ok(
        stack.stripe.session(session)?["metadata"]["cart_reservation"]
            .as_str()
            .ok_or("the session names no reservation")?
            .to_owned(),
    )
}

/// One sweeper run: its report and how long the invocation took, seen from outside.
pub fn timed_sweep(stack: &Stack) -> Result<(Value, Duration)> {
    let started = Instant::now();
    let report = stack.functions.invoke("release-holds", &json!({}))?;
    Ok((report, started.elapsed()))
}

/// A count of a sweep report (an error when absent: the report's shape is part of the promise).
pub fn count(report: &Value, field: &str) -> Result<u64> {
    report[field]
        .as_u64()
        .ok_or_else(|| format!("the sweep report has no {field}: {report}").into())
}

/// What a sweep report must say of itself, whatever the run found: every hold it read was
/// settled, left open, parked awaiting payment, failed or left as backlog; a backlog or a full
/// batch (`batch` holds) means it stopped early, and a run that did not stop early left nothing.
pub fn check_report(report: &Value, batch: u64) -> Result<()> {
    let checked = count(report, "holds_checked")?;
    let accounted = count(report, "holds_settled")?
        + count(report, "holds_left_open")?
        + count(report, "holds_awaiting_payment")?
        + count(report, "errors")?
        + count(report, "backlog")?;
    let stopped_early = report["stopped_early"]
        .as_bool()
        .ok_or("the sweep report has no stopped_early")?;
    let backlog = count(report, "backlog")?;
    if accounted != checked || checked > batch {
        return Err(format!("holds unaccounted for ({accounted} of {checked}): {report}").into());
    }
    if (backlog > 0 || checked == batch) && !stopped_early {
        return Err(format!("a backlog or a full batch, not stopped early: {report}").into());
    }
    Ok(())
}
