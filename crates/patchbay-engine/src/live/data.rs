//! Data endpoints for dashboard widgets, served from a TTL cache (the endpoint's) that joins
//! concurrent misses into one provider call.

use super::{shared_error, Live};
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::oauth::{Call, CallOut};
use patchbay_core::{
    ms_to_rfc3339, now_ms, Capability, ConnectorError, DataPayload, DataShape, Lifecycle,
};
use patchbay_store::ConnectionRow;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Cached data entries kept at most.
const CACHE_ENTRIES: u64 = 100_000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DataView {
    pub connection_id: String,
    pub endpoint: String,
    pub shape: DataShape,
    #[schema(value_type = Object)]
    pub data: Value,
    pub fetched_at: String,
    /// Served from the cache rather than fetched for this request.
    pub cached: bool,
}

#[derive(Clone)]
struct Fetched {
    payload: DataPayload,
    fetched_at: i64,
    ttl: Duration,
}

/// The data cache: per-entry TTL (the endpoint's), concurrent misses of one key share a fetch.
pub(super) struct DataCache(moka::future::Cache<(String, String), Arc<Fetched>>);

struct PerEntryTtl;

impl moka::Expiry<(String, String), Arc<Fetched>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &(String, String),
        value: &Arc<Fetched>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl Default for DataCache {
    fn default() -> Self {
        DataCache(
            moka::future::Cache::builder()
                .max_capacity(CACHE_ENTRIES)
                .expire_after(PerEntryTtl)
                .build(),
        )
    }
}

impl Live {
    /// A data endpoint's current value, from the cache while it is fresh.
    pub async fn data(&self, caller: &Caller, id: &str, endpoint: &str) -> Result<DataView> {
        let row = self.ctx.load_connection(caller, id).await?;
        self.data_for(&row, endpoint).await
    }

    pub(super) async fn data_for(&self, row: &ConnectionRow, endpoint: &str) -> Result<DataView> {
        let connector = self.ctx.connector_for(row)?;
        let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
        let spec = connector
            .data_endpoints_for(&config)
            .into_iter()
            .find(|e| e.key == endpoint)
            .filter(|_| connector.spec().supports(Capability::Data))
            .ok_or(EngineError::NotFound("data endpoint"))?;
        if row.lifecycle != Lifecycle::Enabled.as_str() {
            return Err(EngineError::Conflict(format!(
                "the connection is {}; data endpoints need it enabled",
                row.lifecycle
            )));
        }
        let fetched_now = AtomicBool::new(false);
        let key = (row.id.clone(), endpoint.to_string());
        let entry = self
            .cache
            .0
            .try_get_with(key, async {
                fetched_now.store(true, Ordering::Relaxed);
                let out = self
                    .tokens
                    .call_for(connector.as_ref(), row, &Call::Data(endpoint))
                    .await?
                    .map_err(EngineError::Connector)?;
                let CallOut::Data(payload) = out else {
                    return Err(EngineError::Connector(ConnectorError::BadResponse(
                        "unexpected answer".into(),
                    )));
                };
                Ok::<_, EngineError>(Arc::new(Fetched {
                    payload,
                    fetched_at: now_ms(),
                    ttl: Duration::from_secs(u64::from(spec.ttl_seconds.max(1))),
                }))
            })
            .await
            .map_err(|e: Arc<EngineError>| shared_error(&e))?;
        Ok(DataView {
            connection_id: row.id.clone(),
            endpoint: endpoint.to_string(),
            shape: entry.payload.shape,
            data: entry.payload.data.clone(),
            fetched_at: ms_to_rfc3339(entry.fetched_at),
            cached: !fetched_now.load(Ordering::Relaxed),
        })
    }
}
