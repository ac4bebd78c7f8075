//! `POST /v1/checkout/sessions/:id`: validate everything against a snapshot, then apply at once,
//! so a rejected update leaves the session exactly as it was.

use super::expiry::get_mut;
use super::line_items::{plan, LineItemSpec};
use super::render::{render_by_id, SESSION_EXPANSIONS};
use super::shipping::{plan_options, take_collected, take_options};
use crate::dialect::{Dialect, UiMode};
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::form::Params;
use crate::model::{Mode, Permission, Session, Status};
use crate::store::Store;
use serde_json::Value;

pub fn update(
    store: &mut Store,
    id: &str,
    mut p: Params,
    dialect: Dialect,
    now: i64,
) -> Result<Value, ApiError> {
    // In the legacy dialect `line_items` is not a parameter, so it is left for `finish` to
    // report as unknown, exactly like the real API before the beta.
    let specs = if dialect.can_update_line_items() {
        p.object_list("line_items")?
            .map(|items| {
                items
                    .into_iter()
                    .map(|item| LineItemSpec::parse(item, true))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
    } else {
        None
    };
    let metadata = p.metadata("metadata")?;
    let shipping_specs = take_options(&mut p)?;
    let shipping_details = take_collected(&mut p)?;
    let expand = Expand::take(&mut p, SESSION_EXPANSIONS)?;
    p.finish()?;

    let session = get_mut(store, id, now)?.clone();
    if session.status != Status::Open {
        let why = match session.status {
            Status::Complete => "it has already been completed",
            _ => "it has expired",
        };
        return Err(ApiError::invalid(format!(
            "This Checkout Session can no longer be updated because {why} (status: `{}`). Only sessions with status `open` can be updated.",
            session.status.as_str()
        )));
    }

    let line_plan = match specs {
        None => None,
        Some(specs) => {
            check_line_items_updatable(&session, dialect)?;
            if session.mode == Mode::Setup {
                return Err(
                    ApiError::invalid("line_items cannot be used in `setup` mode.")
                        .with_param("line_items"),
                );
            }
            Some(plan(
                store,
                specs,
                &session.line_items,
                session.mode,
                session.currency.as_deref(),
                now,
            )?)
        }
    };
    let currency = line_plan
        .as_ref()
        .map(|p| p.currency.clone())
        .or_else(|| session.currency.clone());
    let shipping = shipping_specs
        .map(|specs| plan_options(store, specs, session.mode, currency.as_deref(), now))
        .transpose()?;
    if shipping_details.is_some() && session.ui_mode == UiMode::Hosted {
        return Err(ApiError::invalid(format!(
            "collected_information can only be set when updating Checkout Sessions with ui_mode `{}` or `{}`.",
            dialect.ui_mode_name(UiMode::Embedded),
            dialect.ui_mode_name(UiMode::Elements)
        ))
        .with_param("collected_information"));
    }
    let mut new_metadata = session.metadata.clone();
    if let Some(update) = &metadata {
        update.apply(&mut new_metadata)?;
    }

    // Validated: apply everything.
    let new_items = line_plan.map(|plan| plan.apply_objects(store));
    let new_rates = match shipping {
        Some((ids, rates)) => {
            for rate in rates {
                store.shipping_rates.insert(rate.id.clone(), rate);
            }
            Some(ids)
        }
        None => None,
    };
    let target = get_mut(store, id, now)?;
    if let Some((items, currency)) = new_items {
        target.line_items = items;
        target.currency = Some(currency);
    }
    if let Some(ids) = new_rates {
        target.shipping_options = ids;
    }
    if let Some(details) = shipping_details {
        target.shipping_details = Some(details);
    }
    target.metadata = new_metadata;
    render_by_id(store, id, dialect, &expand)
}

/// Which sessions accept `line_items` depends on the dialect of the request.
fn check_line_items_updatable(session: &Session, dialect: Dialect) -> Result<(), ApiError> {
    let elements = session.ui_mode == UiMode::Elements;
    let ui_name = dialect.ui_mode_name(UiMode::Elements);
    if dialect.has_update_line_items_permission() {
        let server_only =
            session.permissions.and_then(|p| p.update_line_items) == Some(Permission::ServerOnly);
        if !(elements && server_only) {
            return Err(ApiError::invalid(format!(
                "line_items can only be updated on a Checkout Session created with `ui_mode={ui_name}` and `permissions[update_line_items]=server_only`."
            ))
            .with_param("line_items"));
        }
    } else if !elements {
        return Err(ApiError::invalid(format!(
            "line_items can only be updated on a Checkout Session with `ui_mode={ui_name}`."
        ))
        .with_param("line_items"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::dialect::{ApiVersion, Dialect};
    use crate::expand::Expand;
    use crate::form::{parse, Params};
    use crate::objects::{create_price, create_product};
    use crate::sessions::{self, create, update};
    use crate::store::Store;
    use serde_json::Value;

    const NOW: i64 = 1_800_000_000;
    const PREVIEW: &str = "2025-03-31.basil; checkout_server_update_beta=v1;";

    fn params(body: &str) -> Params {
        Params::root(parse(&[body.as_bytes()]).expect("parses"))
    }

    fn dialect(v: &str) -> Dialect {
        ApiVersion::parse(v).expect("valid").dialect()
    }

    struct Fixture {
        store: Store,
        monthly: String,
        monthly2: String,
        yearly: String,
        one_time: String,
        eur: String,
    }

    fn fixture() -> Fixture {
        let mut store = Store::default();
        let product =
            create_product(&mut store, params("name=Plan&id=prod_plan"), NOW).expect("product");
        let mut price = |body: &str| {
            create_price(
                &mut store,
                params(&format!("product={}&{body}", product.id)),
                NOW,
            )
            .expect("price")
            .id
        };
        let monthly = price("currency=usd&unit_amount=1000&recurring[interval]=month");
        let monthly2 = price("currency=usd&unit_amount=300&recurring[interval]=month");
        let yearly = price("currency=usd&unit_amount=10000&recurring[interval]=year");
        let one_time = price("currency=usd&unit_amount=250");
        let eur = price("currency=eur&unit_amount=250");
        Fixture {
            store,
            monthly,
            monthly2,
            yearly,
            one_time,
            eur,
        }
    }

    fn new_session(f: &mut Fixture, version: &str, extra: &str) -> Value {
        let body = format!(
            "mode=subscription&line_items[0][price]={}&line_items[0][quantity]=1&line_items[1][price]={}&line_items[1][quantity]=2{extra}",
            f.monthly, f.one_time
        );
        create(&mut f.store, params(&body), dialect(version), NOW).expect("created")
    }

    fn preview_session(f: &mut Fixture) -> (String, Vec<String>) {
        let s = new_session(
            f,
            PREVIEW,
            "&ui_mode=custom&permissions[update_line_items]=server_only",
        );
        let id = s["id"].as_str().expect("id").to_owned();
        let items = item_ids(f, &id);
        (id, items)
    }

    /// The session's line item ids, in order.
    fn item_ids(f: &Fixture, id: &str) -> Vec<String> {
        f.store.sessions[id]
            .line_items
            .iter()
            .map(|i| i.id.clone())
            .collect()
    }

    fn do_update(
        f: &mut Fixture,
        id: &str,
        version: &str,
        body: &str,
    ) -> Result<Value, crate::errors::ApiError> {
        update(&mut f.store, id, params(body), dialect(version), NOW + 5)
    }

    #[test]
    fn keep_update_add_remove_reorder() {
        let mut f = fixture();
        let (id, items) = preview_session(&mut f);
        let body = format!(
            "line_items[0][price]={}&line_items[0][quantity]=3&line_items[1][id]={}&line_items[1][quantity]=4&expand[]=line_items",
            f.monthly2, items[0]
        );
        let s = do_update(&mut f, &id, PREVIEW, &body).expect("updated");
        let data = s["line_items"]["data"].as_array().expect("list");
        assert_eq!(data.len(), 2);
        assert!(data[0]["id"].as_str().expect("id").starts_with("li_"));
        assert_ne!(data[0]["id"], items[0].as_str());
        assert_eq!(data[1]["id"], items[0].as_str());
        assert_eq!(data[1]["quantity"], 4);
        assert_eq!(data[0]["amount_total"], 900);
        assert_eq!(data[1]["amount_total"], 4000);
        assert_eq!(s["amount_subtotal"], 4900);
        assert_eq!(s["amount_total"], 4900);
    }

    #[test]
    fn rejected_updates_leave_session_unchanged() {
        let mut f = fixture();
        let (id, items) = preview_session(&mut f);
        let before = f.store.sessions[&id].clone();
        let cases = [
            ("line_items[0][id]=li_nope".to_owned(), Some("line_items[0][id]")),
            (format!("line_items[0][price]={}", f.one_time), Some("line_items[0][quantity]")),
            ("line_items[0][quantity]=1".to_owned(), Some("line_items[0][price]")),
            (format!("line_items[0][id]={}&line_items[0][quantity]=0", items[0]), Some("line_items[0][quantity]")),
            (format!("line_items[0][id]={}&line_items[1][id]={}", items[0], items[0]), Some("line_items[1][id]")),
            (format!("line_items[0][id]={}&line_items[1][price]={}&line_items[1][quantity]=1", items[0], f.yearly), Some("line_items")),
            (format!("line_items[0][price]={}&line_items[0][quantity]=1", f.one_time), Some("line_items")),
            (format!("line_items[0][id]={}&line_items[1][price]={}&line_items[1][quantity]=1", items[0], f.eur), Some("line_items[1][price]")),
            (format!("line_items[0][id]={}&metadata[a]=1&line_items[1][price]={}&line_items[1][price_data][currency]=usd&line_items[1][price_data][unit_amount]=1&line_items[1][price_data][product]=prod_plan&line_items[1][quantity]=1", items[0], f.one_time), Some("line_items[1][price]")),
            ("line_items=".to_owned(), Some("line_items")),
        ];
        for (body, param) in cases {
            let err = do_update(&mut f, &id, PREVIEW, &body).expect_err(&body);
            assert_eq!(err.status, 400, "{body}");
            assert_eq!(err.param.as_deref(), param, "{body}: {}", err.message);
            assert_eq!(f.store.sessions[&id], before, "{body}");
        }
    }

    #[test]
    fn error_codes_for_missing_and_exclusive() {
        let mut f = fixture();
        let (id, _) = preview_session(&mut f);
        let body = format!("line_items[0][price]={}", f.one_time);
        let err = do_update(&mut f, &id, PREVIEW, &body).expect_err("missing");
        assert_eq!(err.code, Some("parameter_missing"));
        let body = format!("line_items[0][price]={}&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=5&line_items[0][price_data][product]=prod_plan&line_items[0][quantity]=1", f.one_time);
        let err = do_update(&mut f, &id, PREVIEW, &body).expect_err("exclusive");
        assert_eq!(err.code, Some("parameters_exclusive"));
        let err =
            do_update(&mut f, &id, PREVIEW, "line_items[0][id]=li_x").expect_err("unknown id");
        assert_eq!(err.code, Some("resource_missing"));
        assert_eq!(err.message, "No such line item: 'li_x'");
    }

    #[test]
    fn price_data_creates_inline_price() {
        let mut f = fixture();
        let (id, items) = preview_session(&mut f);
        let body = format!(
            "line_items[0][id]={}&line_items[1][price_data][currency]=usd&line_items[1][price_data][unit_amount]=700&line_items[1][price_data][product_data][name]=Gift&line_items[1][quantity]=2&expand[0]=line_items",
            items[0]
        );
        let s = do_update(&mut f, &id, PREVIEW, &body).expect("updated");
        assert_eq!(s["line_items"]["data"][1]["description"], "Gift");
        assert_eq!(s["line_items"]["data"][1]["amount_total"], 1400);
        assert_eq!(s["line_items"]["data"][1]["price"]["active"], false);
        assert_eq!(s["amount_total"], 2400);
    }

    #[test]
    fn dialect_gates() {
        let mut f = fixture();
        let (id, items) = preview_session(&mut f);
        let keep = format!("line_items[0][id]={}", items[0]);
        let err = do_update(&mut f, &id, "2025-03-31.basil", &keep).expect_err("legacy");
        assert_eq!(err.code, Some("parameter_unknown"));
        assert_eq!(err.message, "Received unknown parameter: line_items");
        // GA and dahlia only look at ui_mode.
        do_update(&mut f, &id, "2025-12-15.clover", &keep).expect("ga");
        do_update(&mut f, &id, "2026-09-30.endive", &keep).expect("endive");

        // Preview requires server_only.
        let s = new_session(
            &mut f,
            PREVIEW,
            "&ui_mode=custom&permissions[update_line_items]=client_only",
        );
        let sid = s["id"].as_str().expect("id").to_owned();
        let item = f.store.sessions[&sid].line_items[0].id.clone();
        let err = do_update(&mut f, &sid, PREVIEW, &format!("line_items[0][id]={item}"))
            .expect_err("client_only");
        assert_eq!(err.param.as_deref(), Some("line_items"));
        do_update(
            &mut f,
            &sid,
            "2025-12-15.clover",
            &format!("line_items[0][id]={item}"),
        )
        .expect("ga ignores permission");

        // Hosted sessions are never updatable.
        let s = new_session(&mut f, "2026-09-30.endive", "&ui_mode=hosted_page");
        let sid = s["id"].as_str().expect("id").to_owned();
        let item = f.store.sessions[&sid].line_items[0].id.clone();
        let err = do_update(
            &mut f,
            &sid,
            "2026-09-30.endive",
            &format!("line_items[0][id]={item}"),
        )
        .expect_err("hosted");
        assert!(err.message.contains("ui_mode=elements"), "{}", err.message);
    }

    #[test]
    fn create_dialect_rules() {
        let mut f = fixture();
        let err = create(
            &mut f.store,
            params("mode=payment&permissions[update_line_items]=server_only"),
            dialect("2025-03-31.basil"),
            NOW,
        )
        .expect_err("legacy");
        assert_eq!(err.param.as_deref(), Some("permissions[update_line_items]"));
        assert_eq!(err.code, Some("parameter_unknown"));
        let err = create(
            &mut f.store,
            params("mode=payment&permissions[update_line_items]=server_only"),
            dialect("2025-12-15.clover"),
            NOW,
        )
        .expect_err("ga");
        assert_eq!(err.code, Some("parameter_unknown"));
        let body = format!(
            "mode=payment&ui_mode=custom&line_items[0][price]={}&line_items[0][quantity]=1",
            f.one_time
        );
        let err = create(
            &mut f.store,
            params(&body),
            dialect("2026-03-25.dahlia"),
            NOW,
        )
        .expect_err("dahlia custom");
        assert_eq!(err.param.as_deref(), Some("ui_mode"));
        create(
            &mut f.store,
            params(&body),
            dialect("2026-03-24.clover"),
            NOW,
        )
        .expect("clover custom");
    }

    #[test]
    fn rendering_follows_reader_dialect() {
        let mut f = fixture();
        let (id, _) = preview_session(&mut f);
        let read = |f: &mut Fixture, v: &str| {
            sessions::retrieve(&mut f.store, &id, params(""), dialect(v), NOW).expect("read")
        };
        let preview = read(&mut f, PREVIEW);
        assert_eq!(preview["ui_mode"], "custom");
        assert_eq!(preview["permissions"]["update_line_items"], "server_only");
        assert_eq!(
            preview["permissions"]["update_shipping_details"],
            "client_only"
        );
        let endive = read(&mut f, "2026-09-30.endive");
        assert_eq!(endive["ui_mode"], "elements");
        assert!(endive["permissions"].get("update_line_items").is_none());
        assert!(endive.get("line_items").is_none());
        let s = new_session(&mut f, "2026-09-30.endive", "&ui_mode=elements");
        assert!(s["permissions"].is_null());
        assert!(s["client_secret"]
            .as_str()
            .expect("secret")
            .contains("_secret_"));
        assert!(s["url"].is_null());
    }

    #[test]
    fn closed_sessions_reject_updates() {
        let mut f = fixture();
        let (id, items) = preview_session(&mut f);
        sessions::expire(&mut f.store, &id, params(""), dialect(PREVIEW), NOW).expect("expired");
        let err = do_update(
            &mut f,
            &id,
            PREVIEW,
            &format!("line_items[0][id]={}", items[0]),
        )
        .expect_err("expired");
        assert_eq!(err.status, 400);
        assert!(err.param.is_none());
        assert!(err.message.contains("expired"));
        assert!(sessions::expire(&mut f.store, &id, params(""), dialect(PREVIEW), NOW).is_err());

        let (id, _) = preview_session(&mut f);
        sessions::complete(
            &mut f.store,
            &id,
            sessions::PaymentStatus::Paid,
            dialect(PREVIEW),
            NOW,
        )
        .expect("completed");
        let err = do_update(&mut f, &id, PREVIEW, "metadata[a]=b").expect_err("complete");
        assert!(err.message.contains("completed"));
        assert_eq!(f.store.events.len(), 2);
    }

    #[test]
    fn sessions_expire_lazily_at_expires_at() {
        let mut f = fixture();
        let (id, _) = preview_session(&mut f);
        let later = NOW + 24 * 3600;
        let s = sessions::retrieve(&mut f.store, &id, params(""), dialect(PREVIEW), later)
            .expect("read");
        assert_eq!(s["status"], "expired");
    }

    #[test]
    fn metadata_merge_and_unset() {
        let mut f = fixture();
        let (id, _) = preview_session(&mut f);
        do_update(&mut f, &id, PREVIEW, "metadata[a]=1&metadata[b]=2").expect("set");
        let s = do_update(&mut f, &id, PREVIEW, "metadata[a]=&metadata[c]=3").expect("merge");
        assert_eq!(s["metadata"], serde_json::json!({"b": "2", "c": "3"}));
        let s = do_update(&mut f, &id, PREVIEW, "metadata=").expect("clear");
        assert_eq!(s["metadata"], serde_json::json!({}));
    }

    #[test]
    fn expanded_line_items_show_first_ten() {
        let mut f = fixture();
        let (id, items) = preview_session(&mut f);
        let mut body = format!("line_items[0][id]={}", items[0]);
        for n in 1..12 {
            body.push_str(&format!(
                "&line_items[{n}][price]={}&line_items[{n}][quantity]={n}",
                f.one_time
            ));
        }
        do_update(&mut f, &id, PREVIEW, &body).expect("12 items");
        let s = sessions::render_by_id(&f.store, &id, dialect(PREVIEW), &{
            let mut p = params("expand[]=line_items");
            Expand::take(&mut p, &["line_items"]).expect("ok")
        })
        .expect("render");
        assert_eq!(s["line_items"]["data"].as_array().map(Vec::len), Some(10));
        assert_eq!(s["line_items"]["has_more"], true);
        let page =
            sessions::list_line_items(&mut f.store, &id, params("limit=5&starting_after="), NOW)
                .err();
        assert!(page.is_some(), "empty cursor is refused");
        let page =
            sessions::list_line_items(&mut f.store, &id, params("limit=100"), NOW).expect("list");
        assert_eq!(page["data"].as_array().map(Vec::len), Some(12));
        assert_eq!(page["has_more"], false);
    }

    fn tax_rate(f: &mut Fixture, body: &str) -> String {
        crate::tax_rates::create(&mut f.store, params(body), NOW)
            .expect("tax rate")
            .id
    }

    #[test]
    fn exclusive_tax_rates_add_tax_on_top_and_survive_keep_by_id() {
        let mut f = fixture();
        let rate = tax_rate(
            &mut f,
            "display_name=Sales+tax&percentage=8.25&inclusive=false",
        );
        let s = new_session(
            &mut f,
            PREVIEW,
            &format!("&ui_mode=custom&permissions[update_line_items]=server_only&line_items[0][tax_rates][0]={rate}&expand[]=line_items.data.taxes"),
        );
        // 1000 × 8.25 % = 82.5, rounded half up to 83; the mug (2 × 250) is untaxed.
        let plan = &s["line_items"]["data"][0];
        assert_eq!(plan["amount_subtotal"], 1000);
        assert_eq!(plan["amount_tax"], 83);
        assert_eq!(plan["amount_total"], 1083);
        assert_eq!(plan["taxes"][0]["amount"], 83);
        assert_eq!(plan["taxes"][0]["taxable_amount"], 1000);
        assert_eq!(plan["taxes"][0]["taxability_reason"], Value::Null);
        assert_eq!(plan["taxes"][0]["rate"]["id"], rate.as_str());
        assert_eq!(plan["taxes"][0]["rate"]["percentage"], 8.25);
        assert_eq!(s["line_items"]["data"][1]["taxes"], serde_json::json!([]));
        assert_eq!(s["amount_subtotal"], 1500);
        assert_eq!(s["total_details"]["amount_tax"], 83);
        assert_eq!(s["amount_total"], 1583);

        // Keeping the item by id keeps its rates (and a new quantity re-taxes it).
        let id = s["id"].as_str().expect("id").to_owned();
        let items = item_ids(&f, &id);
        let body = format!(
            "line_items[0][id]={}&line_items[0][quantity]=2&line_items[1][id]={}&expand[]=line_items&expand[]=total_details.breakdown",
            items[0], items[1]
        );
        let s = do_update(&mut f, &id, PREVIEW, &body).expect("kept");
        assert_eq!(s["line_items"]["data"][0]["amount_tax"], 165);
        assert_eq!(s["amount_total"], 2500 + 165);
        let breakdown = &s["total_details"]["breakdown"];
        assert_eq!(breakdown["taxes"][0]["amount"], 165);
        assert_eq!(breakdown["taxes"][0]["rate"]["id"], rate.as_str());
        assert_eq!(breakdown["discounts"], serde_json::json!([]));

        // `tax_rates=` unsets them.
        let body = format!("line_items[0][id]={}&line_items[0][tax_rates]=", items[0]);
        let s = do_update(&mut f, &id, PREVIEW, &body).expect("cleared");
        assert_eq!(s["total_details"]["amount_tax"], 0);
        assert_eq!(s["amount_total"], 2000);
        assert!(f.store.sessions[&id].line_items[0].tax_rates.is_empty());
    }

    #[test]
    fn inclusive_tax_rates_are_carved_out_of_the_subtotal() {
        let mut f = fixture();
        let vat = tax_rate(
            &mut f,
            "display_name=VAT&percentage=20&inclusive=true&country=GB",
        );
        let s = new_session(&mut f, "2026-09-30.endive", "&ui_mode=elements");
        let id = s["id"].as_str().expect("id").to_owned();
        let items = item_ids(&f, &id);
        let body = format!(
            "line_items[0][id]={}&line_items[1][id]={}&line_items[1][tax_rates][]={vat}&expand[]=line_items.data.taxes",
            items[0], items[1]
        );
        let s = do_update(&mut f, &id, "2026-09-30.endive", &body).expect("taxed");
        // 500 including 20 %: 500 / 1.2 = 416.67 net, tax 83.33 → 83, net 417.
        let mug = &s["line_items"]["data"][1];
        assert_eq!(mug["amount_subtotal"], 500);
        assert_eq!(mug["amount_tax"], 83);
        assert_eq!(mug["amount_total"], 500);
        assert_eq!(mug["taxes"][0]["taxable_amount"], 417);
        assert_eq!(mug["taxes"][0]["rate"]["inclusive"], true);
        assert_eq!(s["amount_subtotal"], 1500);
        assert_eq!(s["total_details"]["amount_tax"], 83);
        assert_eq!(s["amount_total"], 1500);
    }

    #[test]
    fn line_item_tax_rates_must_exist_be_active_and_few() {
        let mut f = fixture();
        let (id, items) = preview_session(&mut f);
        let inactive = tax_rate(
            &mut f,
            "display_name=Old&percentage=5&inclusive=false&active=false",
        );
        let rates: Vec<String> = (0..6)
            .map(|_| tax_rate(&mut f, "display_name=T&percentage=1&inclusive=false"))
            .collect();
        let before = f.store.sessions[&id].clone();
        let keep = format!("line_items[0][id]={}", items[0]);
        let cases = [
            (
                format!("{keep}&line_items[0][tax_rates][0]=txr_nope"),
                "line_items[0][tax_rates][0]",
            ),
            (
                format!("{keep}&line_items[0][tax_rates][0]={inactive}"),
                "line_items[0][tax_rates][0]",
            ),
            (
                format!(
                    "{keep}&line_items[0][tax_rates][0]={}&line_items[0][tax_rates][1]={}",
                    rates[0], rates[0]
                ),
                "line_items[0][tax_rates][1]",
            ),
            (
                format!(
                    "{keep}{}",
                    rates
                        .iter()
                        .enumerate()
                        .map(|(n, r)| format!("&line_items[0][tax_rates][{n}]={r}"))
                        .collect::<String>()
                ),
                "line_items[0][tax_rates]",
            ),
        ];
        for (body, param) in cases {
            let err = do_update(&mut f, &id, PREVIEW, &body).expect_err(&body);
            assert_eq!(err.param.as_deref(), Some(param), "{body}: {}", err.message);
            assert_eq!(f.store.sessions[&id], before, "{body}");
        }
        let err = do_update(
            &mut f,
            &id,
            PREVIEW,
            &format!("{keep}&line_items[0][tax_rates][0]=txr_nope"),
        )
        .expect_err("missing");
        assert_eq!(err.code, Some("resource_missing"));
        // Five is the limit, not an error.
        let five: String = rates[..5]
            .iter()
            .enumerate()
            .map(|(n, r)| format!("&line_items[0][tax_rates][{n}]={r}"))
            .collect();
        let s = do_update(&mut f, &id, PREVIEW, &format!("{keep}{five}")).expect("five");
        assert_eq!(s["total_details"]["amount_tax"], 50);
    }

    #[test]
    fn sweeping_expires_due_sessions_with_an_event_but_no_request() {
        let mut f = fixture();
        let (id, _) = preview_session(&mut f);
        assert_eq!(sessions::expire_due(&mut f.store, NOW + 60), 0);
        assert_eq!(sessions::expire_due(&mut f.store, NOW + 24 * 3600), 1);
        assert_eq!(sessions::expire_due(&mut f.store, NOW + 24 * 3600), 0);
        assert_eq!(f.store.sessions[&id].status, sessions::Status::Expired);
        let event = f.store.events.last().expect("event");
        assert_eq!(event.kind, crate::events::EventType::CheckoutSessionExpired);
        assert!(event.request.is_none());
        assert_eq!(event.session.status, sessions::Status::Expired);
    }

    #[test]
    fn payment_mode_rejects_recurring() {
        let mut f = fixture();
        let body = format!(
            "mode=payment&line_items[0][price]={}&line_items[0][quantity]=1",
            f.monthly
        );
        let err =
            create(&mut f.store, params(&body), dialect(PREVIEW), NOW).expect_err("recurring");
        assert_eq!(err.param.as_deref(), Some("line_items[0][price]"));
        let err = create(&mut f.store, params("mode=payment"), dialect(PREVIEW), NOW)
            .expect_err("no items");
        assert_eq!(err.code, Some("parameter_missing"));
    }
}
