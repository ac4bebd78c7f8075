//! A session's amounts (subtotal, tax, shipping, total) and its JSON in each dialect, with the
//! expansions that JSON knows.

use crate::dialect::{Dialect, UiMode};
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::model::{Mode, Permission, Session, Status};
use crate::objects::{render_list, render_shipping_rate};
use crate::store::Store;
use crate::tax_rates::{render_tax_lines, TaxLine};
use serde_json::{json, Value};

/// How many line items an expanded session shows, as Stripe's default page.
const EXPANDED_LINE_ITEMS: usize = 10;

pub const SESSION_EXPANSIONS: &[&str] = &[
    "line_items",
    "line_items.data.price",
    "line_items.data.price.product",
    // Includable: present on each item only when asked for (they imply `line_items`).
    "line_items.data.taxes",
    "line_items.data.discounts",
    "shipping_options.shipping_rate",
    "shipping_cost.shipping_rate",
    "total_details.breakdown",
    // Accepted so clients can ask; the emulator has no such objects and keeps the id.
    "customer",
    "invoice",
    "payment_intent",
    "setup_intent",
    "subscription",
];

/// `GET /v1/checkout/sessions/:id/line_items` takes the same item paths under `data`.
pub const LINE_ITEM_EXPANSIONS: &[&str] = &[
    "data.price",
    "data.price.product",
    "data.taxes",
    "data.discounts",
];

impl Session {
    /// Sum of line item amounts. Inputs are bounded at validation time, so saturation never
    /// actually happens; it only keeps rendering panic-free.
    pub fn subtotal(&self, store: &Store) -> i64 {
        self.line_items
            .iter()
            .map(|item| item.amount(store))
            .fold(0i64, i64::saturating_add)
    }

    /// Tax over all line items: `(all tax, tax added on top of the subtotal)`.
    pub fn tax(&self, store: &Store) -> (i64, i64) {
        self.line_items
            .iter()
            .fold((0i64, 0i64), |(all, on_top), item| {
                let tax = item.tax(store);
                (
                    all.saturating_add(tax.total()),
                    on_top.saturating_add(tax.exclusive()),
                )
            })
    }

    /// What the customer pays: subtotal, shipping and the tax added on top.
    pub fn amount_total(&self, store: &Store) -> i64 {
        self.subtotal(store)
            .saturating_add(self.shipping_amount(store))
            .saturating_add(self.tax(store).1)
    }

    /// The selected (first) shipping rate's amount.
    pub fn shipping_amount(&self, store: &Store) -> i64 {
        self.shipping_options
            .first()
            .and_then(|id| store.shipping_rates.get(id))
            .map_or(0, |rate| rate.amount)
    }
}

/// `total_details.breakdown.taxes`: one entry per rate, summed over the line items.
fn tax_breakdown(session: &Session, store: &Store) -> Vec<Value> {
    let mut lines: Vec<TaxLine> = Vec::new();
    for item in &session.line_items {
        for line in item.tax(store).lines {
            match lines.iter_mut().find(|l| l.rate == line.rate) {
                Some(sum) => {
                    sum.amount = sum.amount.saturating_add(line.amount);
                    sum.taxable_amount = sum.taxable_amount.saturating_add(line.taxable_amount);
                }
                None => lines.push(line),
            }
        }
    }
    render_tax_lines(&lines, store)
}

pub fn render_by_id(
    store: &Store,
    id: &str,
    dialect: Dialect,
    expand: &Expand,
) -> Result<Value, ApiError> {
    let session = store
        .sessions
        .get(id)
        .ok_or_else(|| ApiError::no_such("checkout.session", id, "id", 404))?;
    Ok(render(session, store, dialect, expand))
}

/// The session as the API of `dialect` shows it.
pub fn render(session: &Session, store: &Store, dialect: Dialect, expand: &Expand) -> Value {
    let priced = session.mode != Mode::Setup;
    let subtotal = session.subtotal(store);
    let shipping = session.shipping_amount(store);
    let (tax, _) = session.tax(store);
    let total = session.amount_total(store);
    let rate_json = |id: &String, expanded: bool| match store.shipping_rates.get(id) {
        Some(rate) if expanded => render_shipping_rate(rate),
        _ => json!(id),
    };
    let shipping_options: Vec<Value> = session
        .shipping_options
        .iter()
        .map(|id| {
            json!({
                "shipping_amount": store.shipping_rates.get(id).map_or(0, |r| r.amount),
                "shipping_rate": rate_json(id, expand.has("shipping_options.shipping_rate")),
            })
        })
        .collect();
    let shipping_cost = session.shipping_options.first().map(|id| {
        json!({
            "amount_subtotal": shipping,
            "amount_tax": 0,
            "amount_total": shipping,
            "shipping_rate": rate_json(id, expand.has("shipping_cost.shipping_rate")),
        })
    });
    let permissions = session.permissions.map(|p| {
        let shipping = p
            .update_shipping_details
            .unwrap_or(Permission::ClientOnly)
            .as_str();
        if dialect.has_update_line_items_permission() {
            json!({
                "update_line_items": p.update_line_items.unwrap_or(Permission::ClientOnly).as_str(),
                "update_shipping_details": shipping,
            })
        } else {
            json!({ "update_shipping_details": shipping })
        }
    });
    let collected_information = session.shipping_details.as_ref().map(|d| {
        json!({
            "shipping_details": {
                "name": d.name,
                "address": {
                    "city": d.address.city,
                    "country": d.address.country,
                    "line1": d.address.line1,
                    "line2": d.address.line2,
                    "postal_code": d.address.postal_code,
                    "state": d.address.state,
                },
            },
        })
    });
    let payment_status = if session.mode == Mode::Setup {
        "no_payment_required"
    } else if session.paid {
        if total == 0 {
            "no_payment_required"
        } else {
            "paid"
        }
    } else {
        "unpaid"
    };
    // Hosted sessions have a payment page only while they can still be paid.
    let url = (session.ui_mode == UiMode::Hosted && session.status == Status::Open)
        .then(|| format!("https://checkout.stripe.com/c/pay/{}", session.id));
    let mut value = json!({
        "id": session.id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": priced.then_some(subtotal),
        "amount_total": priced.then_some(total),
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "cancel_url": session.cancel_url,
        "client_reference_id": session.client_reference_id,
        "client_secret": session.client_secret,
        "collected_information": collected_information,
        "consent": null,
        "consent_collection": null,
        "created": session.created,
        "currency": session.currency,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null,
        },
        "customer": session.customer,
        "customer_creation": "if_required",
        "customer_details": null,
        "customer_email": session.customer_email,
        "discounts": [],
        "expires_at": session.expires_at,
        "invoice": session.invoice,
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": session.metadata,
        "mode": session.mode.as_str(),
        "payment_intent": session.payment_intent,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "permissions": permissions,
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": session.setup_intent,
        "shipping_address_collection": session.allowed_countries.as_ref().map(|c| json!({ "allowed_countries": c })),
        "shipping_cost": shipping_cost,
        "shipping_options": shipping_options,
        "status": session.status.as_str(),
        "submit_type": null,
        "subscription": session.subscription,
        "success_url": session.success_url,
        "total_details": priced.then(|| {
            let mut details = json!({
                "amount_discount": 0,
                "amount_shipping": shipping,
                "amount_tax": tax,
            });
            if expand.has("total_details.breakdown") {
                details["breakdown"] = json!({
                    "discounts": [],
                    "taxes": tax_breakdown(session, store),
                });
            }
            details
        }),
        "ui_mode": dialect.ui_mode_name(session.ui_mode),
        "url": url,
    });
    let Value::Object(map) = &mut value else {
        return value;
    };
    // Optional rather than nullable: Stripe's default object has no `return_url`; it appears on
    // sessions given one (stripe-python `checkout/_session.py`: "Applies to Checkout Sessions
    // with `ui_mode: embedded_page` or `ui_mode: elements`").
    if let Some(url) = &session.return_url {
        map.insert("return_url".into(), json!(url));
    }
    if expand.has("line_items") {
        let item_expand = expand.under("line_items.data");
        let data: Vec<Value> = session
            .line_items
            .iter()
            .take(EXPANDED_LINE_ITEMS)
            .map(|item| item.render(store, &item_expand))
            .collect();
        map.insert(
            "line_items".into(),
            render_list(
                data,
                session.line_items.len() > EXPANDED_LINE_ITEMS,
                &format!("/v1/checkout/sessions/{}/line_items", session.id),
            ),
        );
    }
    value
}
