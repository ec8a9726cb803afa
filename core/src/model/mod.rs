//! The resolved, validated intent: what every later stage (plan, render) reads.
//!
//! Invariants once [`crate::compile`] returns an [`Intent`] without errors:
//! - every host reference names a defined host with a role that fits its use;
//! - every name is an [`crate::model::Ident`]-safe identifier and every free-text string has
//!   passed [`crate::validate::strings`] (no control characters, no quotes where a target has
//!   no escape);
//! - all maps are `BTreeMap`, so iteration order is the sorted order of names.

pub mod extract;
pub mod types;
pub mod unknown;

pub use types::*;
