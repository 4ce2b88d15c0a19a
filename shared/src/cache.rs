//! A per-process cache with a time limit, for what a tenant rarely changes (settings, active
//! integrations): a warm function then answers without reading them on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A warm container serves one deployment's tenants; past this many entries it starts over
/// rather than grow without bound.
const MAX_ENTRIES: usize = 1024;

pub struct TtlCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<V>)>>,
}

impl<V> TtlCache<V> {
    /// A zero `ttl` turns the cache off (every lookup misses).
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        self.get_at(key, Instant::now())
    }

    fn get_at(&self, key: &str, now: Instant) -> Option<Arc<V>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| value.clone())
    }

    /// Stores `value` (when caching is on) and hands it back shared.
    pub fn put(&self, key: &str, value: V) -> Arc<V> {
        self.put_at(key, value, Instant::now())
    }

    fn put_at(&self, key: &str, value: V, now: Instant) -> Arc<V> {
        let value = Arc::new(value);
        if self.ttl.is_zero() {
            return value;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
                entries.clear();
            }
            entries.insert(key.to_owned(), (now, value.clone()));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_within_the_ttl_and_misses_after() {
        let c = TtlCache::new(Duration::from_secs(30));
        let t0 = Instant::now();
        c.put_at("ten_a", 1, t0);
        assert_eq!(
            c.get_at("ten_a", t0 + Duration::from_secs(29)).as_deref(),
            Some(&1)
        );
        assert_eq!(c.get_at("ten_a", t0 + Duration::from_secs(30)), None);
        assert_eq!(c.get_at("ten_b", t0), None);
    }

    #[test]
    fn zero_ttl_never_keeps_anything() {
        let c = TtlCache::new(Duration::ZERO);
        assert_eq!(*c.put("ten_a", 7), 7);
        assert_eq!(c.get("ten_a"), None);
    }

    #[test]
    fn starts_over_when_full() {
        let c = TtlCache::new(Duration::from_secs(30));
        for i in 0..MAX_ENTRIES {
            c.put(&format!("k{i}"), i);
        }
        assert!(c.get("k0").is_some());
        c.put("one-more", 0);
        assert!(c.get("k0").is_none());
        assert!(c.get("one-more").is_some());
    }
}
