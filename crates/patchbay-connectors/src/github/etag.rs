//! Pages kept with their ETags, so a conditional request answered 304 can be served from
//! memory. Bounded: when full, the cache starts over.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

const MAX_ENTRIES: usize = 512;

#[derive(Clone)]
pub struct Cached {
    pub etag: String,
    pub body: Value,
    pub next: Option<String>,
}

#[derive(Default)]
pub struct EtagCache {
    entries: Mutex<HashMap<String, Cached>>,
}

impl EtagCache {
    pub fn get(&self, key: &str) -> Option<Cached> {
        self.lock().get(key).cloned()
    }

    pub fn put(&self, key: String, etag: String, body: Value, next: Option<String>) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, Cached { etag, body, next });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
