//! The form tree: `application/x-www-form-urlencoded` bodies and query strings decoded into
//! nested [`Node`]s, with arrays kept as maps keyed by index.

use crate::errors::ApiError;
use std::collections::BTreeMap;

/// Bounds that keep a hostile body from costing more than a moment (inserts are linear scans).
const MAX_PAIRS: usize = 10_000;
const MAX_DEPTH: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A scalar. The empty string means "unset" wherever Stripe allows it.
    Leaf(String),
    /// Children in first-seen order; array elements are keyed by their index.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn empty() -> Self {
        Self::Map(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Self::Leaf(_) => None,
        }
    }

    /// Array elements sorted by index, with the index as written by the client. `None` when any
    /// key is not a plain non-negative integer.
    pub fn as_list(&self) -> Option<Vec<(&str, &Node)>> {
        let Self::Map(entries) = self else {
            return None;
        };
        let mut indexed = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            indexed.push((parse_index(key)?, key.as_str(), value));
        }
        indexed.sort_by_key(|(index, _, _)| *index);
        Some(indexed.into_iter().map(|(_, k, v)| (k, v)).collect())
    }

    /// A stable rendering with sorted keys, so equal parameter sets compare equal whatever order
    /// or array syntax the client used (idempotency fingerprints).
    pub fn canonical(&self) -> String {
        match self {
            Self::Leaf(value) => serde_json::Value::String(value.clone()).to_string(),
            Self::Map(entries) => {
                let sorted: BTreeMap<&str, String> = entries
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.canonical()))
                    .collect();
                let inner: Vec<String> = sorted
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::Value::String((*k).to_owned())))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }

    /// Plain JSON (maps stay maps), for logs and tests.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Leaf(value) => serde_json::Value::String(value.clone()),
            Self::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn parse_index(key: &str) -> Option<u64> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// Parses one or more encoded strings (query, then body) into one tree. Keys are percent-decoded
/// before brackets are interpreted, so `line_items%5B0%5D%5Bid%5D` equals `line_items[0][id]`.
pub fn parse(inputs: &[&[u8]]) -> Result<Node, ApiError> {
    let mut root = Vec::new();
    let mut pairs = 0usize;
    for input in inputs {
        for (key, value) in form_urlencoded::parse(input) {
            if key.is_empty() {
                continue;
            }
            pairs += 1;
            if pairs > MAX_PAIRS {
                return Err(ApiError::invalid(format!(
                    "Too many parameters: at most {MAX_PAIRS} are accepted."
                )));
            }
            let segments = split_key(&key);
            if segments.len() > MAX_DEPTH {
                return Err(
                    ApiError::invalid(format!("Parameter nesting is too deep: {key}"))
                        .with_param(key.into_owned()),
                );
            }
            insert(&mut root, &segments, value.into_owned());
        }
    }
    Ok(Node::Map(root))
}

/// `a[b][]` → `["a", "b", ""]` (empty = append). A key whose brackets do not balance is taken
/// literally, which later surfaces as an unknown parameter rather than a guess.
pub fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_owned()];
    };
    if open == 0 {
        return vec![key.to_owned()];
    }
    let mut segments = vec![key[..open].to_owned()];
    let mut rest = &key[open..];
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return vec![key.to_owned()];
        };
        let Some(close) = inner.find(']') else {
            return vec![key.to_owned()];
        };
        segments.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
    }
    segments
}

fn insert(entries: &mut Vec<(String, Node)>, segments: &[String], value: String) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let key = if first.is_empty() {
        append_key(entries, rest)
    } else {
        first.clone()
    };
    let position = entries.iter().position(|(k, _)| *k == key);
    if rest.is_empty() {
        // Repeated scalar keys: the last one wins, as in Rack.
        match position {
            Some(i) => entries[i].1 = Node::Leaf(value),
            None => entries.push((key, Node::Leaf(value))),
        }
        return;
    }
    let index = match position {
        Some(i) => i,
        None => {
            entries.push((key, Node::empty()));
            entries.len() - 1
        }
    };
    if let Node::Leaf(_) = entries[index].1 {
        // `a=1&a[b]=2`: the structured form wins over the scalar.
        entries[index].1 = Node::empty();
    }
    if let Node::Map(children) = &mut entries[index].1 {
        insert(children, rest, value);
    }
}

/// The key an `[]` segment stands for: the next index, except that `a[][x]=1&a[][y]=2` fills
/// the same element until a field repeats (Rack's grouping rule).
fn append_key(entries: &[(String, Node)], rest: &[String]) -> String {
    let last = entries
        .iter()
        .filter_map(|(k, v)| parse_index(k).map(|i| (i, v)))
        .max_by_key(|(i, _)| *i);
    match last {
        None => "0".to_owned(),
        Some((i, node)) => {
            if !rest.is_empty() && !rest.iter().any(String::is_empty) && !has_path(node, rest) {
                if let Node::Map(_) = node {
                    return i.to_string();
                }
            }
            i.saturating_add(1).to_string()
        }
    }
}

fn has_path(node: &Node, path: &[String]) -> bool {
    match path.split_first() {
        None => true,
        Some((first, rest)) => node.get(first).is_some_and(|child| has_path(child, rest)),
    }
}
