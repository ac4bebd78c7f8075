//! What the planner knows about a Checkout Session: only the fields the rules need, in
//! API-version-neutral form (the I/O side maps both the preview and the GA dialects onto these).

use crate::catalog::Catalog;
use crate::ids::{CheckoutSessionId, LineItemId, PriceId};
use crate::terms::Sku;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
    /// A status this code does not know; never updatable.
    Unknown,
}

impl SessionStatus {
    pub fn from_stripe(raw: Option<&str>) -> Self {
        match raw {
            Some("open") => Self::Open,
            Some("complete") => Self::Complete,
            Some("expired") => Self::Expired,
            _ => Self::Unknown,
        }
    }
}

/// Whether the money of a session has arrived. With delayed payment methods (bank debits,
/// vouchers) a session completes `unpaid`, and is paid or not days later (Stripe's fulfilment
/// guide: fulfil on `paid`, `no_payment_required` or `checkout.session.async_payment_succeeded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    Unpaid,
    NoPaymentRequired,
    Unknown,
}

impl PaymentStatus {
    pub fn from_stripe(raw: Option<&str>) -> Self {
        match raw {
            Some("paid") => Self::Paid,
            Some("unpaid") => Self::Unpaid,
            Some("no_payment_required") => Self::NoPaymentRequired,
            _ => Self::Unknown,
        }
    }

    /// The money is in (or none is owed): the goods are sold.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Paid | Self::NoPaymentRequired)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    Payment,
    Subscription,
    Setup,
    Unknown,
}

impl SessionMode {
    pub fn from_stripe(raw: &str) -> Self {
        match raw {
            "payment" => Self::Payment,
            "subscription" => Self::Subscription,
            "setup" => Self::Setup,
            _ => Self::Unknown,
        }
    }
}

/// The session's UI. Stripe renamed the values in `2026-03-25.dahlia` (custom → elements,
/// hosted → hosted_page, embedded → embedded_page); both spellings map to the same variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiMode {
    /// Elements with the Checkout Sessions API (`custom` before dahlia, `elements` from dahlia).
    Elements,
    Hosted,
    Embedded,
    Unknown,
}

impl UiMode {
    pub fn from_stripe(raw: Option<&str>) -> Self {
        match raw {
            Some("custom" | "elements") => Self::Elements,
            Some("hosted" | "hosted_page") => Self::Hosted,
            Some("embedded" | "embedded_page") => Self::Embedded,
            _ => Self::Unknown,
        }
    }
}

/// `permissions.update_line_items` (preview API only; the GA API has no such field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateLineItemsPermission {
    ServerOnly,
    ClientOnly,
}

impl UpdateLineItemsPermission {
    pub fn from_stripe(raw: Option<&str>) -> Option<Self> {
        match raw {
            Some("server_only") => Some(Self::ServerOnly),
            Some("client_only") => Some(Self::ClientOnly),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurringInterval {
    Day,
    Week,
    Month,
    Year,
    Unknown,
}

impl RecurringInterval {
    pub fn from_stripe(raw: &str) -> Self {
        match raw {
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => Self::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recurring {
    pub interval: RecurringInterval,
    pub interval_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceSnapshot {
    pub id: PriceId,
    /// Minor units per unit (None for tiered or custom-amount prices).
    pub unit_amount: Option<i64>,
    /// `None` for one-time prices.
    pub recurring: Option<Recurring>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItemSnapshot {
    pub id: LineItemId,
    pub price: PriceSnapshot,
    pub quantity: u64,
    pub amount_total: i64,
    /// Ids of the tax rates Stripe applies to this item (`taxes[].rate`), empty when untaxed.
    pub tax_rates: Vec<String>,
}

/// A postal address (Stripe's `address` shape). A shopper's request must give `line1`, `city`,
/// `postal_code` and `country`; what Stripe holds may lack some, so they are optional here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// Who and where the order ships to (`collected_information.shipping_details`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingDetails {
    pub name: String,
    pub address: Address,
}

/// One shipping option the session offers now (`shipping_options[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOptionSnapshot {
    /// `shipping_rate.display_name` when the rate was expanded.
    pub display_name: Option<String>,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    pub id: CheckoutSessionId,
    pub status: SessionStatus,
    pub payment_status: PaymentStatus,
    pub mode: SessionMode,
    pub ui_mode: UiMode,
    pub update_line_items_permission: Option<UpdateLineItemsPermission>,
    pub currency: Option<String>,
    pub amount_subtotal: Option<i64>,
    pub amount_total: Option<i64>,
    pub metadata: BTreeMap<String, String>,
    /// Unix seconds after which Stripe expires the session.
    pub expires_at: Option<i64>,
    /// Every line item, in Stripe's order.
    pub line_items: Vec<LineItemSnapshot>,
    /// The shipping details Stripe holds, if any: their address is the tax and shipping destination.
    pub shipping_details: Option<ShippingDetails>,
    /// The shipping options Stripe offers now, in order (the first is selected).
    pub shipping_options: Vec<ShippingOptionSnapshot>,
}

/// Metadata key this app sets on every session it creates: the reservation that holds the
/// session's stock, and the mark that the session is this app's to change.
pub const RESERVATION_METADATA_KEY: &str = "cart_reservation";

impl SessionSnapshot {
    /// The session's stock reservation; `None` for sessions this app did not create.
    pub fn reservation(&self) -> Option<&str> {
        self.metadata
            .get(RESERVATION_METADATA_KEY)
            .map(String::as_str)
            .filter(|r| !r.is_empty())
    }

    /// Units of each stock-tracked SKU in the cart (the catalog says which prices draw on which).
    pub fn units_by_sku(&self, catalog: &Catalog) -> BTreeMap<Sku, u64> {
        let mut units: BTreeMap<Sku, u64> = BTreeMap::new();
        for item in &self.line_items {
            if let Some(sku) = catalog.item(&item.price.id).and_then(|i| i.sku()) {
                *units.entry(sku.clone()).or_default() += item.quantity;
            }
        }
        units
    }
}

/// The session as the browser sees it in a success response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    pub id: CheckoutSessionId,
    pub status: SessionStatus,
    pub currency: Option<String>,
    pub amount_subtotal: Option<i64>,
    pub amount_total: Option<i64>,
    pub line_items: Vec<SummaryLineItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryLineItem {
    pub id: LineItemId,
    pub price: PriceId,
    pub quantity: u64,
    pub amount_total: i64,
}

impl From<&SessionSnapshot> for SessionSummary {
    fn from(s: &SessionSnapshot) -> Self {
        Self {
            id: s.id.clone(),
            status: s.status,
            currency: s.currency.clone(),
            amount_subtotal: s.amount_subtotal,
            amount_total: s.amount_total,
            line_items: s
                .line_items
                .iter()
                .map(|li| SummaryLineItem {
                    id: li.id.clone(),
                    price: li.price.id.clone(),
                    quantity: li.quantity,
                    amount_total: li.amount_total,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ui_mode_dialects_mean_the_same_thing() {
        assert_eq!(UiMode::from_stripe(Some("custom")), UiMode::Elements);
        assert_eq!(UiMode::from_stripe(Some("elements")), UiMode::Elements);
        assert_eq!(UiMode::from_stripe(Some("hosted_page")), UiMode::Hosted);
        assert_eq!(UiMode::from_stripe(Some("embedded")), UiMode::Embedded);
        assert_eq!(UiMode::from_stripe(Some("pixel")), UiMode::Unknown);
        assert_eq!(UiMode::from_stripe(None), UiMode::Unknown);
    }
}
