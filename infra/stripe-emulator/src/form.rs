//! Form decoding: `application/x-www-form-urlencoded` bodies and query strings into a nested tree,
//! plus [`Params`], a consuming reader that turns leftovers into `parameter_unknown` errors.
//!
//! Clients disagree on array syntax (`expand[]=`, `expand[0]=`, `expand%5B0%5D=`), so arrays are
//! kept as maps keyed by index and only read as lists by the handler that expects one.

use crate::errors::ApiError;
pub use crate::metadata::MetadataUpdate;
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

/// Reads parameters out of one object level; what is left at [`Params::finish`] is unknown.
#[derive(Debug)]
pub struct Params {
    prefix: String,
    entries: Vec<(String, Node)>,
}

/// An `Emptyable` parameter: `key=` means "clear", anything else is a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emptyable<T> {
    Clear,
    Set(T),
}

impl Params {
    pub fn root(node: Node) -> Self {
        Self::at(String::new(), node)
    }

    fn at(prefix: String, node: Node) -> Self {
        let entries = match node {
            Node::Map(entries) => entries,
            Node::Leaf(_) => Vec::new(),
        };
        Self { prefix, entries }
    }

    /// The full bracketed name of `key` at this level, as used in `param`.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}[{key}]", self.prefix)
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Whether `key` was sent as a hash (`key[a]=..`) rather than a scalar.
    pub fn is_object(&self, key: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, v)| k == key && matches!(v, Node::Map(_)))
    }

    pub fn take(&mut self, key: &str) -> Option<Node> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Node::Leaf(value)) => Ok(Some(value)),
            Some(Node::Map(_)) => Err(ApiError::invalid(format!(
                "Invalid string: {} must be a string, not a hash.",
                self.path(key)
            ))
            .with_param(self.path(key))),
        }
    }

    /// A string that may not be sent empty (Stripe's `parameter_invalid_empty`).
    pub fn nonempty_string(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        match self.string(key)? {
            Some(value) if value.is_empty() => Err(self.empty_error(key)),
            other => Ok(other),
        }
    }

    pub fn required_string(&mut self, key: &str) -> Result<String, ApiError> {
        self.nonempty_string(key)?
            .ok_or_else(|| ApiError::missing(self.path(key)))
    }

    /// An optional string where `key=` clears the value.
    pub fn emptyable_string(&mut self, key: &str) -> Result<Option<Emptyable<String>>, ApiError> {
        Ok(self.string(key)?.map(|value| {
            if value.is_empty() {
                Emptyable::Clear
            } else {
                Emptyable::Set(value)
            }
        }))
    }

    pub fn integer(&mut self, key: &str) -> Result<Option<i64>, ApiError> {
        let path = self.path(key);
        match self.nonempty_string(key)? {
            None => Ok(None),
            Some(raw) => raw.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(format!("Invalid integer: {raw}"))
                    .with_code("parameter_invalid_integer")
                    .with_param(path)
            }),
        }
    }

    pub fn boolean(&mut self, key: &str) -> Result<Option<bool>, ApiError> {
        let path = self.path(key);
        match self.nonempty_string(key)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => {
                Err(ApiError::invalid(format!("Invalid boolean: {other}")).with_param(path))
            }
        }
    }

    /// One of `choices`, else Stripe's "Invalid x: must be one of a, b, or c".
    pub fn choice(&mut self, key: &str, choices: &[&str]) -> Result<Option<String>, ApiError> {
        let path = self.path(key);
        match self.nonempty_string(key)? {
            None => Ok(None),
            Some(value) if choices.contains(&value.as_str()) => Ok(Some(value)),
            Some(_) => Err(invalid_choice(&path, choices)),
        }
    }

    pub fn object(&mut self, key: &str) -> Result<Option<Params>, ApiError> {
        let path = self.path(key);
        match self.take(key) {
            None => Ok(None),
            Some(node @ Node::Map(_)) => Ok(Some(Params::at(path, node))),
            Some(Node::Leaf(value)) if value.is_empty() => Err(self.empty_error(key)),
            Some(Node::Leaf(_)) => Err(ApiError::invalid(format!(
                "Invalid object: {path} must be a hash of parameters."
            ))
            .with_param(path)),
        }
    }

    /// An object that may be cleared with `key=` (metadata, shipping options...).
    pub fn emptyable_object(&mut self, key: &str) -> Result<Option<Emptyable<Params>>, ApiError> {
        let path = self.path(key);
        match self.take(key) {
            None => Ok(None),
            Some(Node::Leaf(value)) if value.is_empty() => Ok(Some(Emptyable::Clear)),
            Some(node @ Node::Map(_)) => Ok(Some(Emptyable::Set(Params::at(path, node)))),
            Some(Node::Leaf(_)) => Err(ApiError::invalid(format!(
                "Invalid object: {path} must be a hash of parameters."
            ))
            .with_param(path)),
        }
    }

    /// An array; `key=` reads as the empty array. Elements come with their bracketed name.
    pub fn list(&mut self, key: &str) -> Result<Option<Vec<(String, Node)>>, ApiError> {
        let path = self.path(key);
        let Some(node) = self.take(key) else {
            return Ok(None);
        };
        if let Node::Leaf(value) = &node {
            if value.is_empty() {
                return Ok(Some(Vec::new()));
            }
        }
        let items = node.as_list().ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid array: {path} must be an array (e.g. {path}[0]=...)."
            ))
            .with_param(path.clone())
        })?;
        Ok(Some(
            items
                .into_iter()
                .map(|(index, child)| (format!("{path}[{index}]"), child.clone()))
                .collect(),
        ))
    }

    /// An array of objects, each as its own [`Params`].
    pub fn object_list(&mut self, key: &str) -> Result<Option<Vec<Params>>, ApiError> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|(path, node)| match node {
                Node::Map(_) => Ok(Params::at(path, node)),
                Node::Leaf(_) => Err(ApiError::invalid(format!(
                    "Invalid object: {path} must be a hash of parameters."
                ))
                .with_param(path)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub fn string_list(&mut self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .into_iter()
            .map(|(path, node)| match node {
                Node::Leaf(value) => Ok(value),
                Node::Map(_) => Err(ApiError::invalid(format!(
                    "Invalid string: {path} must be a string."
                ))
                .with_param(path)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `metadata[k]=v` sets, `metadata[k]=` unsets one key, `metadata=` unsets all (see
    /// [`crate::metadata`]).
    pub fn metadata(&mut self, key: &str) -> Result<Option<MetadataUpdate>, ApiError> {
        let path = self.path(key);
        self.emptyable_object(key)?
            .map(|object| match object {
                Emptyable::Clear => Ok(MetadataUpdate::clear_all(path)),
                Emptyable::Set(object) => MetadataUpdate::parse(path, object.entries),
            })
            .transpose()
    }

    /// Errors with `parameter_unknown` for the first parameter nobody took, named at the level
    /// where it is unknown (`foo` for `foo[bar]=1`, `permissions[x]` inside `permissions`).
    pub fn finish(self) -> Result<(), ApiError> {
        match self.entries.into_iter().next() {
            None => Ok(()),
            Some((key, _)) => Err(ApiError::unknown(if self.prefix.is_empty() {
                key
            } else {
                format!("{}[{key}]", self.prefix)
            })),
        }
    }

    fn empty_error(&self, key: &str) -> ApiError {
        let path = self.path(key);
        ApiError::invalid(format!(
            "You passed an empty string for '{path}'. We assume empty values are an attempt to unset a parameter; however '{path}' cannot be unset. You should remove '{path}' from your request or supply a non-empty value."
        ))
        .with_code("parameter_invalid_empty")
        .with_param(path)
    }
}

pub fn invalid_choice(path: &str, choices: &[&str]) -> ApiError {
    let listed = match choices {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    };
    ApiError::invalid(format!("Invalid {path}: must be one of {listed}")).with_param(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(input: &str) -> Node {
        parse(&[input.as_bytes()]).expect("parses")
    }

    fn leaf(s: &str) -> Node {
        Node::Leaf(s.to_owned())
    }

    #[test]
    fn nested_keys_build_maps() {
        let t = tree("a[b][c]=v&a[b][d]=w&x=1");
        assert_eq!(t.get("x"), Some(&leaf("1")));
        let b = t.get("a").and_then(|a| a.get("b")).expect("a[b]");
        assert_eq!(b.get("c"), Some(&leaf("v")));
        assert_eq!(b.get("d"), Some(&leaf("w")));
    }

    #[test]
    fn percent_encoded_brackets_equal_plain_brackets() {
        let plain = tree("line_items[0][id]=li_1&line_items[0][quantity]=2");
        let encoded = tree("line_items%5B0%5D%5Bid%5D=li_1&line_items%5B0%5D%5Bquantity%5D=2");
        assert_eq!(plain, encoded);
        assert_eq!(plain.canonical(), encoded.canonical());
    }

    #[test]
    fn append_and_indexed_arrays_agree() {
        let appended = tree("expand[]=line_items&expand[]=customer");
        let indexed = tree("expand[0]=line_items&expand[1]=customer");
        assert_eq!(appended, indexed);
        let list = appended
            .get("expand")
            .and_then(Node::as_list)
            .expect("list");
        let values: Vec<_> = list.iter().map(|(_, n)| (*n).clone()).collect();
        assert_eq!(values, vec![leaf("line_items"), leaf("customer")]);
    }

    #[test]
    fn sparse_out_of_order_indices_sort_by_index() {
        let t = tree("items[10]=c&items[2]=b&items[0]=a");
        let list = t.get("items").and_then(Node::as_list).expect("list");
        let keys: Vec<_> = list.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["0", "2", "10"]);
        let values: Vec<_> = list.iter().map(|(_, n)| (*n).clone()).collect();
        assert_eq!(values, vec![leaf("a"), leaf("b"), leaf("c")]);
    }

    #[test]
    fn append_groups_object_fields_like_rack() {
        let t = tree("li[][price]=p1&li[][quantity]=1&li[][price]=p2&li[][quantity]=2");
        let list = t.get("li").and_then(Node::as_list).expect("list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].1.get("price"), Some(&leaf("p1")));
        assert_eq!(list[0].1.get("quantity"), Some(&leaf("1")));
        assert_eq!(list[1].1.get("price"), Some(&leaf("p2")));
    }

    #[test]
    fn empty_values_are_kept_as_empty_leaves() {
        let t = tree("metadata=&name=");
        assert_eq!(t.get("metadata"), Some(&leaf("")));
        assert_eq!(t.get("name"), Some(&leaf("")));
    }

    #[test]
    fn plus_and_percent_decode_in_values() {
        let t = tree("name=T+shirt%20%26+co");
        assert_eq!(t.get("name"), Some(&leaf("T shirt & co")));
    }

    #[test]
    fn unbalanced_brackets_stay_literal() {
        assert_eq!(split_key("a[b"), vec!["a[b".to_owned()]);
        assert_eq!(split_key("a[b]c"), vec!["a[b]c".to_owned()]);
        assert_eq!(split_key("[a]"), vec!["[a]".to_owned()]);
        assert_eq!(split_key("a[]"), vec!["a".to_owned(), String::new()]);
    }

    #[test]
    fn scalar_then_structured_does_not_panic() {
        let t = tree("a=1&a[b]=2&a[b][c]=3&a=4");
        assert_eq!(t.get("a"), Some(&leaf("4")));
    }

    #[test]
    fn too_deep_nesting_is_rejected() {
        let key = format!("a{}", "[x]".repeat(20));
        assert!(parse(&[format!("{key}=1").as_bytes()]).is_err());
    }

    #[test]
    fn canonical_ignores_order() {
        assert_eq!(tree("a=1&b=2").canonical(), tree("b=2&a=1").canonical());
        assert_ne!(tree("a=1&b=2").canonical(), tree("a=1&b=3").canonical());
    }

    #[test]
    fn params_report_unknown_with_full_name() {
        let mut p = Params::root(tree("line_items[0][price]=p&line_items[0][bogus][x]=1"));
        let items = p.object_list("line_items").expect("ok").expect("present");
        p.finish().expect("root fully read");
        let mut item = items.into_iter().next().expect("one");
        assert_eq!(item.string("price").expect("ok").as_deref(), Some("p"));
        let err = item.finish().expect_err("bogus is unknown");
        assert_eq!(err.param.as_deref(), Some("line_items[0][bogus]"));
        assert_eq!(err.code, Some("parameter_unknown"));
    }

    #[test]
    fn params_type_errors_name_the_param() {
        let mut p = Params::root(tree("quantity=abc&flag=maybe&mode="));
        let err = p.integer("quantity").expect_err("not an integer");
        assert_eq!(err.code, Some("parameter_invalid_integer"));
        assert_eq!(err.param.as_deref(), Some("quantity"));
        assert!(p.boolean("flag").is_err());
        let err = p.required_string("mode").expect_err("empty");
        assert_eq!(err.code, Some("parameter_invalid_empty"));
        let err = p.required_string("absent").expect_err("missing");
        assert_eq!(err.code, Some("parameter_missing"));
    }

    #[test]
    fn empty_string_reads_as_empty_list() {
        let mut p = Params::root(tree("line_items="));
        assert_eq!(p.list("line_items").expect("ok"), Some(Vec::new()));
        let mut p = Params::root(tree("line_items=x"));
        assert!(p.list("line_items").is_err());
    }

    #[test]
    fn choice_lists_allowed_values() {
        let mut p = Params::root(tree("ui_mode=custom"));
        let err = p
            .choice("ui_mode", &["elements", "embedded_page", "hosted_page"])
            .expect_err("not allowed");
        assert_eq!(
            err.message,
            "Invalid ui_mode: must be one of elements, embedded_page, or hosted_page"
        );
        assert_eq!(err.param.as_deref(), Some("ui_mode"));
    }
}
