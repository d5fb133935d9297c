//! The engine: what patchbay does, independent of HTTP. It owns the vault service (keyring
//! loaded from the database, seal/open, online rotation), authentication of API keys and
//! principals, workspaces, and the connection lifecycle with its activity and outbox events.
//! Later areas (token manager, queue, sync runner, webhooks) join here.

pub mod auth;
pub mod connections;
mod error;
pub mod vault;
pub mod views;
pub mod workspaces;

pub use auth::Caller;
pub use error::EngineError;
pub use vault::{RotationReport, Vault};

use patchbay_core::Registry;
use patchbay_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Shared state of one patchbay process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    vault: Vault,
    registry: Registry,
    admin_key_hash: Option<String>,
    /// When each key's use was last recorded, to record at most once a minute per key.
    key_use: Mutex<HashMap<String, i64>>,
}

impl Engine {
    pub fn new(
        store: Store,
        vault: Vault,
        registry: Registry,
        admin_key: Option<&patchbay_core::Secret>,
    ) -> Self {
        Engine {
            inner: Arc::new(Inner {
                store,
                vault,
                registry,
                admin_key_hash: admin_key.map(|k| auth::hash_key(k.expose())),
                key_use: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }
}

/// Clamps a requested page size.
pub fn page_limit(requested: Option<i64>) -> i64 {
    requested.unwrap_or(50).clamp(1, 500)
}
