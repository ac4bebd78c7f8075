//! Stripe's JSON, reduced to the fields the planner needs. Deliberately lenient about everything else
//! so the same types read the preview (basil), GA (clover) and renamed (dahlia and later) dialects.

use cart_validation::{
    CheckoutSessionId, LineItemId, LineItemSnapshot, PriceId, PriceSnapshot, Recurring,
    RecurringInterval, SessionMode, SessionSnapshot, SessionStatus, UiMode,
    UpdateLineItemsPermission,
};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
pub(super) struct Session {
    pub(super) id: String,
    status: Option<String>,
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
            "id": "li_1", "object": "item", "amount_total": 1500, "quantity": 1,
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
    }
}
