//! Maps keyed by numeric ids: sessions, sockets, WebSockets, HTTP requests, pending CONNECTs.
//!
//! Every message looks up its connection in several of these, so they are hash maps with the
//! Fx hash (the `rustc-hash` crate, as the runtime's maps) rather than B-trees: a lookup costs
//! a multiply and a probe instead of a walk through the tree's nodes. The hash has no random
//! seed, so the same calls give the same iteration order on every run (the core stays
//! deterministic). The keys are ids this process hands out (or the runtime does), never ones
//! a peer chooses, so a seedless hash cannot be steered into collisions from outside.

/// A hash map keyed by ids.
pub(crate) type IdMap<K, V> = rustc_hash::FxHashMap<K, V>;

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
}
