//! Data keys by id, one of them active for new seals.

use rand::RngCore;
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroize;

/// A 256-bit data key. Never printed.
#[derive(Clone)]
pub struct DataKey {
    id: u32,
    bytes: [u8; 32],
}

impl DataKey {
    pub fn new(id: u32, bytes: [u8; 32]) -> Self {
        DataKey { id, bytes }
    }

    pub fn generate(id: u32) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        DataKey { id, bytes }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({}, [redacted])", self.id)
    }
}

/// Every data key that may still open stored values; `active` seals new ones.
#[derive(Clone, Default, Debug)]
pub struct Keyring {
    keys: BTreeMap<u32, DataKey>,
    active: Option<u32>,
}

impl Keyring {
    pub fn insert(&mut self, key: DataKey, active: bool) {
        if active {
            self.active = Some(key.id());
        }
        self.keys.insert(key.id(), key);
    }

    pub fn get(&self, id: u32) -> Option<&DataKey> {
        self.keys.get(&id)
    }

    pub fn active(&self) -> Option<&DataKey> {
        self.active.and_then(|id| self.keys.get(&id))
    }

    pub fn active_id(&self) -> Option<u32> {
        self.active
    }

    pub fn ids(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    pub fn next_id(&self) -> u32 {
        self.keys.keys().max().map_or(1, |m| m + 1)
    }
}
