//! Stripe's list envelope and cursor pagination, shared by every list endpoint.

use super::fields::check_range;
use crate::errors::ApiError;
use crate::form::Params;
use serde_json::{json, Value};

pub fn render_list(data: Vec<Value>, has_more: bool, url: &str) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// Cursor pagination over an ordered list of ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

impl Page {
    pub fn take(p: &mut Params) -> Result<Self, ApiError> {
        let limit_path = p.path("limit");
        let limit = p.integer("limit")?.unwrap_or(10);
        let limit = check_range(limit, 1, 100, &limit_path)?;
        let starting_after = p.nonempty_string("starting_after")?;
        let ending_before = p.nonempty_string("ending_before")?;
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::exclusive(
                "starting_after",
                "ending_before",
                "starting_after",
            ));
        }
        Ok(Self {
            limit: usize::try_from(limit).unwrap_or(10),
            starting_after,
            ending_before,
        })
    }

    /// The index range to return and `has_more`. An unknown cursor is `resource_missing`.
    pub fn slice(
        &self,
        ids: &[&str],
        object: &str,
    ) -> Result<(std::ops::Range<usize>, bool), ApiError> {
        let position = |cursor: &str, param: &str| {
            ids.iter()
                .position(|id| *id == cursor)
                .ok_or_else(|| ApiError::no_such(object, cursor, param, 400))
        };
        if let Some(cursor) = &self.starting_after {
            let start = position(cursor, "starting_after")? + 1;
            let end = (start + self.limit).min(ids.len());
            Ok((start..end, end < ids.len()))
        } else if let Some(cursor) = &self.ending_before {
            let end = position(cursor, "ending_before")?;
            let start = end.saturating_sub(self.limit);
            Ok((start..end, start > 0))
        } else {
            let end = self.limit.min(ids.len());
            Ok((0..end, end < ids.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_slices() {
        let ids = ["a", "b", "c", "d", "e"];
        let page = |limit, after: Option<&str>, before: Option<&str>| Page {
            limit,
            starting_after: after.map(str::to_owned),
            ending_before: before.map(str::to_owned),
        };
        assert_eq!(
            page(2, None, None).slice(&ids, "x").expect("ok"),
            (0..2, true)
        );
        assert_eq!(
            page(2, Some("b"), None).slice(&ids, "x").expect("ok"),
            (2..4, true)
        );
        assert_eq!(
            page(2, Some("d"), None).slice(&ids, "x").expect("ok"),
            (4..5, false)
        );
        assert_eq!(
            page(2, None, Some("d")).slice(&ids, "x").expect("ok"),
            (1..3, true)
        );
        assert_eq!(
            page(5, None, Some("b")).slice(&ids, "x").expect("ok"),
            (0..1, false)
        );
        assert!(page(2, Some("zz"), None).slice(&ids, "x").is_err());
    }
}
