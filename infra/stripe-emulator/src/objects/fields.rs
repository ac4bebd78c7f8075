//! What every object shares: Stripe-shaped ids (made in [`crate::ids`]), the amount ceiling, and
//! the checks of currency and numeric parameters.

use crate::errors::ApiError;

/// Ids are made below the objects (the store makes event ids); every object file finds them here.
pub use crate::ids::{new_id, ID_LEN};

/// Stripe's ceiling for one `unit_amount` (eight digits of minor units); also keeps every total
/// far from overflowing.
pub const MAX_UNIT_AMOUNT: i64 = 99_999_999;

/// Lowercase three-letter ISO code.
pub fn parse_currency(raw: &str, param: &str) -> Result<String, ApiError> {
    let currency = raw.to_ascii_lowercase();
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(currency)
    } else {
        Err(ApiError::invalid(format!("Invalid currency: {raw}. Stripe currently supports these currencies: usd, eur, gbp, ... (three-letter ISO codes).")).with_param(param))
    }
}

pub fn check_range(value: i64, min: i64, max: i64, param: &str) -> Result<i64, ApiError> {
    if value < min {
        Err(ApiError::invalid(format!(
            "This value must be greater than or equal to {min}."
        ))
        .with_param(param))
    } else if value > max {
        Err(
            ApiError::invalid(format!("This value must be less than or equal to {max}."))
                .with_param(param),
        )
    } else {
        Ok(value)
    }
}
