//! `metadata` parameters and Stripe's documented limits on them
//! (<https://docs.stripe.com/api/metadata>: "You can specify up to 50 keys, with key names up to
//! 40 characters long and values up to 500 characters long"). The same rules hold wherever
//! metadata is accepted: sessions, line items, products, prices, shipping and tax rates.

use crate::errors::ApiError;
use crate::form::tree::Node;
use std::collections::BTreeMap;

pub const MAX_KEYS: usize = 50;
pub const MAX_KEY_CHARS: usize = 40;
pub const MAX_VALUE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    ClearAll,
    /// `None` removes the key.
    Keys(Vec<(String, Option<String>)>),
}

/// A validated `metadata` parameter, applied to an object's metadata once the request is known
/// to be valid otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataUpdate {
    /// The parameter's full name (`line_items[0][metadata]`), for errors.
    path: String,
    change: Change,
}

impl MetadataUpdate {
    /// `metadata=`: unsets every key.
    pub fn clear_all(path: String) -> Self {
        Self {
            path,
            change: Change::ClearAll,
        }
    }

    /// `metadata[k]=v` pairs; an empty value unsets that key. Key and value lengths are checked
    /// here, the key count once applied (it depends on the keys already there).
    pub fn parse(path: String, entries: Vec<(String, Node)>) -> Result<Self, ApiError> {
        let mut keys = Vec::with_capacity(entries.len());
        for (key, node) in entries {
            let param = format!("{path}[{key}]");
            let Node::Leaf(value) = node else {
                return Err(ApiError::invalid(format!(
                    "Invalid metadata: {param} must be a string."
                ))
                .with_param(param));
            };
            if key.chars().count() > MAX_KEY_CHARS {
                return Err(ApiError::invalid(format!(
                    "Metadata keys can have up to {MAX_KEY_CHARS} characters; {key} has more."
                ))
                .with_param(param));
            }
            let chars = value.chars().count();
            if chars > MAX_VALUE_CHARS {
                return Err(ApiError::invalid(format!(
                    "Metadata values can have up to {MAX_VALUE_CHARS} characters, but you passed in a value that is {chars} characters."
                ))
                .with_param(param));
            }
            keys.push((key, (!value.is_empty()).then_some(value)));
        }
        Ok(Self {
            path,
            change: Change::Keys(keys),
        })
    }

    pub fn apply(&self, metadata: &mut BTreeMap<String, String>) -> Result<(), ApiError> {
        match &self.change {
            Change::ClearAll => metadata.clear(),
            Change::Keys(keys) => {
                for (key, value) in keys {
                    match value {
                        Some(value) => metadata.insert(key.clone(), value.clone()),
                        None => metadata.remove(key),
                    };
                }
            }
        }
        if metadata.len() > MAX_KEYS {
            return Err(ApiError::invalid(format!(
                "You can specify up to {MAX_KEYS} keys in metadata, but {} would be set.",
                metadata.len()
            ))
            .with_param(self.path.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::form::{parse, Params};
    use std::collections::BTreeMap;

    fn update(
        body: &str,
        key: &str,
    ) -> Result<Option<super::MetadataUpdate>, crate::errors::ApiError> {
        Params::root(parse(&[body.as_bytes()]).expect("parses")).metadata(key)
    }

    #[test]
    fn set_unset_and_clear() {
        let set = update("metadata[a]=1&metadata[b]=", "metadata")
            .expect("ok")
            .expect("present");
        let mut md = BTreeMap::from([
            ("b".to_owned(), "x".to_owned()),
            ("c".to_owned(), "y".to_owned()),
        ]);
        set.apply(&mut md).expect("applies");
        assert_eq!(
            md,
            BTreeMap::from([
                ("a".to_owned(), "1".to_owned()),
                ("c".to_owned(), "y".to_owned())
            ])
        );
        let clear = update("metadata=", "metadata")
            .expect("ok")
            .expect("present");
        clear.apply(&mut md).expect("applies");
        assert!(md.is_empty());
        assert_eq!(update("name=x", "metadata").expect("ok"), None);
    }

    #[test]
    fn key_and_value_lengths_are_limited() {
        let key40 = "k".repeat(40);
        let value500 = "v".repeat(500);
        update(&format!("metadata[{key40}]={value500}"), "metadata")
            .expect("40 and 500 are allowed");
        let key41 = "k".repeat(41);
        let err = update(&format!("metadata[{key41}]=v"), "metadata").expect_err("key");
        assert_eq!(
            err.param.as_deref(),
            Some(format!("metadata[{key41}]").as_str())
        );
        let err =
            update(&format!("metadata[k]={}", "v".repeat(501)), "metadata").expect_err("value");
        assert_eq!(err.param.as_deref(), Some("metadata[k]"));
        assert!(err.message.contains("501"), "{}", err.message);
        // Characters, not bytes.
        update(
            &format!("metadata[{}]={}", "é".repeat(40), "é".repeat(500)),
            "metadata",
        )
        .expect("multibyte within limits");
        let err = update("metadata[k][nested]=v", "metadata").expect_err("nested");
        assert_eq!(err.param.as_deref(), Some("metadata[k]"));
    }

    #[test]
    fn at_most_fifty_keys_counting_those_already_set() {
        let body: Vec<String> = (0..50).map(|i| format!("metadata[k{i}]=v")).collect();
        let fifty = update(&body.join("&"), "metadata")
            .expect("ok")
            .expect("present");
        let mut md = BTreeMap::new();
        fifty.apply(&mut md).expect("50 keys");
        let one_more = update("metadata[extra]=v", "metadata")
            .expect("ok")
            .expect("present");
        let mut full = md.clone();
        let err = one_more.apply(&mut full).expect_err("51 keys");
        assert_eq!(err.param.as_deref(), Some("metadata"));
        assert_eq!(err.status, 400);
        // Unsetting one makes room in the same request.
        let swap = update("metadata[extra]=v&metadata[k0]=", "metadata")
            .expect("ok")
            .expect("present");
        swap.apply(&mut md).expect("still 50");
        assert_eq!(md.len(), 50);
        // A nested parameter names itself.
        let mut p = Params::root(parse(&[b"line_items[0][metadata][a]=1"]).expect("parses"));
        let item = p
            .object_list("line_items")
            .expect("ok")
            .expect("list")
            .remove(0);
        let mut item = item;
        let nested = item.metadata("metadata").expect("ok").expect("present");
        let mut crowded: BTreeMap<String, String> =
            (0..50).map(|i| (format!("x{i}"), "v".to_owned())).collect();
        let err = nested.apply(&mut crowded).expect_err("51");
        assert_eq!(err.param.as_deref(), Some("line_items[0][metadata]"));
    }
}
