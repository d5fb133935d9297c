//! The connector registry: every connector the binary knows, by key.

use crate::connector::{Connector, ConnectorSpec};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Registry {
    connectors: BTreeMap<String, Arc<dyn Connector>>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown connector '{key}'; known connectors: {}", known.join(", "))]
pub struct UnknownConnector {
    pub key: String,
    pub known: Vec<String>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a connector; a second one with the same key replaces the first.
    pub fn register(&mut self, connector: Arc<dyn Connector>) -> &mut Self {
        self.connectors
            .insert(connector.spec().key.clone(), connector);
        self
    }

    pub fn get(&self, key: &str) -> Result<Arc<dyn Connector>, UnknownConnector> {
        self.connectors
            .get(key)
            .cloned()
            .ok_or_else(|| UnknownConnector {
                key: key.to_string(),
                known: self.keys(),
            })
    }

    pub fn keys(&self) -> Vec<String> {
        self.connectors.keys().cloned().collect()
    }

    pub fn specs(&self) -> impl Iterator<Item = &ConnectorSpec> {
        self.connectors.values().map(|c| c.spec())
    }
}
