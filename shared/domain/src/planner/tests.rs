use super::*;
use crate::catalog::{CartMode, Complimentary, Offer, Plan, Product, QuantityBounds};
use crate::ids::{CheckoutSessionId, LineItemId, PriceId};
use crate::session::{
    Address, LineItemSnapshot, PaymentStatus, PriceSnapshot, Recurring, RecurringInterval,
    SessionMode, SessionStatus, RESERVATION_METADATA_KEY,
};
use crate::terms::{Interval, Sku};
use proptest::prelude::*;
use std::collections::BTreeMap;

const GA: UpdatePolicy = UpdatePolicy {
    require_server_only_permission: false,
    require_own_session: true,
};

fn price(id: &str) -> PriceId {
    PriceId::parse(id).unwrap()
}

fn catalog(plans: usize) -> Catalog {
    Catalog::new(
        (0..plans)
            .map(|n| Plan {
                id: format!("plan{n}"),
                monthly: price(&format!("price_p{n}_month")),
                yearly: price(&format!("price_p{n}_year")),
                quantity: QuantityBounds::default(),
            })
            .collect(),
        vec![],
    )
    .unwrap()
}

fn item(
    n: usize,
    price_id: &str,
    recurring: Option<RecurringInterval>,
    quantity: u64,
) -> LineItemSnapshot {
    LineItemSnapshot {
        id: LineItemId::parse(&format!("li_{n}")).unwrap(),
        price: PriceSnapshot {
            id: price(price_id),
            unit_amount: Some(amount_of(price_id)),
            recurring: recurring.map(|interval| Recurring {
                interval,
                interval_count: 1,
            }),
        },
        quantity,
        amount_total: 0,
        tax_rates: vec![],
    }
}

/// Unit amounts the fake "Stripe" knows (and the shop catalog repeats for its products).
fn amount_of(price_id: &str) -> i64 {
    match price_id {
        "price_tee" => 2_500,
        "price_sticker" => 500,
        "price_gift" => 0,
        "price_mug" => 1_200,
        p if p.ends_with("_year") => 15_000,
        _ => 1_500,
    }
}

fn session(items: Vec<LineItemSnapshot>) -> SessionSnapshot {
    SessionSnapshot {
        id: CheckoutSessionId::parse("cs_test_1").unwrap(),
        status: SessionStatus::Open,
        payment_status: PaymentStatus::Unpaid,
        mode: SessionMode::Subscription,
        ui_mode: UiMode::Elements,
        update_line_items_permission: Some(UpdateLineItemsPermission::ServerOnly),
        currency: Some("usd".into()),
        amount_subtotal: Some(0),
        amount_total: Some(0),
        metadata: BTreeMap::from([(RESERVATION_METADATA_KEY.into(), "rsv_1".into())]),
        expires_at: None,
        line_items: items,
        shipping_details: None,
        shipping_options: vec![],
    }
}

fn monthly_cart() -> SessionSnapshot {
    session(vec![
        item(1, "price_setup", None, 1),
        item(2, "price_p0_month", Some(RecurringInterval::Month), 3),
        item(3, "price_sticker", None, 2),
    ])
}

fn yearly() -> CartAction {
    CartAction::ChangeInterval(Interval::Yearly)
}

fn keep(n: usize) -> PlannedLineItem {
    PlannedLineItem::Keep {
        id: LineItemId::parse(&format!("li_{n}")).unwrap(),
    }
}

fn set(n: usize, quantity: u64) -> CartAction {
    CartAction::SetQuantity {
        line_item: LineItemId::parse(&format!("li_{n}")).unwrap(),
        quantity,
    }
}

fn tee_cart() -> SessionSnapshot {
    session(vec![
        item(1, "price_p0_month", Some(RecurringInterval::Month), 1),
        item(2, "price_tee", None, 2),
        item(3, "price_sticker", None, 1),
    ])
}

/// The shop with offers and a gift: a mug (one-time) for any cart, a support plan add-on for
/// carts with plan0, and a free gift for one-off carts from $50.
fn shop_with_rules() -> Catalog {
    let mut plans = vec![
        Plan {
            id: "plan0".into(),
            monthly: price("price_p0_month"),
            yearly: price("price_p0_year"),
            quantity: QuantityBounds::default(),
        },
        Plan {
            id: "support".into(),
            monthly: price("price_support_month"),
            yearly: price("price_support_year"),
            quantity: QuantityBounds { min: 1, max: 1 },
        },
    ];
    plans.truncate(2);
    let product = |id: &str, sku: Option<&str>, max: u64| Product {
        price: price(id),
        sku: sku.and_then(Sku::parse),
        quantity: QuantityBounds { min: 1, max },
        unit_amount: Some(amount_of(id)),
    };
    Catalog::new(
        plans,
        vec![
            product("price_tee", Some("TEE"), 9),
            product("price_sticker", None, 99),
            product("price_mug", Some("MUG"), 2),
            product("price_gift", Some("GIFT"), 1),
        ],
    )
    .unwrap()
    .with_rules(
        vec![
            Offer {
                plan: None,
                price: Some(price("price_mug")),
                requires: vec![],
            },
            Offer {
                plan: Some("support".into()),
                price: None,
                requires: vec!["plan0".into()],
            },
        ],
        Some(Complimentary {
            price: price("price_gift"),
            threshold: 5_000,
            eligible_modes: vec![CartMode::Payment],
        }),
    )
    .unwrap()
}

fn one_off(items: Vec<LineItemSnapshot>) -> SessionSnapshot {
    let mut s = session(items);
    s.mode = SessionMode::Payment;
    s
}

fn add(p: &str) -> CartAction {
    CartAction::AddOffer(price(p))
}

fn plan_ok(cart: &SessionSnapshot, action: &CartAction, catalog: &Catalog) -> CartPlan {
    plan(cart, action, catalog, GA).unwrap()
}

/// Applies a plan the way Stripe would, with fresh ids for added items.
fn apply(cart: &SessionSnapshot, plan: &CartPlan, next_id: &mut usize) -> SessionSnapshot {
    let mut out = cart.clone();
    out.line_items = plan
        .line_items
        .iter()
        .map(|planned| match planned {
            PlannedLineItem::Keep { id } => cart
                .line_items
                .iter()
                .find(|li| &li.id == id)
                .cloned()
                .unwrap(),
            PlannedLineItem::Update { id, quantity } => {
                let mut li = cart
                    .line_items
                    .iter()
                    .find(|li| &li.id == id)
                    .cloned()
                    .unwrap();
                li.quantity = *quantity;
                li
            }
            PlannedLineItem::Add { price, quantity } => {
                *next_id += 1;
                let recurring = if price.as_str().ends_with("_year") {
                    Some(RecurringInterval::Year)
                } else if price.as_str().ends_with("_month") {
                    Some(RecurringInterval::Month)
                } else {
                    None
                };
                item(*next_id, price.as_str(), recurring, *quantity)
            }
        })
        .collect();
    if let Some(rates) = &plan.tax_rates {
        for li in &mut out.line_items {
            li.tax_rates.clone_from(rates);
        }
    }
    if let Some(details) = &plan.shipping_details {
        out.shipping_details = Some(details.clone());
    }
    if let Some(options) = &plan.shipping_options {
        out.shipping_options = options
            .iter()
            .map(|o| crate::session::ShippingOptionSnapshot {
                display_name: Some(o.display_name.clone()),
                amount: o.amount,
            })
            .collect();
    }
    out
}

/// The shop with shipping: standard $5 (3-5 days) and express $15 below $50, free standard and
/// express $10 from $50; US and Canada; tax for the US, a state rate for California.
fn shop_with_shipping() -> Catalog {
    let json = r#"{"countries":["US","CA"],"tiers":[
        {"id":"std","display_name":"Standard","amount":500,"below":5000,"min_days":3,"max_days":5},
        {"id":"express","display_name":"Express","amount":1500,"below":5000,"min_days":1,"max_days":2},
        {"id":"free","display_name":"Free shipping","amount":0,"from":5000,"min_days":3,"max_days":5},
        {"id":"express_discounted","display_name":"Express","amount":1000,"from":5000,"min_days":1,"max_days":2}]}"#;
    let rates = r#"[{"country":"US","tax_rate":"txr_us"},{"country":"US","state":"CA","tax_rate":"txr_ca"}]"#;
    shop_with_rules()
        .with_shipping(
            Some(serde_json::from_str(json).unwrap()),
            serde_json::from_str(rates).unwrap(),
        )
        .unwrap()
}

fn ship_to(country: &str, state: Option<&str>) -> CartAction {
    CartAction::SetShipping {
        name: "Ada".into(),
        address: Address {
            line1: "1 Main St".into(),
            line2: None,
            city: Some("Springfield".into()),
            state: state.map(str::to_owned),
            postal_code: Some("94000".into()),
            country: country.into(),
        },
    }
}

fn options_of(plan: &CartPlan) -> Vec<(String, i64)> {
    plan.shipping_options
        .iter()
        .flatten()
        .map(|o| (o.display_name.clone(), o.amount))
        .collect()
}

mod interval;
mod limits;
mod offers;
mod properties;
mod quantity;
mod shipping;
mod updatable;
