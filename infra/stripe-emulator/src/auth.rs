//! API key check: `Authorization: Bearer sk_test_...` (or `rk_test_`), or HTTP Basic with the
//! key as user name (`curl -u sk_test_x:`). Any such key reaches the one emulated account.

use crate::errors::ApiError;

const ACCEPTED_PREFIXES: [&str; 2] = ["sk_test_", "rk_test_"];

pub fn authenticate(authorization: Option<&str>) -> Result<(), ApiError> {
    let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else {
        return Err(missing_key());
    };
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = decode_base64(rest.trim())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| invalid_key(rest.trim()))?;
        decoded
            .split_once(':')
            .map_or(decoded.as_str(), |(user, _)| user)
            .to_owned()
    } else {
        return Err(invalid_key(header));
    };
    if key.is_empty() {
        return Err(missing_key());
    }
    if ACCEPTED_PREFIXES
        .iter()
        .any(|prefix| key.len() > prefix.len() && key.starts_with(prefix))
    {
        Ok(())
    } else {
        Err(invalid_key(&key))
    }
}

fn missing_key() -> ApiError {
    ApiError::invalid(
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    )
    .with_status(401)
}

fn invalid_key(key: &str) -> ApiError {
    ApiError::invalid(format!("Invalid API Key provided: {}", mask(key))).with_status(401)
}

/// Shows the first 8 and last 4 characters of longer keys, like Stripe's dashboard.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// Standard base64 (padding optional); `None` on any invalid character.
fn decode_base64(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for byte in input.bytes().filter(|b| *b != b'=') {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        // Only the last 14 bits are ever needed.
        buffer = ((buffer << 6) | u32::from(value)) & 0x3fff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_keys() {
        assert!(authenticate(Some("Bearer sk_test_123")).is_ok());
        assert!(authenticate(Some("bearer rk_test_abc")).is_ok());
        // "sk_test_x:" in base64
        assert!(authenticate(Some("Basic c2tfdGVzdF94Og==")).is_ok());
        assert!(authenticate(Some("Basic c2tfdGVzdF94Og")).is_ok());
    }

    #[test]
    fn rejections_are_401_with_stripe_messages() {
        let missing = authenticate(None).expect_err("missing");
        assert_eq!(missing.status, 401);
        assert!(missing
            .message
            .starts_with("You did not provide an API key"));
        let live = authenticate(Some("Bearer sk_live_0123456789abcdef")).expect_err("live");
        assert_eq!(live.status, 401);
        assert_eq!(
            live.message,
            "Invalid API Key provided: sk_live_************cdef"
        );
        assert!(authenticate(Some("Bearer sk_test_")).is_err());
        assert!(authenticate(Some("Basic !!!")).is_err());
        assert!(authenticate(Some("Token sk_test_1")).is_err());
    }

    #[test]
    fn mask_short_keys_fully() {
        assert_eq!(mask("bogus"), "*****");
    }
}
