//! Stripe's JSON, reduced to the fields the planner needs. Deliberately lenient about everything else
//! so the same types read the preview (basil), GA (clover) and renamed (dahlia and later) dialects.

use super::gateway::CheckoutEvent;
use cart_domain::{
    Address, CheckoutSessionId, LineItemId, LineItemSnapshot, PaymentStatus, PriceId,
    PriceSnapshot, Recurring, RecurringInterval, SessionMode, SessionSnapshot, SessionStatus,
    ShippingDetails, ShippingOptionSnapshot, UiMode, UpdateLineItemsPermission,
};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
pub(super) struct Session {
    pub(super) id: String,
    status: Option<String>,
    #[serde(default)]
    payment_status: Option<String>,
    mode: String,
    ui_mode: Option<String>,
    permissions: Option<Permissions>,
    currency: Option<String>,
    amount_subtotal: Option<i64>,
    amount_total: Option<i64>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    expires_at: Option<i64>,
    pub(super) client_secret: Option<String>,
    pub(super) line_items: Option<List<LineItem>>,
    #[serde(default)]
    collected_information: Option<CollectedInformation>,
    #[serde(default)]
    shipping_options: Option<Vec<ShippingOption>>,
}

#[derive(Debug, Deserialize)]
struct CollectedInformation {
    #[serde(default)]
    shipping_details: Option<WireShippingDetails>,
}

#[derive(Debug, Deserialize)]
struct WireShippingDetails {
    name: Option<String>,
    address: Option<WireAddress>,
}

/// Stripe's address: every field nullable.
#[derive(Debug, Deserialize)]
struct WireAddress {
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ShippingOption {
    #[serde(default)]
    shipping_amount: i64,
    /// An id, or the rate itself when `shipping_options.shipping_rate` was expanded.
    #[serde(default)]
    shipping_rate: Option<IdOrObject<ShippingRate>>,
}

#[derive(Debug, Deserialize)]
struct ShippingRate {
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IdOrObject<T> {
    Id(String),
    Object(T),
}

/// `taxes[]` of a line item: the rate is an id or the expanded Tax Rate.
#[derive(Debug, Deserialize)]
struct LineItemTax {
    rate: Option<IdOrObject<TaxRate>>,
}

#[derive(Debug, Deserialize)]
struct TaxRate {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Permissions {
    update_line_items: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct List<T> {
    pub(super) data: Vec<T>,
    pub(super) has_more: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct LineItem {
    pub(super) id: String,
    price: Option<Price>,
    quantity: Option<u64>,
    amount_total: i64,
    /// Includable: present only because every read expands it (`line_items.data.taxes`); its
    /// absence would hide the item's rates, so it is required.
    taxes: Vec<LineItemTax>,
}

#[derive(Debug, Deserialize)]
struct Price {
    id: String,
    unit_amount: Option<i64>,
    recurring: Option<PriceRecurring>,
}

#[derive(Debug, Deserialize)]
struct PriceRecurring {
    interval: String,
    interval_count: u64,
}

/// An event of the event list, reduced to what the sweeper asks of it.
#[derive(Debug, Deserialize)]
pub(super) struct Event {
    pub(super) id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created: i64,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: EventObject,
}

#[derive(Debug, Deserialize)]
struct EventObject {
    id: String,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

impl Event {
    pub(super) fn into_checkout_event(self) -> CheckoutEvent {
        let reservation = self
            .data
            .object
            .metadata
            .and_then(|mut m| m.remove(cart_domain::RESERVATION_METADATA_KEY))
            .filter(|r| !r.is_empty());
        CheckoutEvent {
            id: self.id,
            kind: self.kind,
            session: self.data.object.id,
            reservation,
            created: self.created,
        }
    }
}

/// Stripe's error envelope.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorEnvelope {
    pub(super) error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(rename = "type")]
    pub(super) error_type: Option<String>,
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
    pub(super) param: Option<String>,
}

impl LineItem {
    fn into_snapshot(self) -> Result<LineItemSnapshot, String> {
        let id =
            LineItemId::parse(&self.id).map_err(|e| format!("line item id `{}` {e}", self.id))?;
        let price = self
            .price
            .ok_or_else(|| format!("line item {id} has no price"))?;
        let price_id =
            PriceId::parse(&price.id).map_err(|e| format!("price id `{}` {e}", price.id))?;
        Ok(LineItemSnapshot {
            id,
            price: PriceSnapshot {
                id: price_id,
                unit_amount: price.unit_amount,
                recurring: price.recurring.map(|r| Recurring {
                    interval: RecurringInterval::from_stripe(&r.interval),
                    interval_count: r.interval_count,
                }),
            },
            quantity: self.quantity.unwrap_or(0),
            amount_total: self.amount_total,
            tax_rates: self
                .taxes
                .into_iter()
                .filter_map(|tax| match tax.rate? {
                    IdOrObject::Id(id) => Some(id),
                    IdOrObject::Object(rate) => Some(rate.id),
                })
                .collect(),
        })
    }
}

impl Session {
    /// The snapshot, given every line item (the caller has paged past the expanded first page).
    pub(super) fn into_snapshot(
        self,
        line_items: Vec<LineItem>,
    ) -> Result<SessionSnapshot, String> {
        let id = CheckoutSessionId::parse(&self.id)
            .map_err(|e| format!("session id `{}` {e}", self.id))?;
        Ok(SessionSnapshot {
            id,
            status: SessionStatus::from_stripe(self.status.as_deref()),
            payment_status: PaymentStatus::from_stripe(self.payment_status.as_deref()),
            mode: SessionMode::from_stripe(&self.mode),
            ui_mode: UiMode::from_stripe(self.ui_mode.as_deref()),
            update_line_items_permission: UpdateLineItemsPermission::from_stripe(
                self.permissions
                    .as_ref()
                    .and_then(|p| p.update_line_items.as_deref()),
            ),
            currency: self.currency,
            amount_subtotal: self.amount_subtotal,
            amount_total: self.amount_total,
            metadata: self.metadata.unwrap_or_default(),
            expires_at: self.expires_at,
            line_items: line_items
                .into_iter()
                .map(LineItem::into_snapshot)
                .collect::<Result<_, _>>()?,
            shipping_details: self
                .collected_information
                .and_then(|c| c.shipping_details)
                .and_then(WireShippingDetails::into_details),
            shipping_options: self
                .shipping_options
                .unwrap_or_default()
                .into_iter()
                .map(|option| ShippingOptionSnapshot {
                    display_name: match option.shipping_rate {
                        Some(IdOrObject::Object(rate)) => rate.display_name,
                        _ => None,
                    },
                    amount: option.shipping_amount,
                })
                .collect(),
        })
    }
}

impl WireShippingDetails {
    /// Details without a country are no destination at all (nothing to ship to or tax by).
    fn into_details(self) -> Option<ShippingDetails> {
        let address = self.address?;
        Some(ShippingDetails {
            name: self.name.unwrap_or_default(),
            address: Address {
                line1: address.line1.unwrap_or_default(),
                line2: address.line2,
                city: address.city,
                state: address.state,
                postal_code: address.postal_code,
                country: address.country.filter(|c| !c.is_empty())?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(json: serde_json::Value) -> SessionSnapshot {
        let mut session: Session = serde_json::from_value(json).unwrap();
        let items = session
            .line_items
            .take()
            .map(|l| l.data)
            .unwrap_or_default();
        session.into_snapshot(items).unwrap()
    }

    fn line_items() -> serde_json::Value {
        serde_json::json!({"object": "list", "has_more": false, "url": "/v1/x", "data": [{
            "id": "li_1", "object": "item", "amount_total": 1500, "quantity": 1, "taxes": [],
            "price": {"id": "price_m", "object": "price", "type": "recurring",
                      "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
        }]})
    }

    #[test]
    fn preview_dialect_reads_custom_ui_and_the_permission() {
        let s = snapshot(serde_json::json!({
            "id": "cs_test_1", "object": "checkout.session", "status": "open", "mode": "subscription",
            "ui_mode": "custom", "permissions": {"update_line_items": "server_only", "update_shipping_details": null},
            "currency": "usd", "amount_subtotal": 1500, "amount_total": 1500, "metadata": {},
            "line_items": line_items()
        }));
        assert_eq!(s.ui_mode, UiMode::Elements);
        assert_eq!(
            s.update_line_items_permission,
            Some(UpdateLineItemsPermission::ServerOnly)
        );
        assert_eq!(
            s.line_items[0].price.recurring.unwrap().interval,
            RecurringInterval::Month
        );
    }

    #[test]
    fn ga_dialect_has_elements_and_no_line_item_permission() {
        let s = snapshot(serde_json::json!({
            "id": "cs_test_1", "object": "checkout.session", "status": "open", "mode": "subscription",
            "ui_mode": "elements", "permissions": {"update_shipping_details": "server_only"},
            "currency": "usd", "amount_subtotal": 1500, "amount_total": 1500, "metadata": null,
            "line_items": line_items(), "some_future_field": {"x": 1}
        }));
        assert_eq!(s.ui_mode, UiMode::Elements);
        assert_eq!(s.update_line_items_permission, None);
        assert_eq!(s.line_items.len(), 1);
        assert_eq!(s.shipping_details, None);
        assert!(s.shipping_options.is_empty());
    }

    #[test]
    fn the_destination_options_and_line_taxes_are_read() {
        let mut items = line_items();
        items["data"][0]["taxes"] = serde_json::json!([
            {"amount": 124, "rate": {"id": "txr_ca", "object": "tax_rate", "percentage": 8.25}},
            {"amount": 1, "rate": "txr_other"}
        ]);
        let s = snapshot(serde_json::json!({
            "id": "cs_test_1", "object": "checkout.session", "status": "open", "mode": "payment",
            "ui_mode": "elements", "currency": "usd", "amount_subtotal": 1500, "amount_total": 2124,
            "line_items": items,
            "collected_information": {"shipping_details": {"name": "Ada", "address": {
                "line1": "1 Main St", "line2": null, "city": "Springfield", "state": "CA",
                "postal_code": "94000", "country": "US"}}},
            "shipping_options": [
                {"shipping_amount": 500, "shipping_rate": {"id": "shr_1", "display_name": "Standard"}},
                {"shipping_amount": 1500, "shipping_rate": "shr_2"}
            ]
        }));
        let details = s.shipping_details.unwrap();
        assert_eq!(
            (details.name.as_str(), details.address.country.as_str()),
            ("Ada", "US")
        );
        assert_eq!(details.address.state.as_deref(), Some("CA"));
        assert_eq!(s.shipping_options.len(), 2);
        assert_eq!(
            s.shipping_options[0].display_name.as_deref(),
            Some("Standard")
        );
        assert_eq!(
            (
                s.shipping_options[1].display_name.as_deref(),
                s.shipping_options[1].amount
            ),
            (None, 1500)
        );
        assert_eq!(s.line_items[0].tax_rates, ["txr_ca", "txr_other"]);
    }

    #[test]
    fn an_item_read_without_its_taxes_expanded_is_refused_not_taken_as_untaxed() {
        // Stripe's default `item` (fixtures3.json) has no `taxes`: reading it as "no rates" would
        // make every taxed cart look changed and resend every no-op update.
        let mut items = line_items();
        items["data"][0].as_object_mut().unwrap().remove("taxes");
        let session = serde_json::from_value::<Session>(serde_json::json!({
            "id": "cs_test_1", "object": "checkout.session", "status": "open", "mode": "payment",
            "ui_mode": "elements", "currency": "usd", "line_items": items
        }));
        assert!(session.is_err());
    }
}
