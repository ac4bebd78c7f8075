//! The Stripe API version this deployment speaks, and what it implies.
//!
//! Updating `line_items` of a Checkout Session was a preview feature under `2025-03-31.basil`
//! (sent as `2025-03-31.basil; checkout_server_update_beta=v1;`) and is generally available from
//! `2025-12-15.clover`. `2026-03-25.dahlia` renamed `ui_mode=custom` to `elements`.

use cart_domain::UpdatePolicy;

/// The version async-stripe 1.0.0-rc.10's generated types follow; a GA version.
pub const DEFAULT_API_VERSION: &str = "2026-09-30.endive";
const GA_SINCE: &str = "2025-12-15";
const ELEMENTS_RENAME_SINCE: &str = "2026-03-25";
const UPDATE_BETA_FLAG: &str = "checkout_server_update_beta";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion {
    /// Exactly what is sent as `Stripe-Version`.
    header: String,
    /// `YYYY-MM-DD` of the version.
    date: String,
    preview: bool,
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self {
            header: DEFAULT_API_VERSION.to_owned(),
            date: DEFAULT_API_VERSION[..10].to_owned(),
            preview: false,
        }
    }
}

impl ApiVersion {
    /// Accepts `YYYY-MM-DD.name` optionally followed by beta flags (`; flag=v1;`). Refuses versions
    /// that cannot update line items at all (pre-GA without the beta flag).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let header = raw.trim().to_owned();
        let mut parts = header.split(';').map(str::trim);
        let base = parts.next().unwrap_or_default();
        let (date, name) = base.split_once('.').unwrap_or((base, ""));
        let date_ok = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !date_ok || name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(format!(
                "`{header}` is not a Stripe API version like `{DEFAULT_API_VERSION}`"
            ));
        }
        let mut beta = false;
        for flag in parts.filter(|p| !p.is_empty()) {
            let Some((key, value)) = flag.split_once('=') else {
                return Err(format!("beta flag `{flag}` must look like `name=v1`"));
            };
            let plain = |s: &str| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            if !plain(key) || !plain(value) {
                return Err(format!("beta flag `{flag}` must look like `name=v1`"));
            }
            beta |= key == UPDATE_BETA_FLAG;
        }
        let ga = date >= GA_SINCE;
        if !ga && !beta {
            return Err(format!(
                "`{header}` cannot update Checkout line items: use a version from {GA_SINCE} on, \
                 or add the preview flag (`{date}.{name}; {UPDATE_BETA_FLAG}=v1;`)"
            ));
        }
        Ok(Self {
            date: date.to_owned(),
            preview: !ga,
            header,
        })
    }

    pub fn header(&self) -> &str {
        &self.header
    }

    /// True for the pre-GA preview (`…; checkout_server_update_beta=v1;`).
    pub fn is_preview(&self) -> bool {
        self.preview
    }

    /// `ui_mode` value for an Elements session in this version's vocabulary.
    pub fn elements_ui_mode(&self) -> &'static str {
        if self.date.as_str() >= ELEMENTS_RENAME_SINCE {
            "elements"
        } else {
            "custom"
        }
    }

    /// Which sessions may be updated under this version.
    pub fn update_policy(&self) -> UpdatePolicy {
        UpdatePolicy {
            require_server_only_permission: self.preview,
            require_own_session: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_preview_string_is_kept_byte_for_byte() {
        let seed = "2025-03-31.basil; checkout_server_update_beta=v1;";
        let v = ApiVersion::parse(seed).unwrap();
        assert_eq!(v.header(), seed);
        assert!(v.is_preview());
        assert_eq!(v.elements_ui_mode(), "custom");
        assert!(v.update_policy().require_server_only_permission);
    }

    #[test]
    fn ga_versions_need_no_flag_and_dahlia_renames_the_ui_mode() {
        let clover = ApiVersion::parse("2025-12-15.clover").unwrap();
        assert!(!clover.is_preview());
        assert_eq!(clover.elements_ui_mode(), "custom");
        let endive = ApiVersion::default();
        assert_eq!(endive.header(), DEFAULT_API_VERSION);
        assert_eq!(endive.elements_ui_mode(), "elements");
        assert!(!endive.update_policy().require_server_only_permission);
    }

    #[test]
    fn malformed_or_incapable_versions_are_refused() {
        for bad in [
            "",
            "basil",
            "2025-3-31.basil",
            "2025-03-31.",
            "2025-03-31.basil",
            "2025-03-31.basil; checkout_server_update_beta",
            "2025-12-15.clover; x=\r\n",
        ] {
            assert!(ApiVersion::parse(bad).is_err(), "{bad:?}");
        }
    }
}
