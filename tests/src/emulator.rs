//! The Stripe emulator (infra/stripe-emulator) and a client for its Stripe API and test controls.

use crate::client::{agent, read};
use crate::process::{binary, listening_address, log_file, Managed};
use crate::{Result, GA_VERSION, SECRET_KEY};
use serde_json::Value;
use std::process::{Command, Stdio};

/// The Stripe emulator and a client for it (Stripe API + test control API).
#[derive(Debug)]
pub struct Emulator {
    pub base: String,
    pub(crate) agent: ureq::Agent,
    _process: Managed,
}

impl Emulator {
    pub fn start() -> Result<Self> {
        let mut command = Command::new(binary("stripe-emulator"));
        command
            .args(["--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file("stripe-emulator"));
        let mut process = Managed::spawn("stripe-emulator", command);
        let base = listening_address(&mut process.child, "stripe-emulator listening on ")?;
        Ok(Self {
            base,
            agent: agent(),
            _process: process,
        })
    }

    /// A Stripe API POST with a form body, as a Stripe client would send it.
    pub fn post(&self, path: &str, form: &[(&str, &str)], version: &str) -> Result<(u16, Value)> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {SECRET_KEY}"))
            .header("Stripe-Version", version)
            .send_form(form.iter().copied())?;
        read(response)
    }

    pub fn get(&self, path: &str, version: &str) -> Result<(u16, Value)> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {SECRET_KEY}"))
            .header("Stripe-Version", version)
            .call()?;
        read(response)
    }

    /// Creates an object and returns it, failing the test on any error status.
    pub fn create(&self, path: &str, form: &[(&str, &str)], version: &str) -> Result<Value> {
        match self.post(path, form, version)? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("POST {path} -> {status}: {body}").into()),
        }
    }

    pub fn session(&self, id: &str) -> Result<Value> {
        match self.get(
            &format!("/v1/checkout/sessions/{id}?expand[]=line_items"),
            GA_VERSION,
        )? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("GET session -> {status}: {body}").into()),
        }
    }

    /// Every /v1 request the emulator has seen, oldest first.
    pub fn requests(&self) -> Result<Vec<Value>> {
        let (_, body) = read(
            self.agent
                .get(format!("{}/_emulator/requests", self.base))
                .call()?,
        )?;
        Ok(body["data"].as_array().cloned().unwrap_or_default())
    }

    /// The requests that changed a session (`POST /v1/checkout/sessions/{id}`).
    pub fn session_updates(&self, id: &str) -> Result<Vec<Value>> {
        let path = format!("/v1/checkout/sessions/{id}");
        Ok(self
            .requests()?
            .into_iter()
            .filter(|r| r["method"] == "POST" && r["path"] == path.as_str())
            .collect())
    }

    pub fn inject_fault(&self, rule: &Value) -> Result<()> {
        let response = self
            .agent
            .post(format!("{}/_emulator/faults", self.base))
            .send_json(rule)?;
        let (status, body) = read(response)?;
        if status >= 300 {
            return Err(format!("fault rule refused: {status} {body}").into());
        }
        Ok(())
    }

    /// Completes an open session (as a paid checkout would); Stripe sends its webhook.
    /// Expires an open session through Stripe's API, as a shopper's abandoned checkout ends.
    pub fn expire_session(&self, id: &str, version: &str) -> Result<()> {
        match self.post(&format!("/v1/checkout/sessions/{id}/expire"), &[], version)? {
            (200, _) => Ok(()),
            (status, body) => Err(format!("expiring {id}: {status} {body}").into()),
        }
    }

    pub fn complete_session(&self, id: &str) -> Result<()> {
        let response = self
            .agent
            .post(format!(
                "{}/_emulator/checkout/sessions/{id}/complete",
                self.base
            ))
            .send_json(serde_json::json!({}))?;
        match read(response)? {
            (200, _) => Ok(()),
            (status, body) => Err(format!("completing {id}: {status} {body}").into()),
        }
    }

    /// Removes every fault rule: Stripe answers normally again.
    pub fn clear_faults(&self) -> Result<()> {
        self.agent
            .delete(format!("{}/_emulator/faults", self.base))
            .call()?;
        Ok(())
    }
}
