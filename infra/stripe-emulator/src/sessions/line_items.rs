//! Line items: their amounts, tax and JSON (the stored form is [`crate::model::LineItem`]), their
//! parameters, and the rules a whole line-item array must satisfy (shared by session create and
//! update).

use crate::errors::ApiError;
use crate::expand::Expand;
use crate::form::{MetadataUpdate, Params};
use crate::model::{AdjustableQuantity, LineItem, Mode};
use crate::objects::{check_range, new_id, render_price, Price, PriceData, Product, ID_LEN};
use crate::store::Store;
use crate::tax_rates::{self, ItemTax};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};

/// Stripe's API reference, Create a Checkout Session, `line_items`: "For `payment` mode, there
/// is a maximum of 100 line items ... For `subscription` mode, there is a maximum of 20 line
/// items with recurring Prices and 20 line items with one-time Prices." The update reference
/// names no limit of its own; the session's limits apply to the retransmitted array.
pub const MAX_PAYMENT_LINE_ITEMS: usize = 100;
pub const MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND: usize = 20;
pub const MAX_QUANTITY: i64 = 999_999;

impl LineItem {
    pub fn amount(&self, store: &Store) -> i64 {
        store
            .prices
            .get(&self.price)
            .map_or(0, |p| p.unit_amount.saturating_mul(self.quantity))
    }

    /// Tax from this item's rates (rates deleted from the store count as none).
    pub fn tax(&self, store: &Store) -> ItemTax {
        if self.tax_rates.is_empty() {
            return ItemTax::default();
        }
        let rates: Vec<_> = self
            .tax_rates
            .iter()
            .filter_map(|id| store.tax_rates.get(id))
            .collect();
        tax_rates::compute(self.amount(store), &rates)
    }

    /// The `item` object. `expand` is relative to the item (`price.product`, `taxes`,
    /// `discounts`): `taxes` and `discounts` are includable, absent unless asked for, as in
    /// Stripe's default `item` (fixtures3.json; "Retrieve a Checkout Session's line items").
    pub fn render(&self, store: &Store, expand: &Expand) -> Value {
        let price = store.prices.get(&self.price);
        let amount = self.amount(store);
        let tax = self.tax(store);
        let description = price
            .and_then(|p| store.products.get(&p.product))
            .map(|product| product.name.clone());
        let mut value = json!({
            "id": self.id,
            "object": "item",
            "adjustable_quantity": self.adjustable_quantity.map(|a| json!({
                "enabled": a.enabled,
                "maximum": a.maximum,
                "minimum": a.minimum,
            })),
            "amount_discount": 0,
            "amount_subtotal": amount,
            "amount_tax": tax.total(),
            "amount_total": amount.saturating_add(tax.exclusive()),
            "currency": price.map(|p| p.currency.clone()),
            "description": description,
            "metadata": self.metadata,
            "price": price.map(|p| render_price(p, store, expand.has("price.product"))),
            "quantity": self.quantity,
        });
        if let Value::Object(map) = &mut value {
            if expand.has("discounts") {
                // Discounts are not emulated: expanded, the list is always empty.
                map.insert("discounts".into(), json!([]));
            }
            if expand.has("taxes") {
                map.insert(
                    "taxes".into(),
                    json!(tax_rates::render_tax_lines(&tax.lines, store)),
                );
            }
        }
        value
    }
}

/// One `line_items[N]` entry as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItemSpec {
    /// `line_items[N]`, to name fields in errors.
    pub path: String,
    pub id: Option<String>,
    pub price: Option<String>,
    pub price_data: Option<PriceData>,
    pub quantity: Option<i64>,
    pub metadata: Option<MetadataUpdate>,
    pub adjustable_quantity: Option<AdjustableQuantity>,
    /// `Some(vec![])` clears; each entry is `(param name, txr_ id)`.
    pub tax_rates: Option<Vec<(String, String)>>,
}

impl LineItemSpec {
    /// `allow_id` is true for updates only (creation has no existing items to refer to).
    pub fn parse(mut p: Params, allow_id: bool) -> Result<Self, ApiError> {
        let path = p.prefix().to_owned();
        let id = if allow_id {
            p.nonempty_string("id")?
        } else {
            None
        };
        let price = p.nonempty_string("price")?;
        let price_data = match p.object("price_data")? {
            None => None,
            Some(mut data) => {
                let parsed = PriceData::take(&mut data)?;
                data.finish()?;
                Some(parsed)
            }
        };
        let quantity = p.integer("quantity")?;
        let metadata = p.metadata("metadata")?;
        let adjustable_quantity = match p.object("adjustable_quantity")? {
            None => None,
            Some(mut a) => {
                let enabled_path = a.path("enabled");
                let enabled = a
                    .boolean("enabled")?
                    .ok_or_else(|| ApiError::missing(enabled_path))?;
                let max_path = a.path("maximum");
                let maximum = a
                    .integer("maximum")?
                    .map(|m| check_range(m, 1, MAX_QUANTITY, &max_path))
                    .transpose()?;
                let min_path = a.path("minimum");
                let minimum = a
                    .integer("minimum")?
                    .map(|m| check_range(m, 0, MAX_QUANTITY, &min_path))
                    .transpose()?;
                a.finish()?;
                if let (Some(min), Some(max)) = (minimum, maximum) {
                    if min > max {
                        return Err(ApiError::invalid(
                            "adjustable_quantity.minimum must be less than or equal to adjustable_quantity.maximum.",
                        )
                        .with_param(min_path));
                    }
                }
                // `enabled=false` drops earlier bounds, as documented for updates.
                Some(if enabled {
                    AdjustableQuantity {
                        enabled,
                        maximum,
                        minimum,
                    }
                } else {
                    AdjustableQuantity {
                        enabled,
                        maximum: None,
                        minimum: None,
                    }
                })
            }
        };
        let tax_rates = tax_rates::take_item_rates(&mut p)?;
        p.finish()?;
        Ok(Self {
            path,
            id,
            price,
            price_data,
            quantity,
            metadata,
            adjustable_quantity,
            tax_rates,
        })
    }

    fn field(&self, name: &str) -> String {
        format!("{}[{name}]", self.path)
    }
}

/// `kind` narrows the count (" with recurring prices"); empty for all line items.
fn too_many_line_items(mode: Mode, given: usize, kind: &str) -> ApiError {
    let limit = match (mode, kind) {
        (Mode::Subscription, "") => format!(
            "{MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND} line items with recurring prices and {MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND} with one-time prices"
        ),
        (Mode::Subscription, kind) => format!("{MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND} line items{kind}"),
        _ => format!("{MAX_PAYMENT_LINE_ITEMS} line items"),
    };
    ApiError::invalid(format!(
        "A Checkout Session in `{}` mode can have at most {limit}, but {given} were given.",
        mode.as_str()
    ))
    .with_param("line_items")
}

/// A validated line-item array and the inline prices/products it needs created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub items: Vec<LineItem>,
    pub new_prices: Vec<Price>,
    pub new_products: Vec<Product>,
    pub currency: String,
}

impl Plan {
    pub fn apply_objects(self, store: &mut Store) -> (Vec<LineItem>, String) {
        for product in self.new_products {
            store.products.insert(product.id.clone(), product);
        }
        for mut price in self.new_prices {
            price.seq = store.next_seq();
            store.prices.insert(price.id.clone(), price);
        }
        (self.items, self.currency)
    }
}

/// Validates the complete desired array with replace-all semantics: entries with `id` keep
/// that existing item (merging supplied fields), entries without create items, the rest of
/// `existing` is dropped. Nothing is stored; see [`Plan::apply_objects`].
pub fn plan(
    store: &Store,
    specs: Vec<LineItemSpec>,
    existing: &[LineItem],
    mode: Mode,
    session_currency: Option<&str>,
    now: i64,
) -> Result<Plan, ApiError> {
    if specs.is_empty() {
        return Err(ApiError::invalid(
            "A Checkout Session must have at least one line item; `line_items` cannot be empty.",
        )
        .with_param("line_items"));
    }
    // Counted before any price is looked at; subscription mode's split by kind comes after.
    let most = match mode {
        Mode::Subscription => 2 * MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND,
        _ => MAX_PAYMENT_LINE_ITEMS,
    };
    if specs.len() > most {
        return Err(too_many_line_items(mode, specs.len(), ""));
    }
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(specs.len());
    let mut prices: Vec<Price> = Vec::with_capacity(specs.len());
    let mut new_prices = Vec::new();
    let mut new_products = Vec::new();
    let mut currency: Option<String> = session_currency.map(str::to_owned);

    for spec in specs {
        let mut item = match &spec.id {
            Some(id) => {
                let current = existing
                    .iter()
                    .find(|item| &item.id == id)
                    .ok_or_else(|| ApiError::no_such("line item", id, spec.field("id"), 400))?;
                if !seen.insert(id.clone()) {
                    return Err(ApiError::invalid(format!(
                        "The line item '{id}' appears more than once in `line_items`; each existing line item can be given only once."
                    ))
                    .with_param(spec.field("id")));
                }
                current.clone()
            }
            None => LineItem {
                id: new_id("li_", ID_LEN),
                price: String::new(),
                quantity: 0,
                metadata: BTreeMap::new(),
                adjustable_quantity: None,
                tax_rates: Vec::new(),
            },
        };
        let is_new = spec.id.is_none();

        let price = match (&spec.price, &spec.price_data) {
            (Some(_), Some(_)) => {
                return Err(ApiError::exclusive(
                    "price",
                    "price_data",
                    spec.field("price"),
                ))
            }
            (Some(price_id), None) => {
                let price = store.prices.get(price_id).ok_or_else(|| {
                    ApiError::no_such("price", price_id, spec.field("price"), 400)
                })?;
                if !price.active {
                    return Err(ApiError::invalid(format!(
                        "The price specified ({price_id}) is inactive. This field only accepts active prices."
                    ))
                    .with_param(spec.field("price")));
                }
                price.clone()
            }
            (None, Some(data)) => {
                // Inline prices are created inactive so they cannot be reused by id.
                let (price, product) = data.build(
                    store,
                    now,
                    false,
                    &format!("{}[price_data][product]", spec.path),
                )?;
                new_products.extend(product);
                new_prices.push(price.clone());
                price
            }
            (None, None) if is_new => return Err(ApiError::missing(spec.field("price"))),
            (None, None) => match store.prices.get(&item.price) {
                Some(price) => price.clone(),
                // A kept item's price may be one created earlier in this very plan.
                None => new_prices
                    .iter()
                    .find(|p| p.id == item.price)
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::no_such("price", &item.price, spec.field("price"), 400)
                    })?,
            },
        };
        item.price = price.id.clone();

        match spec.quantity {
            Some(quantity) => {
                item.quantity = check_range(quantity, 1, MAX_QUANTITY, &spec.field("quantity"))?;
            }
            None if is_new => return Err(ApiError::missing(spec.field("quantity"))),
            None => {}
        }
        if let Some(adjustable) = spec.adjustable_quantity {
            item.adjustable_quantity = Some(adjustable);
        }
        if let Some(AdjustableQuantity {
            enabled: true,
            maximum,
            minimum,
        }) = item.adjustable_quantity
        {
            let too_low = minimum.is_some_and(|min| item.quantity < min);
            let too_high = maximum.is_some_and(|max| item.quantity > max);
            if too_low || too_high {
                return Err(ApiError::invalid(format!(
                    "The quantity {} is outside this line item's adjustable_quantity bounds.",
                    item.quantity
                ))
                .with_param(spec.field("quantity")));
            }
        }
        if let Some(update) = &spec.metadata {
            update.apply(&mut item.metadata)?;
        }
        // Absent keeps a kept item's rates; a list replaces them; `tax_rates=` clears them.
        if let Some(rates) = &spec.tax_rates {
            item.tax_rates = tax_rates::check_item_rates(store, rates)?;
        }

        match &currency {
            None => currency = Some(price.currency.clone()),
            Some(expected) if *expected != price.currency => {
                return Err(ApiError::invalid(format!(
                    "All line items must use the same currency: this session uses `{expected}`, but the price for {} is in `{}`.",
                    spec.path, price.currency
                ))
                .with_param(spec.field("price")));
            }
            Some(_) => {}
        }
        if mode == Mode::Payment && price.recurring.is_some() {
            return Err(ApiError::invalid(
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
            )
            .with_param(spec.field("price")));
        }
        items.push(item);
        prices.push(price);
    }

    if mode == Mode::Subscription {
        let recurring_items = prices.iter().filter(|p| p.recurring.is_some()).count();
        for (count, kind) in [
            (recurring_items, " with recurring prices"),
            (prices.len() - recurring_items, " with one-time prices"),
        ] {
            if count > MAX_SUBSCRIPTION_LINE_ITEMS_PER_KIND {
                return Err(too_many_line_items(mode, count, kind));
            }
        }
        let mut recurring = prices.iter().filter_map(|p| p.recurring);
        let Some(first) = recurring.next() else {
            return Err(ApiError::invalid(
                "You must provide at least one recurring price in `subscription` mode when using prices.",
            )
            .with_param("line_items"));
        };
        if recurring.any(|r| r != first) {
            return Err(ApiError::invalid(
                "Checkout does not support mixing recurring prices with different billing intervals: all recurring prices must share the same `recurring.interval` and `recurring.interval_count`.",
            )
            .with_param("line_items"));
        }
    }

    Ok(Plan {
        items,
        new_prices,
        new_products,
        currency: currency.unwrap_or_default(),
    })
}
