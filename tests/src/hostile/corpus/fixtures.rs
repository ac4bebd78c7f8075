//! The sessions the corpus aims at, made before it runs: one of the app's own (its stock held), an
//! expired and a completed one, other integrations' sessions and one Stripe does not know; with
//! every `client_secret` seen and the webhook signatures the cases send.

use crate::{Result, Stack, MUG_SKU, PREVIEW_VERSION, TEE_SKU, WEBHOOK_SECRET};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A session id of the right shape that Stripe does not know.
pub(super) const MISSING_SESSION: &str = "cs_test_hostileSessionThatDoesNotExist0000";
pub(super) const MISSING_ITEM: &str = "li_hostileItemThatDoesNotExist0";
/// Well-formed prices the catalog does not hold (a cart of them is refused, never created).
pub(super) const FOREIGN_PRICES: [&str; 2] =
    ["price_hostileNotInCatalog1", "price_hostileNotInCatalog2"];

/// A session and its line item ids, in order.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) id: String,
    pub(super) items: Vec<String>,
    pub(super) reservation: String,
}

impl Target {
    fn missing() -> Self {
        Self {
            id: MISSING_SESSION.into(),
            items: vec![MISSING_ITEM.into(), MISSING_ITEM.into()],
            reservation: "rsv_hostileMissing".into(),
        }
    }

    /// The second item (the T-shirt), else the first.
    pub(super) fn item(&self) -> &str {
        self.items
            .get(1)
            .or_else(|| self.items.first())
            .map_or(MISSING_ITEM, String::as_str)
    }
}

#[derive(Debug)]
pub(crate) struct Fixtures {
    pub(super) catalog: crate::Catalog,
    /// Created through create-session: the plan monthly and 2 T-shirts (held).
    pub(super) own: Target,
    pub(super) expired: Target,
    pub(super) completed: Target,
    /// Sessions of another integration (label, session): refused with 409 even when well-formed.
    pub(super) foreign: Vec<(&'static str, Target)>,
    pub(super) missing: Target,
    /// Every `client_secret` seen; none may appear in a log.
    pub(crate) client_secrets: BTreeSet<String>,
    /// Precomputed `Stripe-Signature` headers (label → value), and the event they sign.
    pub(super) signatures: BTreeMap<&'static str, String>,
    pub(super) event: String,
}

impl Fixtures {
    pub(crate) fn sessions(&self) -> Vec<&Target> {
        let mut all = vec![&self.own, &self.expired, &self.completed];
        all.extend(self.foreign.iter().map(|(_, t)| t));
        all
    }
}

fn session_target(stack: &Stack, session: &Value) -> Result<Target> {
    let id = session["id"].as_str().ok_or("session id")?.to_owned();
    let full = stack.stripe.session(&id)?;
    Ok(Target {
        items: crate::line_item_ids(&full),
        reservation: full["metadata"]["cart_reservation"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        id,
    })
}

/// A session through create-session (so owned by the app, its stock held): the plan monthly and
/// `tees` T-shirts, or stickers when none.
fn created(stack: &Stack, tees: i64, secrets: &mut BTreeSet<String>) -> Result<Target> {
    let c = &stack.catalog;
    let second = if tees > 0 {
        (c.tee.as_str(), tees)
    } else {
        (c.sticker.as_str(), 1)
    };
    let reply = stack.create_cart(&[(&c.monthly, 1), second], None)?;
    if reply.status != 200 {
        return Err(format!("create-session: {} {}", reply.status, reply.body).into());
    }
    if let Some(secret) = reply.body["session"]["client_secret"].as_str() {
        secrets.insert(secret.to_owned());
    }
    session_target(stack, &reply.body["session"])
}

/// A session made straight in the emulator, as another integration of the account would.
fn foreign(stack: &Stack, ui_mode: &str, extra: &[(&str, &str)]) -> Result<Target> {
    let c = &stack.catalog;
    let mut form = vec![
        ("mode", "subscription"),
        ("ui_mode", ui_mode),
        ("line_items[0][price]", c.monthly.as_str()),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", c.tee.as_str()),
        ("line_items[1][quantity]", "1"),
    ];
    form.extend_from_slice(extra);
    let created = stack
        .stripe
        .create("/v1/checkout/sessions", &form, stack.api_version)?;
    session_target(stack, &created)
}

pub(crate) fn setup(stack: &Stack) -> Result<Fixtures> {
    // Stock for the carts (2 T-shirts a run) and for offers that would be taken if accepted.
    for sku in [TEE_SKU, MUG_SKU] {
        if stack.dynamo.stock(sku)?.received == 0 {
            stack.dynamo.receive(sku, 100)?;
        }
    }
    let mut client_secrets = BTreeSet::new();
    let own = created(stack, 2, &mut client_secrets)?;
    let expired = created(stack, 0, &mut client_secrets)?;
    let (status, body) = stack.stripe.post(
        &format!("/v1/checkout/sessions/{}/expire", expired.id),
        &[],
        stack.api_version,
    )?;
    if status != 200 {
        return Err(format!("expiring a session: {status} {body}").into());
    }
    let completed = created(stack, 0, &mut client_secrets)?;
    stack.stripe.complete_session(&completed.id)?;

    let preview = stack.api_version == PREVIEW_VERSION;
    let (elements, hosted) = if preview {
        ("custom", "hosted")
    } else {
        ("elements", "hosted_page")
    };
    let tag = [("metadata[cart_reservation]", "rsv_hostileForeign")];
    let return_url = ("return_url", "https://other.example/return");
    let mut foreign_sessions = Vec::new();
    let untagged: Vec<(&str, &str)> = if preview {
        vec![
            return_url,
            ("permissions[update_line_items]", "server_only"),
        ]
    } else {
        vec![return_url]
    };
    foreign_sessions.push((
        "no cart_reservation tag",
        foreign(stack, elements, &untagged)?,
    ));
    foreign_sessions.push((
        "hosted ui_mode",
        foreign(
            stack,
            hosted,
            &[tag[0], ("success_url", "https://other.example/done")],
        )?,
    ));
    if preview {
        foreign_sessions.push((
            "client_only permission",
            foreign(
                stack,
                elements,
                &[
                    tag[0],
                    return_url,
                    ("permissions[update_line_items]", "client_only"),
                ],
            )?,
        ));
    }
    for target in [&own, &expired, &completed]
        .into_iter()
        .chain(foreign_sessions.iter().map(|(_, t)| t))
    {
        if let Some(secret) = stack.stripe.session(&target.id)?["client_secret"].as_str() {
            client_secrets.insert(secret.to_owned());
        }
    }

    let event = webhook_event("evt_hostileRealEvent", &own);
    let now = crate::now_s();
    let sign = |payload: &str, secret: &str, t: i64| crate::stripe_signature(payload, secret, t);
    let mut signatures = BTreeMap::new();
    signatures.insert("good", sign(&event, WEBHOOK_SECRET, now)?);
    signatures.insert("wrong secret", sign(&event, "whsec_hostileWrong", now)?);
    signatures.insert(
        "another payload",
        sign("hostile: another payload", WEBHOOK_SECRET, now)?,
    );
    for (label, t) in [
        ("301 s old", now - 301),
        ("a day old", now - 86_400),
        ("an hour ahead", now + 3_600),
        ("t=0", 0),
        ("t=-1", -1),
        ("t=i64::MIN", i64::MIN),
        ("t=i64::MAX", i64::MAX),
    ] {
        signatures.insert(label, sign(&event, WEBHOOK_SECRET, t)?);
    }
    Ok(Fixtures {
        catalog: stack.catalog.clone(),
        own,
        expired,
        completed,
        foreign: foreign_sessions,
        missing: Target::missing(),
        client_secrets,
        signatures,
        event,
    })
}

fn webhook_event(id: &str, session: &Target) -> String {
    json!({
        "id": id, "object": "event", "type": "checkout.session.expired",
        "data": { "object": { "id": session.id, "object": "checkout.session",
                              "metadata": { "cart_reservation": session.reservation } } }
    })
    .to_string()
}
