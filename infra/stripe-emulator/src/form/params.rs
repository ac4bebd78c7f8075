//! [`Params`]: a consuming reader of one level of the form tree that turns leftovers into
//! `parameter_unknown` errors, and the typed reads every handler uses.

use super::tree::Node;
use crate::errors::ApiError;
use crate::metadata::MetadataUpdate;

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
