//! In-process micro-benchmarks of the pure rules: request parsing, catalog loading and the cart
//! planner.
//!
//! ```sh
//! cargo bench -p cart-domain --bench planner            # divan's table
//! cargo bench -p cart-domain --bench planner -- plan    # only benchmarks whose path matches
//! cargo test -p cart-domain --benches                   # each benchmark once, as a smoke test
//! ```
//!
//! Everything is built through the crate's public API: the same JSON bodies the handlers receive,
//! a store catalog parsed with [`Catalog::from_json`], and sessions shaped like the ones the
//! runtime maps from Stripe. Two carts per action: a typical one (a plan and three one-time
//! items) and a large one (a plan and nineteen items, the most a new cart may hold).

use cart_domain::request::{self, MAX_CART_ITEMS};
use cart_domain::{
    plan, Address, CartAction, CartPlan, Catalog, CheckoutSessionId, Interval, LineItemId,
    LineItemSnapshot, PaymentStatus, PriceId, PriceSnapshot, Recurring, RecurringInterval,
    Rejection, SessionMode, SessionSnapshot, SessionStatus, ShippingDetails, UiMode, UpdatePolicy,
    RESERVATION_METADATA_KEY,
};
use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

/// The example catalog the local stack ships (one plan).
const EXAMPLE_CATALOG: &str = include_str!("../../../infra/local/catalog.example.json");

/// One-time products of the store catalog below; a large cart holds all but the cross-sell.
const PRODUCTS: usize = MAX_CART_ITEMS;

/// Policy of the generally available Stripe API, as deployed by default.
const GA: UpdatePolicy = UpdatePolicy {
    require_server_only_permission: false,
    require_own_session: true,
};

fn main() {
    // Refuse to time an error path by accident: every planned action must succeed and change
    // something, in both carts.
    for cart in Cart::ALL {
        for action in Action::ALL {
            let planned = action
                .plan(cart.session())
                .unwrap_or_else(|e| panic!("{action:?} on the {cart} cart is refused: {e:?}"));
            assert!(
                !planned.is_noop(),
                "{action:?} on the {cart} cart changes nothing"
            );
        }
    }
    divan::main();
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// Price id of the n-th one-time product of the store catalog.
fn product_price(n: usize) -> String {
    format!("price_1Product{n:02}Example")
}

/// Unit amount (cents) of the n-th product: $3.00 to $41.00.
fn product_amount(n: usize) -> i64 {
    let n = i64::try_from(n).unwrap_or(0);
    300 + 200 * n
}

/// A store catalog with every feature the planner reads: two plans (one of them a cross-sell
/// add-on), [`PRODUCTS`] one-time products (every other one stock-tracked), two offers, a
/// complimentary gift, four shipping tiers and three tax rules.
fn store_catalog_json() -> String {
    let mut products: Vec<String> = (0..PRODUCTS)
        .map(|n| {
            let sku = if n % 2 == 0 {
                format!(r#", "sku": "SKU-{n:02}""#)
            } else {
                String::new()
            };
            format!(
                r#"{{ "price": "{}", "unit_amount": {}, "quantity": {{ "min": 1, "max": 10 }}{sku} }}"#,
                product_price(n),
                product_amount(n)
            )
        })
        .collect();
    products.push(
        r#"{ "price": "price_1PosterExample", "unit_amount": 1800, "sku": "POSTER", "quantity": { "min": 1, "max": 2 } }"#.into(),
    );
    products.push(r#"{ "price": "price_1GiftExample", "unit_amount": 0, "sku": "GIFT", "quantity": { "min": 1, "max": 1 } }"#.into());
    format!(
        r#"{{
  "plans": [
    {{ "id": "pro", "monthly": "price_1ProMonthlyExample", "yearly": "price_1ProYearlyExample", "quantity": {{ "min": 1, "max": 50 }} }},
    {{ "id": "support", "monthly": "price_1SupportMonthlyExample", "yearly": "price_1SupportYearlyExample", "quantity": {{ "min": 1, "max": 1 }} }}
  ],
  "products": [
    {}
  ],
  "offers": [
    {{ "price": "price_1PosterExample" }},
    {{ "plan": "support", "requires": ["pro"] }}
  ],
  "complimentary": {{ "price": "price_1GiftExample", "threshold": 5000 }},
  "shipping": {{
    "countries": ["US", "CA", "GB", "DE", "FR"],
    "tiers": [
      {{ "id": "standard", "display_name": "Standard", "amount": 500, "below": 5000, "min_days": 3, "max_days": 5 }},
      {{ "id": "express", "display_name": "Express", "amount": 1500, "below": 5000, "min_days": 1, "max_days": 2 }},
      {{ "id": "free", "display_name": "Free shipping", "amount": 0, "from": 5000, "min_days": 3, "max_days": 5 }},
      {{ "id": "express_plus", "display_name": "Express", "amount": 1000, "from": 5000, "min_days": 1, "max_days": 2 }}
    ]
  }},
  "tax_rates": [
    {{ "country": "US", "tax_rate": "txr_1UsExample" }},
    {{ "country": "US", "state": "CA", "tax_rate": "txr_1UsCaExample" }},
    {{ "country": "CA", "tax_rate": "txr_1CaExample" }}
  ]
}}"#,
        products.join(",\n    ")
    )
}

static STORE_CATALOG_JSON: LazyLock<String> = LazyLock::new(store_catalog_json);

static STORE: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::from_json(&STORE_CATALOG_JSON).expect("the benchmark's store catalog is valid")
});

fn price(id: &str) -> PriceId {
    PriceId::parse(id).expect("a valid price id")
}

fn line_item_id(n: usize) -> LineItemId {
    LineItemId::parse(&format!("li_1Bench{n:02}")).expect("a valid line item id")
}

fn address(country: &str, state: Option<&str>) -> Address {
    Address {
        line1: "500 Market Street".into(),
        line2: Some("Suite 200".into()),
        city: Some("San Francisco".into()),
        state: state.map(str::to_owned),
        postal_code: Some("94105".into()),
        country: country.into(),
    }
}

/// A line item as the runtime maps it from Stripe, taxed at the US/California rate (the cart's
/// destination).
fn line_item(
    n: usize,
    price_id: &str,
    unit: i64,
    quantity: u64,
    monthly: bool,
) -> LineItemSnapshot {
    LineItemSnapshot {
        id: line_item_id(n),
        price: PriceSnapshot {
            id: price(price_id),
            unit_amount: Some(unit),
            recurring: monthly.then_some(Recurring {
                interval: RecurringInterval::Month,
                interval_count: 1,
            }),
        },
        quantity,
        amount_total: unit.saturating_mul(i64::try_from(quantity).unwrap_or(i64::MAX)),
        tax_rates: vec!["txr_1UsCaExample".into()],
    }
}

/// An open Elements subscription session of this app, shipping to California: a monthly plan,
/// then `products` one-time items.
fn subscription_cart(products: usize) -> SessionSnapshot {
    let mut items = vec![line_item(0, "price_1ProMonthlyExample", 1_500, 2, true)];
    items.extend(
        (0..products).map(|n| line_item(n + 1, &product_price(n), product_amount(n), 1, false)),
    );
    let subtotal = items.iter().map(|li| li.amount_total).sum();
    SessionSnapshot {
        id: CheckoutSessionId::parse("cs_test_a1BenchmarkSession").expect("a valid session id"),
        status: SessionStatus::Open,
        payment_status: PaymentStatus::Unpaid,
        mode: SessionMode::Subscription,
        ui_mode: UiMode::Elements,
        update_line_items_permission: None,
        currency: Some("usd".into()),
        amount_subtotal: Some(subtotal),
        amount_total: Some(subtotal),
        metadata: BTreeMap::from([(
            RESERVATION_METADATA_KEY.to_owned(),
            "rsv_0123456789abcdef".to_owned(),
        )]),
        expires_at: Some(1_900_000_000),
        line_items: items,
        shipping_details: Some(ShippingDetails {
            name: "Ada Lovelace".into(),
            address: address("US", Some("CA")),
        }),
        shipping_options: vec![],
    }
}

static TYPICAL: LazyLock<SessionSnapshot> = LazyLock::new(|| subscription_cart(3));
static LARGE: LazyLock<SessionSnapshot> = LazyLock::new(|| subscription_cart(MAX_CART_ITEMS - 1));

#[derive(Debug, Clone, Copy)]
enum Cart {
    /// A plan and three one-time items.
    Typical,
    /// A plan and nineteen one-time items (20 line items).
    Large,
}

impl Cart {
    const ALL: [Self; 2] = [Self::Typical, Self::Large];

    fn session(self) -> &'static SessionSnapshot {
        match self {
            Self::Typical => &TYPICAL,
            Self::Large => &LARGE,
        }
    }
}

impl fmt::Display for Cart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = self.session().line_items.len();
        match self {
            Self::Typical => write!(f, "typical_{items}_items"),
            Self::Large => write!(f, "large_{items}_items"),
        }
    }
}

/// Every [`CartAction`], each one that changes the cart it is applied to.
#[derive(Debug, Clone, Copy)]
enum Action {
    ChangeInterval,
    SetQuantity,
    AddOffer,
    SetShipping,
}

impl Action {
    const ALL: [Self; 4] = [
        Self::ChangeInterval,
        Self::SetQuantity,
        Self::AddOffer,
        Self::SetShipping,
    ];

    /// The action, aimed at the worst place in `session` where there is a choice (the last
    /// line item for a quantity change).
    fn build(self, session: &SessionSnapshot) -> CartAction {
        match self {
            Self::ChangeInterval => CartAction::ChangeInterval(Interval::Yearly),
            Self::SetQuantity => CartAction::SetQuantity {
                line_item: session
                    .line_items
                    .last()
                    .map(|li| li.id.clone())
                    .expect("the cart is not empty"),
                quantity: 3,
            },
            Self::AddOffer => CartAction::AddOffer(price("price_1PosterExample")),
            Self::SetShipping => CartAction::SetShipping {
                name: "Ada Lovelace".into(),
                address: address("CA", Some("ON")),
            },
        }
    }

    fn plan(self, session: &SessionSnapshot) -> Result<CartPlan, Rejection> {
        plan(session, &self.build(session), &STORE, GA)
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies, as the browser sends them
// ---------------------------------------------------------------------------------------------

const CHANGE_INTERVAL_BODY: &[u8] =
    br#"{"checkout_session_id":"cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ","interval":"yearly"}"#;

const UPDATE_QUANTITY_BODY: &[u8] = br#"{"checkout_session_id":"cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ","line_item_id":"li_1PqRsTuVwXyZ0123456789ab","quantity":3}"#;

const ADD_CROSS_SELL_BODY: &[u8] = br#"{"checkout_session_id":"cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ","price_id":"price_1PosterExample"}"#;

const UPDATE_SHIPPING_BODY: &[u8] = br#"{"checkout_session_id":"cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ","shipping_details":{"name":"Ada Lovelace","address":{"line1":"500 Market Street","line2":"Suite 200","city":"San Francisco","state":"CA","postal_code":"94105","country":"US"}}}"#;

/// A create-session body with a plan and `products` one-time items.
fn create_session_body(products: usize) -> Vec<u8> {
    let mut items = vec![r#"{"price":"price_1ProMonthlyExample","quantity":1}"#.to_owned()];
    items.extend(
        (0..products).map(|n| format!(r#"{{"price":"{}","quantity":2}}"#, product_price(n))),
    );
    format!(r#"{{"items":[{}],"mode":"subscription"}}"#, items.join(",")).into_bytes()
}

static CREATE_SESSION_TYPICAL: LazyLock<Vec<u8>> = LazyLock::new(|| create_session_body(3));
static CREATE_SESSION_LARGE: LazyLock<Vec<u8>> =
    LazyLock::new(|| create_session_body(MAX_CART_ITEMS - 1));

// ---------------------------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------------------------

/// Wire body -> validated command, per endpoint (JSON parse + every field check).
mod parse_request {
    use super::*;

    fn run<T>(bencher: Bencher, body: &'static [u8], parse: fn(&[u8]) -> Result<T, Rejection>) {
        assert!(parse(body).is_ok(), "the benchmark body is valid");
        bencher
            .counter(BytesCount::of_slice(body))
            .bench(|| parse(black_box(body)));
    }

    #[divan::bench]
    fn change_interval(bencher: Bencher) {
        run(bencher, CHANGE_INTERVAL_BODY, request::change_interval);
    }

    #[divan::bench]
    fn update_quantity(bencher: Bencher) {
        run(bencher, UPDATE_QUANTITY_BODY, request::update_quantity);
    }

    #[divan::bench]
    fn add_cross_sell(bencher: Bencher) {
        run(bencher, ADD_CROSS_SELL_BODY, request::add_cross_sell);
    }

    #[divan::bench]
    fn update_shipping(bencher: Bencher) {
        run(bencher, UPDATE_SHIPPING_BODY, request::update_shipping);
    }

    #[divan::bench(args = Cart::ALL)]
    fn create_session(bencher: Bencher, cart: Cart) {
        let body: &'static [u8] = match cart {
            Cart::Typical => &CREATE_SESSION_TYPICAL,
            Cart::Large => &CREATE_SESSION_LARGE,
        };
        run(bencher, body, request::create_session);
    }
}

/// Catalog JSON -> validated catalog with its indexes (once per cold start).
mod parse_catalog {
    use super::*;

    /// `infra/local/catalog.example.json`.
    #[divan::bench]
    fn example_file(bencher: Bencher) {
        bencher
            .counter(BytesCount::of_str(EXAMPLE_CATALOG))
            .bench(|| Catalog::from_json(black_box(EXAMPLE_CATALOG)));
    }

    /// 2 plans, 22 products, offers, a gift, 4 shipping tiers, 3 tax rules.
    #[divan::bench]
    fn store(bencher: Bencher) {
        let json: &str = &STORE_CATALOG_JSON;
        bencher
            .counter(BytesCount::of_str(json))
            .bench(|| Catalog::from_json(black_box(json)));
    }
}

/// Session snapshot + action + catalog -> the entire new `line_items` array (and stock changes,
/// shipping options, tax rates). The action is built outside the timed loop.
mod plan {
    use super::*;

    fn run(bencher: Bencher, cart: Cart, action: Action) {
        let session = cart.session();
        let action = action.build(session);
        let catalog: &Catalog = &STORE;
        bencher.bench(|| plan(black_box(session), black_box(&action), catalog, GA));
    }

    #[divan::bench(args = Cart::ALL)]
    fn change_interval(bencher: Bencher, cart: Cart) {
        run(bencher, cart, Action::ChangeInterval);
    }

    #[divan::bench(args = Cart::ALL)]
    fn set_quantity(bencher: Bencher, cart: Cart) {
        run(bencher, cart, Action::SetQuantity);
    }

    #[divan::bench(args = Cart::ALL)]
    fn add_offer(bencher: Bencher, cart: Cart) {
        run(bencher, cart, Action::AddOffer);
    }

    #[divan::bench(args = Cart::ALL)]
    fn set_shipping(bencher: Bencher, cart: Cart) {
        run(bencher, cart, Action::SetShipping);
    }
}
