//! `POST /v1/checkout/sessions`.

use super::line_items::{plan, LineItemSpec};
use super::render::{render, SESSION_EXPANSIONS};
use super::shipping::{plan_options, take_options};
use crate::dialect::{Dialect, UiMode};
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::form::{invalid_choice, Params};
use crate::model::{Mode, Permission, Permissions, Session, Status};
use crate::objects::{new_id, parse_currency, ID_LEN};
use crate::store::Store;
use serde_json::Value;
use std::collections::BTreeMap;

const SESSION_ID_LEN: usize = 58;
const MIN_EXPIRY_SECS: i64 = 30 * 60;
const MAX_EXPIRY_SECS: i64 = 24 * 60 * 60;

pub fn create(
    store: &mut Store,
    mut p: Params,
    dialect: Dialect,
    now: i64,
) -> Result<Value, ApiError> {
    let mode = match p
        .choice("mode", &["payment", "setup", "subscription"])?
        .as_deref()
    {
        Some("payment") => Mode::Payment,
        Some("subscription") => Mode::Subscription,
        Some("setup") => Mode::Setup,
        _ => return Err(ApiError::missing("mode")),
    };
    let ui_mode = match p.nonempty_string("ui_mode")? {
        None => UiMode::Hosted,
        Some(value) => dialect
            .parse_ui_mode(&value)
            .ok_or_else(|| invalid_choice("ui_mode", dialect.ui_mode_choices()))?,
    };
    let specs = p
        .object_list("line_items")?
        .map(|items| {
            items
                .into_iter()
                .map(|item| LineItemSpec::parse(item, false))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let permissions = match p.object("permissions")? {
        None => None,
        Some(perms) => Some(take_permissions(perms, dialect)?),
    };
    let metadata = p.metadata("metadata")?;
    let return_url = p.nonempty_string("return_url")?;
    let success_url = p.nonempty_string("success_url")?;
    let cancel_url = p.nonempty_string("cancel_url")?;
    let customer_email = p.nonempty_string("customer_email")?;
    let client_reference_id = p.nonempty_string("client_reference_id")?;
    let expires_at = p.integer("expires_at")?;
    let currency = p
        .nonempty_string("currency")?
        .map(|c| parse_currency(&c, "currency"))
        .transpose()?;
    let allowed_countries = match p.object("shipping_address_collection")? {
        None => None,
        Some(mut sac) => {
            let path = sac.path("allowed_countries");
            let countries = sac
                .string_list("allowed_countries")?
                .ok_or_else(|| ApiError::missing(path.clone()))?;
            if countries.is_empty() {
                return Err(ApiError::missing(path));
            }
            sac.finish()?;
            Some(countries)
        }
    };
    let shipping_specs = take_options(&mut p)?;
    let expand = Expand::take(&mut p, SESSION_EXPANSIONS)?;
    p.finish()?;

    if success_url.is_some() && ui_mode != UiMode::Hosted {
        return Err(ApiError::invalid(format!(
            "success_url is not allowed when ui_mode is `{}`; use return_url instead.",
            dialect.ui_mode_name(ui_mode)
        ))
        .with_param("success_url"));
    }
    if let Some(email) = &customer_email {
        if !email.contains('@') {
            return Err(ApiError::invalid(format!("Invalid email address: {email}"))
                .with_param("customer_email"));
        }
    }
    if client_reference_id
        .as_ref()
        .is_some_and(|c| c.chars().count() > 200)
    {
        return Err(
            ApiError::invalid("client_reference_id can be at most 200 characters long.")
                .with_param("client_reference_id"),
        );
    }
    let expires_at = match expires_at {
        None => now + MAX_EXPIRY_SECS,
        Some(at) if at < now + MIN_EXPIRY_SECS => {
            return Err(ApiError::invalid(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            )
            .with_param("expires_at"))
        }
        Some(at) if at > now + MAX_EXPIRY_SECS => {
            return Err(ApiError::invalid(
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            )
            .with_param("expires_at"))
        }
        Some(at) => at,
    };

    let plan = match (mode, specs) {
        (Mode::Setup, Some(_)) => {
            return Err(
                ApiError::invalid("line_items cannot be used in `setup` mode.")
                    .with_param("line_items"),
            )
        }
        (Mode::Setup, None) => None,
        (_, None) => return Err(ApiError::missing("line_items")),
        (_, Some(specs)) => Some(plan(store, specs, &[], mode, currency.as_deref(), now)?),
    };
    let session_currency = plan.as_ref().map(|p| p.currency.clone()).or(currency);
    let (shipping_options, new_rates) = plan_options(
        store,
        shipping_specs.unwrap_or_default(),
        mode,
        session_currency.as_deref(),
        now,
    )?;
    let mut session_metadata = BTreeMap::new();
    if let Some(update) = metadata {
        update.apply(&mut session_metadata)?;
    }

    // Everything is valid: only now touch the store.
    let line_items = match plan {
        Some(plan) => plan.apply_objects(store).0,
        None => Vec::new(),
    };
    for rate in new_rates {
        store.shipping_rates.insert(rate.id.clone(), rate);
    }
    let id = new_id("cs_test_", SESSION_ID_LEN);
    let client_secret =
        (ui_mode != UiMode::Hosted).then(|| format!("{id}_secret_{}", new_id("", ID_LEN)));
    let session = Session {
        id: id.clone(),
        created: now,
        expires_at,
        mode,
        ui_mode,
        permissions,
        status: Status::Open,
        paid: false,
        async_payment: None,
        currency: session_currency,
        line_items,
        metadata: session_metadata,
        return_url,
        success_url,
        cancel_url,
        customer_email,
        client_reference_id,
        client_secret,
        shipping_options,
        allowed_countries,
        shipping_details: None,
        customer: None,
        payment_intent: None,
        setup_intent: None,
        subscription: None,
        invoice: None,
    };
    let rendered = render(&session, store, dialect, &expand);
    store.sessions.insert(id, session);
    Ok(rendered)
}

/// `permissions[...]` as the dialect defines it: `update_line_items` exists only in the preview,
/// the nested `update[...]` form only before GA.
fn take_permissions(mut p: Params, dialect: Dialect) -> Result<Permissions, ApiError> {
    let mut perms = Permissions::default();
    if dialect.has_update_line_items_permission() {
        perms.update_line_items = take_permission(&mut p, "update_line_items")?;
    }
    perms.update_shipping_details = take_permission(&mut p, "update_shipping_details")?;
    if matches!(dialect, Dialect::Legacy | Dialect::Preview) {
        if let Some(mut nested) = p.object("update")? {
            if dialect.has_update_line_items_permission() {
                if let Some(value) = take_permission(&mut nested, "line_items")? {
                    perms.update_line_items = Some(value);
                }
            }
            if let Some(value) = take_permission(&mut nested, "shipping_details")? {
                perms.update_shipping_details = Some(value);
            }
            nested.finish()?;
        }
    }
    p.finish()?;
    Ok(perms)
}

fn take_permission(p: &mut Params, key: &str) -> Result<Option<Permission>, ApiError> {
    Ok(p.choice(key, &Permission::NAMES)?
        .as_deref()
        .and_then(Permission::parse))
}
