//! Ordered sets and maps from iterators, and stable sorting, with less WebAssembly.
//!
//! std's `FromIterator` for `BTreeSet`/`BTreeMap` gathers the items into a `Vec` and stable-sorts
//! it, and `sort_by` is generic over the element type and the comparison: each puts one copy of
//! the sort (about 4 KB of WebAssembly) into the module per element type. [`set`] and [`map`]
//! insert one by one (`Extend`) instead, which gives the same set or map: for equal keys the
//! later value wins either way, and equal keys here are identical (strings, addresses, numbers).
//! [`sort_by`] shares one sort for every element type.

use std::cmp::Ordering;
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

/// Stable-sorts `items` by `compare`: the same order as `items.sort_by(compare)`, but with one
/// copy of the sort for every element type (about 4 KB of WebAssembly each otherwise). The sort
/// runs on the items' indices through a `dyn` comparison; the items are then moved into place.
pub(crate) fn sort_by<T>(items: &mut Vec<T>, mut compare: impl FnMut(&T, &T) -> Ordering) {
    let order = sorted_indices(
        items.len(),
        &mut |a, b| match (items.get(a), items.get(b)) {
            (Some(x), Some(y)) => compare(x, y),
            _ => Ordering::Equal,
        },
    );
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(
        order
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take)),
    );
}

/// `0..len` stable-sorted by `compare`.
fn sorted_indices(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|a, b| compare(*a, *b));
    order
}

#[cfg(test)]
mod tests {
    #[test]
    fn sort_by_is_the_stable_sort() {
        // Few distinct keys, so that many items compare equal; long enough for std's merge
        // paths, not only its small-slice sort.
        let items: Vec<(usize, usize)> = (0..200).map(|i| (i * 7919 % 13, i)).collect();
        for len in 0..=items.len() {
            let mut ours = items.get(..len).unwrap_or_default().to_vec();
            let mut std = ours.clone();
            super::sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
            std.sort_by_key(|a| a.0);
            assert_eq!(ours, std);
        }
    }
}
