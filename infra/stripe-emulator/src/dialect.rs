//! API versions and the dialects they imply for Checkout Sessions.
//!
//! Sessions are stored in one canonical form; the dialect of each request decides which
//! parameters are accepted and how `ui_mode`/`permissions` are spelled in the response.

use crate::errors::ApiError;

/// First version where updating `line_items` is GA (and `permissions.update_line_items` is gone).
pub const GA_DATE: &str = "2025-12-15";
/// First version with `ui_mode` renamed to `elements` / `hosted_page` / `embedded_page`.
pub const RENAME_DATE: &str = "2026-03-25";
pub const PREVIEW_FLAG: &str = "checkout_server_update_beta";
pub const DEFAULT_VERSION: &str = "2026-09-30.endive";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Before GA, no beta flag: `line_items` cannot be updated at all.
    Legacy,
    /// Before GA with `checkout_server_update_beta=v1`.
    Preview,
    /// GA, old `ui_mode` names.
    Ga,
    /// GA with the renamed `ui_mode` values.
    Dahlia,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion {
    /// The header as received (trimmed), echoed back in `Stripe-Version`.
    pub raw: String,
    /// `YYYY-MM-DD`; compared as a string, which orders ISO dates correctly.
    pub date: String,
    pub name: Option<String>,
    pub flags: Vec<(String, String)>,
}

impl ApiVersion {
    /// `YYYY-MM-DD[.name]` followed by optional `; flag=value` pairs (a trailing `;` is fine).
    pub fn parse(header: &str) -> Result<Self, ApiError> {
        let raw = header.trim().to_owned();
        let invalid = || {
            ApiError::invalid(format!(
                "Invalid Stripe API version: {raw}. Versions look like {DEFAULT_VERSION}."
            ))
        };
        let mut parts = raw.split(';').map(str::trim);
        let base = parts.next().unwrap_or_default();
        let (date, name) = match base.split_once('.') {
            Some((date, name)) => (date, Some(name)),
            None => (base, None),
        };
        let date_ok = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        let name_ok = name.is_none_or(|n| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !date_ok || !name_ok {
            return Err(invalid());
        }
        let mut flags = Vec::new();
        for part in parts.filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(invalid());
            };
            flags.push((key.trim().to_owned(), value.trim().to_owned()));
        }
        Ok(Self {
            date: date.to_owned(),
            name: name.map(str::to_owned),
            flags,
            raw,
        })
    }

    /// [`DEFAULT_VERSION`], built without parsing (so without a fallible path).
    pub fn default_version() -> Self {
        Self {
            raw: DEFAULT_VERSION.to_owned(),
            date: "2026-09-30".to_owned(),
            name: Some("endive".to_owned()),
            flags: Vec::new(),
        }
    }

    pub fn has_flag(&self, key: &str, value: &str) -> bool {
        self.flags.iter().any(|(k, v)| k == key && v == value)
    }

    pub fn dialect(&self) -> Dialect {
        if self.date.as_str() >= RENAME_DATE {
            Dialect::Dahlia
        } else if self.date.as_str() >= GA_DATE {
            Dialect::Ga
        } else if self.has_flag(PREVIEW_FLAG, "v1") {
            Dialect::Preview
        } else {
            Dialect::Legacy
        }
    }
}

/// Canonical UI mode; the wire name depends on the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiMode {
    /// `custom` before dahlia, `elements` after.
    Elements,
    Hosted,
    Embedded,
}

impl Dialect {
    pub fn renamed_ui_modes(self) -> bool {
        self == Self::Dahlia
    }

    /// Whether `permissions[update_line_items]` exists in this dialect.
    pub fn has_update_line_items_permission(self) -> bool {
        self == Self::Preview
    }

    /// Whether `line_items` is an update parameter at all.
    pub fn can_update_line_items(self) -> bool {
        self != Self::Legacy
    }

    pub fn ui_mode_name(self, mode: UiMode) -> &'static str {
        match (self.renamed_ui_modes(), mode) {
            (false, UiMode::Elements) => "custom",
            (false, UiMode::Hosted) => "hosted",
            (false, UiMode::Embedded) => "embedded",
            (true, UiMode::Elements) => "elements",
            (true, UiMode::Hosted) => "hosted_page",
            (true, UiMode::Embedded) => "embedded_page",
        }
    }

    /// Accepted `ui_mode` values, sorted as Stripe lists them in errors.
    pub fn ui_mode_choices(self) -> &'static [&'static str] {
        if self.renamed_ui_modes() {
            &["elements", "embedded_page", "hosted_page"]
        } else {
            &["custom", "embedded", "hosted"]
        }
    }

    pub fn parse_ui_mode(self, value: &str) -> Option<UiMode> {
        [UiMode::Elements, UiMode::Hosted, UiMode::Embedded]
            .into_iter()
            .find(|mode| self.ui_mode_name(*mode) == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(header: &str) -> Dialect {
        ApiVersion::parse(header).expect("valid").dialect()
    }

    #[test]
    fn preview_needs_flag_before_ga() {
        assert_eq!(
            dialect("2025-03-31.basil; checkout_server_update_beta=v1;"),
            Dialect::Preview
        );
        assert_eq!(
            dialect("2025-03-31.basil;checkout_server_update_beta=v1"),
            Dialect::Preview
        );
        assert_eq!(dialect("2025-03-31.basil"), Dialect::Legacy);
        assert_eq!(
            dialect("2025-03-31.basil; checkout_server_update_beta=v2"),
            Dialect::Legacy
        );
        assert_eq!(dialect("2020-08-27"), Dialect::Legacy);
    }

    #[test]
    fn ga_and_rename_boundaries() {
        assert_eq!(dialect("2025-12-14.clover"), Dialect::Legacy);
        assert_eq!(dialect("2025-12-15.clover"), Dialect::Ga);
        assert_eq!(
            dialect("2025-12-15.clover; checkout_server_update_beta=v1"),
            Dialect::Ga
        );
        assert_eq!(dialect("2026-03-24.clover"), Dialect::Ga);
        assert_eq!(dialect("2026-03-25.dahlia"), Dialect::Dahlia);
        assert_eq!(dialect(DEFAULT_VERSION), Dialect::Dahlia);
    }

    #[test]
    fn default_version_matches_its_parse() {
        assert_eq!(
            ApiVersion::default_version(),
            ApiVersion::parse(DEFAULT_VERSION).expect("valid")
        );
    }

    #[test]
    fn flags_and_raw_are_kept() {
        let v = ApiVersion::parse("  2025-03-31.basil; checkout_server_update_beta=v1; other=v3 ")
            .expect("valid");
        assert_eq!(
            v.raw,
            "2025-03-31.basil; checkout_server_update_beta=v1; other=v3"
        );
        assert_eq!(v.date, "2025-03-31");
        assert_eq!(v.name.as_deref(), Some("basil"));
        assert!(v.has_flag("other", "v3"));
    }

    #[test]
    fn malformed_versions_are_rejected() {
        for bad in [
            "",
            "basil",
            "2025-3-31.basil",
            "2025-03-31.",
            "2025-03-31.basil; flag",
            "20250331",
        ] {
            assert!(ApiVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ui_mode_names_follow_dialect() {
        assert_eq!(Dialect::Preview.ui_mode_name(UiMode::Elements), "custom");
        assert_eq!(Dialect::Dahlia.ui_mode_name(UiMode::Elements), "elements");
        assert_eq!(Dialect::Dahlia.ui_mode_name(UiMode::Hosted), "hosted_page");
        assert_eq!(Dialect::Dahlia.parse_ui_mode("custom"), None);
        assert_eq!(Dialect::Ga.parse_ui_mode("custom"), Some(UiMode::Elements));
        assert_eq!(
            Dialect::Dahlia.parse_ui_mode("embedded_page"),
            Some(UiMode::Embedded)
        );
    }
}
