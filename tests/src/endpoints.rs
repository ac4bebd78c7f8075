//! The HTTP endpoints of the functions. Method and route come from each function's
//! `[package.metadata.api]` (read through `cargo metadata`, the same table template.yaml and
//! openapi.yaml are checked against), so a route changed there changes it here.

use cart_domain::request::MAX_BODY_BYTES;
use cart_runtime::http::MAX_WEBHOOK_BODY_BYTES;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One HTTP function of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    ChangeInterval,
    UpdateQuantity,
    AddCrossSell,
    UpdateShipping,
    CreateSession,
    StripeWebhook,
}

/// Method and route of one function, as its manifest declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub method: String,
    pub route: String,
}

impl Endpoint {
    pub const ALL: [Self; 6] = [
        Self::ChangeInterval,
        Self::UpdateQuantity,
        Self::AddCrossSell,
        Self::UpdateShipping,
        Self::CreateSession,
        Self::StripeWebhook,
    ];
    /// The endpoints that change an existing session.
    pub const SESSION: [Self; 4] = [
        Self::ChangeInterval,
        Self::UpdateQuantity,
        Self::AddCrossSell,
        Self::UpdateShipping,
    ];
    /// The endpoints that take a cart request (all but the webhook).
    pub const CART: [Self; 5] = [
        Self::ChangeInterval,
        Self::UpdateQuantity,
        Self::AddCrossSell,
        Self::UpdateShipping,
        Self::CreateSession,
    ];

    /// The function's crate and binary name.
    pub const fn function(self) -> &'static str {
        match self {
            Self::ChangeInterval => "change-interval",
            Self::UpdateQuantity => "update-quantity",
            Self::AddCrossSell => "add-cross-sell",
            Self::UpdateShipping => "update-shipping",
            Self::CreateSession => "create-session",
            Self::StripeWebhook => "stripe-webhook",
        }
    }

    /// The largest body the function reads.
    pub const fn body_limit(self) -> usize {
        match self {
            Self::StripeWebhook => MAX_WEBHOOK_BODY_BYTES,
            _ => MAX_BODY_BYTES,
        }
    }

    pub fn route(self) -> &'static str {
        &self.api().route
    }

    pub fn method(self) -> &'static str {
        &self.api().method
    }

    fn api(self) -> &'static Api {
        manifests().get(self.function()).unwrap_or_else(|| {
            panic!(
                "functions/{}/Cargo.toml declares no [package.metadata.api]",
                self.function()
            )
        })
    }
}

/// `[package.metadata.api]` of every workspace crate that has one, by crate name.
pub fn manifests() -> &'static BTreeMap<String, Api> {
    static APIS: OnceLock<BTreeMap<String, Api>> = OnceLock::new();
    APIS.get_or_init(|| {
        read_manifests().unwrap_or_else(|e| panic!("reading the functions' manifests: {e}"))
    })
}

fn read_manifests() -> crate::Result<BTreeMap<String, Api>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(crate::process::repo_root().join("Cargo.toml"))
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)?;
    let packages = metadata["packages"].as_array().ok_or("no packages")?;
    Ok(packages
        .iter()
        .filter_map(|package| {
            let api = &package["metadata"]["api"];
            Some((
                package["name"].as_str()?.to_owned(),
                Api {
                    method: api["method"].as_str()?.to_owned(),
                    route: api["route"].as_str()?.to_owned(),
                },
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_with_a_route_is_one_endpoint() {
        let declared: Vec<&str> = manifests().keys().map(String::as_str).collect();
        let mut known: Vec<&str> = Endpoint::ALL.iter().map(|e| e.function()).collect();
        known.sort_unstable();
        assert_eq!(declared, known);
        assert_eq!(
            Endpoint::ChangeInterval.route(),
            "/change-subscription-interval"
        );
        assert!(Endpoint::ALL.iter().all(|e| e.method() == "POST"));
    }
}
