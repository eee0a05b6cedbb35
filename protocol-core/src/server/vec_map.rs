//! [`VecMap`] and [`VecSet`]: sorted vectors for the small collections every connection and
//! socket holds (its namespaces, its rooms).
//!
//! A `BTreeMap` allocates a node of eleven slots for its first entry: for a socket in one room
//! or a connection in one namespace that is several hundred bytes, times every connection.
//! These hold their entries in one vector, sorted, looked up by binary search: the same
//! iteration order as the `BTree*` collections they replace, no allocation while empty.

use std::borrow::Borrow;

/// A map kept as a vector of entries sorted by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// Whether `key` has a value.
    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Set the value of `key`; the value it had.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                // Most hold one entry: room for just that (a vector's first growth makes
                // room for four); later growth doubles as usual.
                if self.entries.capacity() == 0 {
                    self.entries.reserve_exact(1);
                }
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Take the value of `key` out. The vector's memory goes with its last entry.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        let (_, v) = self.entries.remove(i);
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
        Some(v)
    }

    /// Whether it has no entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The values, in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// A set kept as a sorted vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VecSet<T> {
    items: Vec<T>,
}

impl<T> Default for VecSet<T> {
    fn default() -> Self {
        VecSet { items: Vec::new() }
    }
}

impl<T: Ord> VecSet<T> {
    /// Add `item`; whether it was not there.
    pub(crate) fn insert(&mut self, item: T) -> bool {
        match self.items.binary_search(&item) {
            Ok(_) => false,
            Err(i) => {
                if self.items.capacity() == 0 {
                    self.items.reserve_exact(1);
                }
                self.items.insert(i, item);
                true
            }
        }
    }

    /// Take `item` out; whether it was there. The vector's memory goes with its last item.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        match self.items.binary_search_by(|x| x.borrow().cmp(item)) {
            Ok(i) => {
                self.items.remove(i);
                if self.items.is_empty() {
                    self.items = Vec::new();
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `item` is in.
    pub(crate) fn contains<Q: Ord + ?Sized>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.items
            .binary_search_by(|x| x.borrow().cmp(item))
            .is_ok()
    }

    /// The items, in order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
}

impl<'a, T> IntoIterator for &'a VecSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T> IntoIterator for VecSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<T: Ord> FromIterator<T> for VecSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut items: Vec<T> = iter.into_iter().collect();
        items.sort();
        items.dedup();
        VecSet { items }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..16, any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..16).prop_map(Op::Remove),
        ]
    }

    proptest! {
        #[test]
        fn map_behaves_as_a_btreemap(ops in proptest::collection::vec(op(), 0..64)) {
            let mut m = VecMap::default();
            let mut r = BTreeMap::new();
            for o in ops {
                match o {
                    Op::Insert(k, v) => prop_assert_eq!(m.insert(k, v), r.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(m.remove(&k), r.remove(&k)),
                }
                prop_assert_eq!(m.values().collect::<Vec<_>>(), r.values().collect::<Vec<_>>());
                for k in 0..16u8 {
                    prop_assert_eq!(m.get(&k), r.get(&k));
                    prop_assert_eq!(m.contains_key(&k), r.contains_key(&k));
                }
                prop_assert_eq!(m.is_empty(), r.is_empty());
            }
        }

        #[test]
        fn set_behaves_as_a_btreeset(ops in proptest::collection::vec(op(), 0..64)) {
            let mut s = VecSet::default();
            let mut r = BTreeSet::new();
            for o in ops {
                match o {
                    Op::Insert(k, _) => prop_assert_eq!(s.insert(k), r.insert(k)),
                    Op::Remove(k) => prop_assert_eq!(s.remove(&k), r.remove(&k)),
                }
                prop_assert_eq!(s.iter().collect::<Vec<_>>(), r.iter().collect::<Vec<_>>());
                for k in 0..16u8 {
                    prop_assert_eq!(s.contains(&k), r.contains(&k));
                }
            }
            let collected: VecSet<u8> = r.iter().rev().copied().collect();
            prop_assert_eq!(collected.into_iter().collect::<Vec<_>>(), r.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn emptied_collections_free_their_memory() {
        let mut m = VecMap::default();
        m.insert("a".to_owned(), 1);
        assert_eq!(m.get("a"), Some(&1));
        m.remove("a");
        assert_eq!(m.entries.capacity(), 0);
        let mut s = VecSet::default();
        s.insert("r".to_owned());
        assert_eq!(s.iter().collect::<Vec<_>>(), ["r"]);
        s.remove("r");
        assert_eq!(s.items.capacity(), 0);
    }
}
