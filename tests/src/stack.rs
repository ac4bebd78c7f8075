//! The whole local stack of one test: emulator, DynamoDB, the catalog and every function.

use crate::random::random_u64;
use crate::{
    agent, read, Catalog, Dynamo, Emulator, Endpoint, Functions, Reply, Result, PREVIEW_VERSION,
    SECRET_KEY, WEBHOOK_SECRET,
};
use serde_json::Value;

/// Where the functions find their secrets and catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `CATALOG_JSON` (local development).
    InEnvironment,
    /// `*_PARAMETER` names of SSM parameters (how template.yaml deploys them); served by moto.
    InParameterStore,
}

/// Emulator + catalog + the change-interval function configured for one Stripe API version.
#[derive(Debug)]
pub struct Stack {
    pub functions: Functions,
    pub catalog: Catalog,
    pub stripe: Emulator,
    pub dynamo: Dynamo,
    pub api_version: &'static str,
}

impl Stack {
    /// The stack for `api_version` with `extra_env` for every function: the common case of
    /// [`Stack::builder`].
    pub fn start(api_version: &'static str, extra_env: &[(&str, &str)]) -> Result<Self> {
        Self::builder(api_version).env(extra_env).start()
    }

    /// A stack to configure: one instance of each function, secrets in the environment, a
    /// fresh emulator and DynamoDB, no sharded stock, until told otherwise.
    pub fn builder(api_version: &'static str) -> StackBuilder {
        StackBuilder {
            api_version,
            env: Vec::new(),
            instances: 1,
            secrets: Secrets::InEnvironment,
            shards: Vec::new(),
            stripe: None,
            dynamo: None,
        }
    }

    /// An open Elements session (in this stack's API dialect) holding `items` (price, quantity).
    pub fn create_session(&self, items: &[(&str, u32)]) -> Result<Value> {
        let preview = self.api_version == PREVIEW_VERSION;
        let mut form: Vec<(String, String)> = vec![
            ("mode".into(), "subscription".into()),
            (
                "ui_mode".into(),
                if preview { "custom" } else { "elements" }.into(),
            ),
            ("return_url".into(), "https://shop.example/return".into()),
        ];
        if preview {
            form.push((
                "permissions[update_line_items]".into(),
                "server_only".into(),
            ));
        }
        // What create-session writes: marks the session as this app's and names its holds.
        form.push((
            "metadata[cart_reservation]".into(),
            format!("rsv_e2e_{:016x}", random_u64()),
        ));
        for (n, (price, quantity)) in items.iter().enumerate() {
            form.push((format!("line_items[{n}][price]"), (*price).to_owned()));
            form.push((format!("line_items[{n}][quantity]"), quantity.to_string()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.stripe
            .create("/v1/checkout/sessions", &form, self.api_version)
    }

    pub fn change_interval(&self, body: &str) -> Result<(u16, Value)> {
        let reply = self.functions.call(Endpoint::ChangeInterval, body, &[])?;
        Ok((reply.status, reply.body))
    }

    /// Points the emulator's webhook deliveries at the stripe-webhook function; returns the
    /// endpoint's id.
    pub fn connect_webhooks(&self) -> Result<String> {
        let endpoint = serde_json::json!({
            "url": self.functions.endpoint_url(Endpoint::StripeWebhook),
            "secret": WEBHOOK_SECRET,
        });
        let response = agent()
            .post(format!("{}/_emulator/webhook_endpoints", self.stripe.base))
            .send_json(&endpoint)?;
        let (status, body) = read(response)?;
        if status >= 300 {
            return Err(format!("webhook endpoint refused: {status} {body}").into());
        }
        Ok(body["id"].as_str().ok_or("webhook endpoint id")?.to_owned())
    }

    /// [`Endpoint::CreateSession`] with `items` as `(price, quantity)` and an optional key.
    pub fn create_cart(&self, items: &[(&str, i64)], key: Option<&str>) -> Result<Reply> {
        let items: Vec<Value> = items
            .iter()
            .map(|(price, quantity)| serde_json::json!({ "price": price, "quantity": quantity }))
            .collect();
        let body = serde_json::json!({ "items": items }).to_string();
        let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        self.functions
            .call(Endpoint::CreateSession, &body, &headers)
    }

    /// A cart made through create-session (failing the test on any answer but 200): the
    /// session's id.
    pub fn new_cart(&self, items: &[(&str, i64)]) -> Result<String> {
        let reply = self.create_cart(items, None)?;
        if reply.status != 200 {
            return Err(format!("creating a cart: {} {}", reply.status, reply.body).into());
        }
        Ok(reply.body["session"]["id"]
            .as_str()
            .ok_or("no session id")?
            .to_owned())
    }

    pub fn add_cross_sell(&self, session: &str, price: &str) -> Result<Reply> {
        let body = serde_json::json!({ "checkout_session_id": session, "price_id": price });
        self.functions
            .call(Endpoint::AddCrossSell, &body.to_string(), &[])
    }

    /// [`Endpoint::UpdateShipping`] with a full address in `country` (and `state`).
    pub fn update_shipping(
        &self,
        session: &str,
        country: &str,
        state: Option<&str>,
    ) -> Result<Reply> {
        let body = serde_json::json!({
            "checkout_session_id": session,
            "shipping_details": { "name": "Ada Lovelace", "address": {
                "line1": "1 Main St", "city": "Springfield", "state": state,
                "postal_code": "94105", "country": country,
            }},
        });
        self.functions
            .call(Endpoint::UpdateShipping, &body.to_string(), &[])
    }

    pub fn update_quantity(&self, session: &str, line_item: &str, quantity: i64) -> Result<Reply> {
        let body = serde_json::json!({
            "checkout_session_id": session, "line_item_id": line_item, "quantity": quantity
        });
        self.functions
            .call(Endpoint::UpdateQuantity, &body.to_string(), &[])
    }

    /// [`Endpoint::ChangeInterval`] with an `Idempotency-Key`.
    pub fn change_interval_keyed(&self, body: &str, key: &str) -> Result<Reply> {
        self.functions
            .call(Endpoint::ChangeInterval, body, &[("Idempotency-Key", key)])
    }
}

/// How a [`Stack`] is started; see [`Stack::builder`].
#[derive(Debug)]
#[must_use = "a builder starts nothing until `start`"]
pub struct StackBuilder {
    api_version: &'static str,
    env: Vec<(String, String)>,
    instances: usize,
    secrets: Secrets,
    shards: Vec<(String, u16)>,
    stripe: Option<Emulator>,
    dynamo: Option<Dynamo>,
}

impl StackBuilder {
    /// Extra environment for every function, after (and over) the stack's own.
    pub fn env(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// `instances` parallel processes of each function, like Lambda scaling out.
    pub fn instances(mut self, instances: usize) -> Self {
        self.instances = instances;
        self
    }

    /// Whether the Stripe key, webhook secret and catalog reach the functions as plain
    /// variables (local) or as SSM parameters (as deployed).
    pub fn secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// The stock of each SKU of `shards` split over that many items (the catalog's
    /// `inventory_shards`).
    pub fn sharded(mut self, shards: &[(&str, u16)]) -> Self {
        self.shards
            .extend(shards.iter().map(|(sku, n)| ((*sku).to_owned(), *n)));
        self
    }

    /// Runs on an emulator started by the caller.
    pub fn stripe(mut self, stripe: Emulator) -> Self {
        self.stripe = Some(stripe);
        self
    }

    /// Runs on a DynamoDB started by the caller (e.g. with latency).
    pub fn dynamo(mut self, dynamo: Dynamo) -> Self {
        self.dynamo = Some(dynamo);
        self
    }

    pub fn start(self) -> Result<Stack> {
        let stripe = match self.stripe {
            Some(stripe) => stripe,
            None => Emulator::start()?,
        };
        let dynamo = match self.dynamo {
            Some(dynamo) => dynamo,
            None => Dynamo::start()?,
        };
        let api_version = self.api_version;
        let catalog = Catalog::seed(&stripe)?;
        let shards: Vec<(&str, u16)> = self
            .shards
            .iter()
            .map(|(sku, n)| (sku.as_str(), *n))
            .collect();
        let catalog_json = catalog.json_with_shards(&shards);
        let dynamo_env = dynamo.env();
        let mut env = vec![
            ("STRIPE_API_BASE", stripe.base.as_str()),
            ("STRIPE_API_VERSION", api_version),
            (
                "CHECKOUT_RETURN_URL",
                "https://shop.example/checkout/return",
            ),
        ];
        match self.secrets {
            Secrets::InEnvironment => env.extend([
                ("STRIPE_SECRET_KEY", SECRET_KEY),
                ("CATALOG_JSON", catalog_json.as_str()),
                ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ]),
            Secrets::InParameterStore => {
                dynamo.put_parameter("/cart/stripe-secret-key", SECRET_KEY, true)?;
                dynamo.put_parameter("/cart/webhook-secret", WEBHOOK_SECRET, true)?;
                dynamo.put_parameter("/cart/catalog", &catalog_json, false)?;
                env.extend([
                    ("STRIPE_SECRET_KEY_PARAMETER", "/cart/stripe-secret-key"),
                    ("STRIPE_WEBHOOK_SECRET_PARAMETER", "/cart/webhook-secret"),
                    ("CATALOG_PARAMETER", "/cart/catalog"),
                    ("AWS_ENDPOINT_URL_SSM", dynamo.endpoint.as_str()),
                ]);
            }
        }
        env.extend(dynamo_env.iter().map(|(k, v)| (*k, v.as_str())));
        env.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let names: Vec<&str> = Endpoint::ALL
            .iter()
            .map(|endpoint| endpoint.function())
            .chain(["release-holds"])
            .collect();
        let functions = Functions::start(&names, &env, self.instances)?;
        Ok(Stack {
            functions,
            catalog,
            stripe,
            dynamo,
            api_version,
        })
    }
}
