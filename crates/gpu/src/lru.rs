//! A map of at most a fixed number of entries that evicts the least recently used one: the
//! recorder's bind-group cache. A forward binds the pool's recycled buffers in combinations
//! that change with every different intervention, so a cache keyed by buffers would otherwise
//! grow with every edit of a long session.

use std::collections::HashMap;
use std::hash::Hash;

/// At most `cap` entries; a lookup marks its entry as used, an insertion into a full map
/// evicts the entry used least recently.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    cap: usize,
    clock: u64,
    map: HashMap<K, (V, u64)>,
    created: usize,
}

impl<K: Copy + Eq + Hash, V: Clone> Lru<K, V> {
    /// An empty map of at most `cap` (at least 1) entries.
    pub(crate) fn new(cap: usize) -> Self {
        Lru {
            cap: cap.max(1),
            clock: 0,
            map: HashMap::new(),
            created: 0,
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Values `make` has created so far.
    pub(crate) fn created(&self) -> usize {
        self.created
    }

    /// The value of `key`, made by `make` (evicting the least recently used entry of a full
    /// map) when it is not held.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> V {
        self.clock += 1;
        if let Some((v, used)) = self.map.get_mut(&key) {
            *used = self.clock;
            return v.clone();
        }
        if self.map.len() >= self.cap {
            // a linear scan: misses are rare once a session's working set is held
            let oldest = self.map.iter().min_by_key(|(_, (_, used))| *used);
            if let Some(k) = oldest.map(|(k, _)| *k) {
                self.map.remove(&k);
            }
        }
        let v = make();
        self.created += 1;
        self.map.insert(key, (v.clone(), self.clock));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn holds_at_most_cap_and_evicts_the_least_recently_used() {
        let mut c = Lru::new(3);
        for k in 0..3 {
            assert_eq!(c.get_or_insert_with(k, || k * 10), k * 10);
        }
        // 0 used again: 1 is now the least recently used
        assert_eq!(c.get_or_insert_with(0, || 99), 0);
        assert_eq!(c.get_or_insert_with(3, || 30), 30);
        assert_eq!(c.len(), 3);
        assert_eq!(c.created(), 4);
        assert_eq!(
            c.get_or_insert_with(1, || 11),
            11,
            "1 was evicted and made again"
        );
        assert_eq!(c.get_or_insert_with(0, || 99), 0, "0 stayed");
        assert_eq!(c.len(), 3);
        for k in 100..1000 {
            c.get_or_insert_with(k, || k);
        }
        assert_eq!(c.len(), 3);
    }
}
