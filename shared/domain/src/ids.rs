//! Identifier newtypes: constructed only through `parse`, so holding one proves its format.

use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must start with `{prefix}`")]
    WrongPrefix { prefix: &'static str },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must contain only letters, digits and `_` after the prefix")]
    BadCharacters,
    #[error("is empty after the prefix")]
    Empty,
}

/// Stripe ids are at most 255 characters; anything longer cannot be an id.
const MAX_ID_LEN: usize = 255;

fn check(raw: &str, prefixes: &[&'static str]) -> Result<(), IdError> {
    let Some(rest) = prefixes.iter().find_map(|p| raw.strip_prefix(p)) else {
        return Err(IdError::WrongPrefix {
            prefix: prefixes.first().copied().unwrap_or_default(),
        });
    };
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { max: MAX_ID_LEN });
    }
    if rest.is_empty() {
        return Err(IdError::Empty);
    }
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(IdError::BadCharacters);
    }
    Ok(())
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, [$($prefix:literal),+]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Accepts the id only if it has the right prefix and character set.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                check(raw, &[$($prefix),+])?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(|e| serde::de::Error::custom(format!("`{raw}` {e}")))
            }
        }
    };
}

stripe_id!(
    /// A Checkout Session id (`cs_test_…` or `cs_live_…`).
    CheckoutSessionId,
    ["cs_test_", "cs_live_"]
);
stripe_id!(
    /// A Price id (`price_…`).
    PriceId,
    ["price_"]
);
stripe_id!(
    /// A Checkout line item id (`li_…`).
    LineItemId,
    ["li_"]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_need_a_mode_prefix_and_plain_characters() {
        assert!(CheckoutSessionId::parse("cs_test_a1B2c3").is_ok());
        assert!(CheckoutSessionId::parse("cs_live_a1B2c3").is_ok());
        assert_eq!(
            CheckoutSessionId::parse("cs_prod_abc"),
            Err(IdError::WrongPrefix { prefix: "cs_test_" })
        );
        assert_eq!(CheckoutSessionId::parse("cs_test_"), Err(IdError::Empty));
        assert_eq!(
            CheckoutSessionId::parse("cs_test_ab/../x"),
            Err(IdError::BadCharacters)
        );
        let long = format!("cs_test_{}", "a".repeat(300));
        assert_eq!(
            CheckoutSessionId::parse(&long),
            Err(IdError::TooLong { max: 255 })
        );
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let ok: PriceId = serde_json::from_str("\"price_123\"").unwrap();
        assert_eq!(ok.as_str(), "price_123");
        assert!(serde_json::from_str::<PriceId>("\"prod_123\"").is_err());
        assert!(serde_json::from_str::<LineItemId>("\"li_x y\"").is_err());
    }
}
