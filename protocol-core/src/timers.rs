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
}

impl<K: Ord + Copy> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            set: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Copy> Timers<K> {
    /// Add a deadline.
    pub fn insert(&mut self, at: Millis, key: K) {
        self.set.insert((at, key));
    }

    /// Remove a deadline, if set.
    pub fn remove(&mut self, at: Millis, key: K) {
        self.set.remove(&(at, key));
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
        self.set.first().map(|(at, _)| *at)
    }

    /// Remove and return the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<(Millis, K)> {
        match self.set.first() {
            Some(&(at, _)) if at <= now => self.set.pop_first(),
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
}
