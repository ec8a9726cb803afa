//! Building ordered sets and maps from iterators without `collect()`.
//!
//! std's `FromIterator` for `BTreeSet`/`BTreeMap` gathers the items into a `Vec` and stable-sorts
//! it, which puts one copy of the sort (about 4 KB of WebAssembly) into the module per element
//! type. Inserting one by one (`Extend`) gives the same set or map: for equal keys the later
//! value wins either way, and equal keys here are identical (strings, addresses, numbers).

use std::collections::{BTreeMap, BTreeSet};

/// The set of `items` (what `collect::<BTreeSet<_>>()` gives).
pub(crate) fn set<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut out = BTreeSet::new();
    out.extend(items);
    out
}

/// The map of `items` (what `collect::<BTreeMap<_, _>>()` gives).
pub(crate) fn map<K: Ord, V>(items: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut out = BTreeMap::new();
    out.extend(items);
    out
}
