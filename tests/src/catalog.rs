//! The catalog the tests sell, created in the Stripe emulator.

use crate::{Emulator, Result, GA_VERSION};
use serde_json::Value;

/// products, and a T-shirt drawing on stock SKU `TEE` (quantities 1 to 5).
/// The catalog one test sells: a plan with monthly and yearly prices, two untracked one-time
#[derive(Debug, Clone)]
pub struct Catalog {
    pub monthly: String,
    pub yearly: String,
    pub sticker: String,
    pub onboarding: String,
    pub tee: String,
    /// Cross-sell offer for any cart ($12, stock-tracked as `MUG`).
    pub mug: String,
    /// Recurring add-on offered to carts with the Pro plan, at $5/month or $50/year.
    pub support_monthly: String,
    pub support_yearly: String,
    /// Free gift for one-off carts of $50 or more.
    pub gift: String,
    /// Exclusive sales tax for US destinations (5 %) and, more specific, California (8.25 %).
    pub tax_us: String,
    pub tax_us_ca: String,
}

/// The stock-tracked SKU of [`Catalog::tee`].
pub const TEE_SKU: &str = "TEE";
/// The stock-tracked SKU of [`Catalog::mug`].
pub const MUG_SKU: &str = "MUG";

impl Catalog {
    pub fn seed(stripe: &Emulator) -> Result<Self> {
        let v = GA_VERSION;
        let plan = stripe.create("/v1/products", &[("name", "Pro plan")], v)?;
        let plan_id = plan["id"].as_str().ok_or("product id")?;
        let price = |amount: &str, interval: Option<&str>, product: &str| -> Result<String> {
            let mut form = vec![
                ("currency", "usd"),
                ("unit_amount", amount),
                ("product", product),
            ];
            if let Some(interval) = interval {
                form.push(("recurring[interval]", interval));
            }
            let created = stripe.create("/v1/prices", &form, v)?;
            Ok(created["id"].as_str().ok_or("price id")?.to_owned())
        };
        let sticker = stripe.create("/v1/products", &[("name", "Sticker pack")], v)?;
        let onboarding = stripe.create("/v1/products", &[("name", "Onboarding call")], v)?;
        let tee = stripe.create("/v1/products", &[("name", "T-shirt")], v)?;
        let mug = stripe.create("/v1/products", &[("name", "Mug")], v)?;
        let support = stripe.create("/v1/products", &[("name", "Priority support")], v)?;
        let support_id = support["id"].as_str().ok_or("product id")?;
        let gift = stripe.create("/v1/products", &[("name", "Thank-you stickers")], v)?;
        let tax_rate = |name: &str, percentage: &str, state: Option<&str>| -> Result<String> {
            let mut form = vec![
                ("display_name", name),
                ("percentage", percentage),
                ("inclusive", "false"),
                ("country", "US"),
            ];
            if let Some(state) = state {
                form.push(("state", state));
            }
            let created = stripe.create("/v1/tax_rates", &form, v)?;
            Ok(created["id"].as_str().ok_or("tax rate id")?.to_owned())
        };
        Ok(Self {
            tax_us: tax_rate("Sales tax", "5", None)?,
            tax_us_ca: tax_rate("CA sales tax", "8.25", Some("CA"))?,
            monthly: price("1500", Some("month"), plan_id)?,
            yearly: price("15000", Some("year"), plan_id)?,
            sticker: price("500", None, sticker["id"].as_str().ok_or("product id")?)?,
            onboarding: price("9900", None, onboarding["id"].as_str().ok_or("product id")?)?,
            tee: price("2500", None, tee["id"].as_str().ok_or("product id")?)?,
            mug: price("1200", None, mug["id"].as_str().ok_or("product id")?)?,
            support_monthly: price("500", Some("month"), support_id)?,
            support_yearly: price("5000", Some("year"), support_id)?,
            gift: price("0", None, gift["id"].as_str().ok_or("product id")?)?,
        })
    }

    pub fn json(&self) -> String {
        self.json_with_shards(&[])
    }

    /// [`Catalog::json`] with `inventory_shards` set to `shards` (absent when empty).
    pub fn json_with_shards(&self, shards: &[(&str, u16)]) -> String {
        let mut json = serde_json::json!({
            "plans": [
                { "id": "pro", "monthly": self.monthly, "yearly": self.yearly },
                { "id": "support", "monthly": self.support_monthly, "yearly": self.support_yearly,
                  "quantity": { "min": 1, "max": 1 } },
            ],
            "products": [
                { "price": self.sticker, "unit_amount": 500 },
                { "price": self.onboarding, "quantity": { "min": 1, "max": 1 }, "unit_amount": 9900 },
                { "price": self.tee, "sku": TEE_SKU, "quantity": { "min": 1, "max": 5 }, "unit_amount": 2500 },
                { "price": self.mug, "sku": MUG_SKU, "quantity": { "min": 1, "max": 2 }, "unit_amount": 1200 },
                { "price": self.gift, "quantity": { "min": 1, "max": 1 }, "unit_amount": 0 },
            ],
            "offers": [
                { "price": self.mug },
                { "plan": "support", "requires": ["pro"] },
            ],
            "complimentary": { "price": self.gift, "threshold": 5000 },
            // Below $50 paid: standard $5 and express $15; from $50: free standard, express $10.
            "shipping": {
                "countries": ["US", "CA"],
                "tiers": [
                    { "id": "standard", "display_name": "Standard", "amount": 500, "below": 5000,
                      "min_days": 3, "max_days": 5 },
                    { "id": "express", "display_name": "Express", "amount": 1500, "below": 5000,
                      "min_days": 1, "max_days": 2 },
                    { "id": "free", "display_name": "Free shipping", "amount": 0, "from": 5000,
                      "min_days": 3, "max_days": 5 },
                    { "id": "express_over_50", "display_name": "Express", "amount": 1000,
                      "from": 5000, "min_days": 1, "max_days": 2 },
                ],
            },
            "tax_rates": [
                { "country": "US", "tax_rate": self.tax_us },
                { "country": "US", "state": "CA", "tax_rate": self.tax_us_ca },
            ]
        });
        if !shards.is_empty() {
            json["inventory_shards"] = shards
                .iter()
                .map(|(sku, n)| ((*sku).to_owned(), Value::from(*n)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        json.to_string()
    }
}
