//! Maps keyed by numeric ids: sessions, sockets, WebSockets, HTTP requests, pending acks.
//!
//! Every message looks up its connection in several of these, so they are hash maps with a
//! fixed multiplicative hasher rather than B-trees: a lookup costs one multiply and one probe
//! instead of a walk through the tree's nodes. The hasher has no random seed, so the same
//! calls give the same iteration order on every run (the core stays deterministic). The keys
//! are ids this process hands out (or the runtime does), never ones a peer chooses, so a
//! seedless hash cannot be steered into collisions from outside.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hash map keyed by ids, hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A multiplicative hasher for integer keys (the mixing step of the Fx hash).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(Self::SEED);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_calls_give_the_same_order() {
        let fill = || {
            let mut m: IdMap<u64, u64> = IdMap::default();
            for i in 0..1000 {
                m.insert(i * 7, i);
            }
            for i in 0..500 {
                m.remove(&(i * 14));
            }
            m.into_iter().collect::<Vec<_>>()
        };
        let a = fill();
        assert_eq!(a.len(), 500);
        assert_eq!(a, fill());
    }

    #[test]
    fn sequential_ids_spread_over_buckets() {
        // The low bits pick the bucket and the top 7 bits tag it: both must vary.
        let hash = |n: u64| {
            let mut h = IdHasher::default();
            h.write_u64(n);
            h.finish()
        };
        let low: std::collections::HashSet<u64> = (0..256).map(|n| hash(n) & 0xff).collect();
        let top: std::collections::HashSet<u64> = (0..256).map(|n| hash(n) >> 57).collect();
        assert_eq!(low.len(), 256);
        assert!(top.len() > 64, "{}", top.len());
    }
}
