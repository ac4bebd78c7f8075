//! `expand[]` handling: which paths an endpoint accepts, and queries on the requested set.

use crate::errors::ApiError;
use crate::form::Params;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expand(Vec<String>);

impl Expand {
    /// Reads `expand` (any array syntax) and refuses paths the endpoint cannot expand.
    pub fn take(p: &mut Params, allowed: &[&str]) -> Result<Self, ApiError> {
        let paths = p.string_list("expand")?.unwrap_or_default();
        for path in &paths {
            if !allowed.contains(&path.as_str()) {
                return Err(ApiError::invalid(format!(
                    "This property cannot be expanded ({path})."
                )));
            }
        }
        Ok(Self(paths))
    }

    /// True when `path` or anything below it was requested (`line_items.data.price` implies
    /// `line_items`).
    pub fn has(&self, path: &str) -> bool {
        self.0.iter().any(|p| {
            p == path || (p.starts_with(path) && p.as_bytes().get(path.len()) == Some(&b'.'))
        })
    }

    /// The paths requested below `prefix`, relative to it: `line_items.data.taxes` under
    /// `line_items.data` is `taxes`. Lets one renderer serve every place an object is nested.
    pub fn under(&self, prefix: &str) -> Self {
        Self(
            self.0
                .iter()
                .filter_map(|p| p.strip_prefix(prefix)?.strip_prefix('.'))
                .map(str::to_owned)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::parse;

    #[test]
    fn nested_paths_imply_parents() {
        let mut p = Params::root(parse(&[b"expand[0]=line_items.data.price.product"]).expect("ok"));
        let e = Expand::take(&mut p, &["line_items", "line_items.data.price.product"]).expect("ok");
        assert!(e.has("line_items"));
        assert!(e.has("line_items.data.price.product"));
        assert!(!e.has("line_item"));
        assert!(!e.has("customer"));
    }

    #[test]
    fn under_strips_the_prefix() {
        let mut p = Params::root(
            parse(&[b"expand[]=line_items.data.taxes&expand[]=line_items.data.price.product&expand[]=customer"])
                .expect("ok"),
        );
        let all = [
            "line_items.data.taxes",
            "line_items.data.price.product",
            "customer",
        ];
        let e = Expand::take(&mut p, &all).expect("ok");
        let item = e.under("line_items.data");
        assert!(item.has("taxes") && item.has("price") && item.has("price.product"));
        assert!(!item.has("discounts") && !item.has("customer"));
        assert_eq!(e.under("line_item"), Expand::default());
    }

    #[test]
    fn unknown_paths_are_rejected() {
        let mut p = Params::root(parse(&[b"expand[]=nope"]).expect("ok"));
        assert!(Expand::take(&mut p, &["line_items"]).is_err());
    }
}
