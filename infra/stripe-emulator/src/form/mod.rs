//! Form decoding: `application/x-www-form-urlencoded` bodies and query strings into a nested tree,
//! plus [`Params`], a consuming reader that turns leftovers into `parameter_unknown` errors.
//!
//! Clients disagree on array syntax (`expand[]=`, `expand[0]=`, `expand%5B0%5D=`), so arrays are
//! kept as maps keyed by index and only read as lists by the handler that expects one.

mod params;
#[cfg(test)]
mod tests;
// Visible to `metadata`, which reads tree nodes and sits below `params`.
pub(crate) mod tree;

pub use crate::metadata::MetadataUpdate;
pub use params::{invalid_choice, Emptyable, Params};
pub use tree::{parse, split_key, Node};
