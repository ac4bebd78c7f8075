//! What every object shares: Stripe-shaped ids, the amount ceiling, and the checks of currency and
//! numeric parameters.

use crate::errors::ApiError;

/// `prefix` + `len` random alphanumerics, like Stripe's ids.
pub fn new_id(prefix: &str, len: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(len));
    id
}

pub const ID_LEN: usize = 24;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("li_", ID_LEN);
        assert!(id.starts_with("li_"));
        assert_eq!(id.len(), 3 + ID_LEN);
        assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
