//! A Checkout Session as the store keeps it: one canonical form whatever the dialect of the
//! request that made it, with its line items, permissions and shipping details.

use crate::dialect::UiMode;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Payment,
    Subscription,
    Setup,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Subscription => "subscription",
            Self::Setup => "setup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Complete,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ClientOnly,
    ServerOnly,
}

impl Permission {
    pub const NAMES: [&'static str; 2] = ["client_only", "server_only"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "client_only" => Some(Self::ClientOnly),
            "server_only" => Some(Self::ServerOnly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientOnly => "client_only",
            Self::ServerOnly => "server_only",
        }
    }
}

/// `None` fields were not sent; they render as Stripe's default `client_only`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Permissions {
    pub update_line_items: Option<Permission>,
    pub update_shipping_details: Option<Permission>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub city: Option<String>,
    pub country: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingDetails {
    pub name: String,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    pub mode: Mode,
    pub ui_mode: UiMode,
    /// `None` when created without any `permissions` parameter (renders as `null`).
    pub permissions: Option<Permissions>,
    pub status: Status,
    pub paid: bool,
    /// Set when the session completed with a delayed payment method (`payment_status: unpaid`).
    pub async_payment: Option<AsyncPayment>,
    pub currency: Option<String>,
    pub line_items: Vec<LineItem>,
    pub metadata: BTreeMap<String, String>,
    pub return_url: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub client_secret: Option<String>,
    /// Shipping rate ids, in order; the first is the selected one.
    pub shipping_options: Vec<String>,
    pub allowed_countries: Option<Vec<String>>,
    pub shipping_details: Option<ShippingDetails>,
    pub customer: Option<String>,
    pub payment_intent: Option<String>,
    pub setup_intent: Option<String>,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
}

/// Where a delayed payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncPayment {
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdjustableQuantity {
    pub enabled: bool,
    pub maximum: Option<i64>,
    pub minimum: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub id: String,
    pub price: String,
    pub quantity: i64,
    pub metadata: BTreeMap<String, String>,
    pub adjustable_quantity: Option<AdjustableQuantity>,
    /// `txr_` ids, in the order given.
    pub tax_rates: Vec<String>,
}
