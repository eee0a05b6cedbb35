//! One ordered set of deadlines. [`Timers::next`] is what `poll_timeout` returns.

use std::collections::BTreeSet;

/// Milliseconds on a monotonic clock whose origin the caller chooses. The core never reads a
/// clock: every input carries `now`.
pub type Millis = u64;

/// An ordered set of `(deadline, key)` pairs. Keys are ordered too, so timers that expire
/// together fire in a deterministic order.
#[derive(Debug, Clone)]
pub struct Timers<K: Ord + Copy> {
    set: BTreeSet<(Millis, K)>,
    /// The set's earliest deadline, kept so that [`Timers::next`], asked after every input,
    /// does not walk down the tree.
    first: Option<Millis>,
}

impl<K: Ord + Copy> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            set: BTreeSet::new(),
            first: None,
        }
    }
}

impl<K: Ord + Copy> Timers<K> {
    /// Add a deadline.
    pub fn insert(&mut self, at: Millis, key: K) {
        self.set.insert((at, key));
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
    }

    /// Remove a deadline, if set.
    pub fn remove(&mut self, at: Millis, key: K) {
        if self.set.remove(&(at, key)) && self.first == Some(at) {
            self.first = self.set.first().map(|(at, _)| *at);
        }
    }

    /// Move `key` from `old` (if any) to `new` (if any).
    pub fn reset(&mut self, old: Option<Millis>, new: Option<Millis>, key: K) {
        if let Some(old) = old {
            self.remove(old, key);
        }
        if let Some(new) = new {
            self.insert(new, key);
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Millis> {
        self.first
    }

    /// Remove and return the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<(Millis, K)> {
        match self.first {
            Some(at) if at <= now => {
                let popped = self.set.pop_first();
                self.first = self.set.first().map(|(at, _)| *at);
                popped
            }
            _ => None,
        }
    }

    /// Number of pending deadlines.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether no deadline is pending.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_order_and_only_when_due() {
        let mut t = Timers::default();
        t.insert(30, 1u32);
        t.insert(10, 2);
        t.insert(10, 1);
        assert_eq!(t.next(), Some(10));
        assert_eq!(t.pop_due(9), None);
        assert_eq!(t.pop_due(10), Some((10, 1)));
        assert_eq!(t.pop_due(10), Some((10, 2)));
        t.reset(Some(30), Some(40), 1);
        assert_eq!(t.pop_due(35), None);
        assert_eq!(t.pop_due(40), Some((40, 1)));
        assert!(t.is_empty());
    }

    proptest::proptest! {
        /// The kept earliest deadline is always the set's first, whatever the calls.
        #[test]
        fn next_is_the_earliest(ops in proptest::collection::vec((0u8..4, 0u64..20, 0u8..4), 0..200)) {
            let mut t = Timers::default();
            let mut model = BTreeSet::new();
            for (op, at, key) in ops {
                match op {
                    0 | 1 => {
                        t.insert(at, key);
                        model.insert((at, key));
                    }
                    2 => {
                        t.remove(at, key);
                        model.remove(&(at, key));
                    }
                    _ => {
                        let due = model.first().copied().filter(|(first, _)| *first <= at);
                        if due.is_some() {
                            model.pop_first();
                        }
                        proptest::prop_assert_eq!(t.pop_due(at), due);
                    }
                }
                proptest::prop_assert_eq!(t.next(), model.first().map(|(at, _)| *at));
                proptest::prop_assert_eq!(t.len(), model.len());
            }
        }
    }
}
