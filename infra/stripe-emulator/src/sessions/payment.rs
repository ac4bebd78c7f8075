//! What a customer paying does to a session (test control): completion, paid at once or by a
//! delayed payment method, and that delayed payment's later outcome.
//!
//! Stripe's fulfilment guide (<https://docs.stripe.com/checkout/fulfillment>): with delayed
//! notification payment methods `checkout.session.completed` arrives with `payment_status:
//! unpaid`, then `checkout.session.async_payment_succeeded` (now `paid`) or
//! `checkout.session.async_payment_failed` (still `unpaid`).

use super::expiry::get_mut;
use super::render::render_by_id;
use crate::dialect::Dialect;
use crate::errors::ApiError;
use crate::expand::Expand;
use crate::model::{AsyncPayment, EventType, Mode, Status};
use crate::objects::{new_id, ID_LEN};
use crate::store::Store;
use serde::Deserialize;
use serde_json::Value;

/// How the customer paid at completion (`POST /_emulator/checkout/sessions/:id/complete`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Card-like: the funds are there when the session completes.
    #[default]
    Paid,
    /// A delayed payment method: the outcome comes later (`async_payment`).
    Unpaid,
}

/// The later outcome of a delayed payment (`POST /_emulator/checkout/sessions/:id/async_payment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsyncOutcome {
    Succeeded,
    Failed,
}

/// Completes an open session, paid or awaiting a delayed payment; records
/// `checkout.session.completed` either way.
pub fn complete(
    store: &mut Store,
    id: &str,
    payment: PaymentStatus,
    dialect: Dialect,
    now: i64,
) -> Result<Value, ApiError> {
    let session = get_mut(store, id, now)?.clone();
    if session.status != Status::Open {
        return Err(ApiError::invalid(format!(
            "Only an open Checkout Session can be completed. This session's status is `{}`.",
            session.status.as_str()
        )));
    }
    let needs_payment = session.mode != Mode::Setup && session.amount_total(store) > 0;
    let session = get_mut(store, id, now)?;
    match payment {
        PaymentStatus::Unpaid if !needs_payment => {
            return Err(ApiError::invalid(
                "This Checkout Session has nothing to pay (payment_status `no_payment_required`), so it cannot complete `unpaid`.",
            )
            .with_param("payment_status"));
        }
        PaymentStatus::Unpaid => session.async_payment = Some(AsyncPayment::Pending),
        PaymentStatus::Paid => session.paid = true,
    }
    session.status = Status::Complete;
    match session.mode {
        Mode::Payment => session.payment_intent = Some(new_id("pi_", ID_LEN)),
        Mode::Setup => session.setup_intent = Some(new_id("seti_", ID_LEN)),
        Mode::Subscription => {
            session.customer = Some(new_id("cus_", ID_LEN));
            session.subscription = Some(new_id("sub_", ID_LEN));
            session.invoice = Some(new_id("in_", ID_LEN));
        }
    }
    store.record_event(EventType::CheckoutSessionCompleted, id, now, false);
    render_by_id(store, id, dialect, &Expand::default())
}

/// Settles the delayed payment of a session completed `unpaid`: succeeded makes it `paid`,
/// failed leaves it `unpaid`; each records its event. Anything but a pending payment is refused.
pub fn async_payment(
    store: &mut Store,
    id: &str,
    outcome: AsyncOutcome,
    dialect: Dialect,
    now: i64,
) -> Result<Value, ApiError> {
    let session = get_mut(store, id, now)?;
    if session.status != Status::Complete || session.async_payment != Some(AsyncPayment::Pending) {
        let state = match session.async_payment {
            Some(AsyncPayment::Succeeded) => "its delayed payment already succeeded",
            Some(AsyncPayment::Failed) => "its delayed payment already failed",
            _ if session.status == Status::Complete => "it was paid at completion",
            _ => "it has not completed",
        };
        return Err(ApiError::invalid(format!(
            "Only a complete Checkout Session awaiting a delayed payment (completed with payment_status `unpaid`) has a payment outcome to report; {state} (status `{}`).",
            session.status.as_str()
        )));
    }
    let kind = match outcome {
        AsyncOutcome::Succeeded => {
            session.paid = true;
            session.async_payment = Some(AsyncPayment::Succeeded);
            EventType::CheckoutSessionAsyncPaymentSucceeded
        }
        AsyncOutcome::Failed => {
            session.async_payment = Some(AsyncPayment::Failed);
            EventType::CheckoutSessionAsyncPaymentFailed
        }
    };
    store.record_event(kind, id, now, false);
    render_by_id(store, id, dialect, &Expand::default())
}
