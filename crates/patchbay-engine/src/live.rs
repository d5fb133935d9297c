//! Live reads that are not stored: signals (an owner's open items across every signal source,
//! fetched in parallel with a timeout per source) and data endpoints for dashboard widgets,
//! served from a TTL cache that joins concurrent misses into one provider call.

use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::oauth::{Call, CallOut, Tokens};
use crate::Context;
use patchbay_core::{
    ms_to_rfc3339, now_ms, Capability, ConnectorError, DataPayload, DataShape, Lifecycle, Signal,
};
use patchbay_store::{ConnectionFilter, ConnectionRow};
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one signal source may take before the answer goes out without it.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections one live read fans out to.
const FAN_OUT_LIMIT: i64 = 200;
/// Cached data entries kept at most.
const CACHE_ENTRIES: u64 = 100_000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignalView {
    pub connection_id: String,
    #[serde(flatten)]
    pub signal: Signal,
}

/// How one source fared.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceReport {
    pub connection_id: String,
    pub connector: String,
    /// ok, failed or timeout.
    pub status: String,
    pub error: Option<String>,
    pub count: usize,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignalsAnswer {
    pub owner_id: String,
    /// Due first (soonest first, undated last), then by priority.
    pub signals: Vec<SignalView>,
    pub sources: Vec<SourceReport>,
    /// More than 200 sources: only the 200 oldest were asked.
    pub truncated: bool,
}

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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    pub connection_id: String,
    pub connector: String,
    pub endpoint: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub fetched_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertsAnswer {
    pub alerts: Vec<AlertView>,
    /// Endpoints that could not be read, with why.
    pub errors: Vec<SourceReport>,
    /// More than 200 connections with data endpoints: only the 200 oldest were read.
    pub truncated: bool,
}

#[derive(Clone)]
struct Fetched {
    payload: DataPayload,
    fetched_at: i64,
    ttl: Duration,
}

/// Signals, live data and alerts, read from providers on demand.
#[derive(Clone)]
pub struct Live {
    ctx: Context,
    tokens: Tokens,
    cache: Arc<DataCache>,
}

impl Live {
    pub(crate) fn new(ctx: Context, tokens: Tokens) -> Self {
        Live {
            ctx,
            tokens,
            cache: Default::default(),
        }
    }
}

/// The data cache: per-entry TTL (the endpoint's), concurrent misses of one key share a fetch.
struct DataCache(moka::future::Cache<(String, String), Arc<Fetched>>);

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

fn sort_signals(signals: &mut [SignalView]) {
    signals.sort_by(|a, b| {
        let due = |s: &SignalView| s.signal.due.clone().unwrap_or_else(|| "~".into());
        due(a)
            .cmp(&due(b))
            .then(b.signal.priority.cmp(&a.signal.priority))
            .then(a.signal.id.cmp(&b.signal.id))
    });
}

impl Live {
    /// Enabled connections whose connector has `capability`, oldest first, at most
    /// [`FAN_OUT_LIMIT`]; `true` when more were left out. Pages past connections of other
    /// connectors, so those never crowd out the ones asked for.
    async fn live_connections(
        &self,
        caller: &Caller,
        owner_id: Option<&str>,
        capability: Capability,
    ) -> Result<(Vec<ConnectionRow>, bool)> {
        let limit = FAN_OUT_LIMIT as usize;
        let mut found = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .ctx
                .store()
                .list_connections(&ConnectionFilter {
                    workspace_id: caller.workspace_id().map(str::to_string),
                    owner_id: owner_id.map(str::to_string),
                    connector: None,
                    lifecycle: Some(Lifecycle::Enabled.as_str().into()),
                    health: None,
                    after: after.clone(),
                    limit: FAN_OUT_LIMIT,
                })
                .await?;
            let last_page = page.len() < limit;
            after = page.last().map(|r| r.id.clone());
            for row in page {
                if self
                    .ctx
                    .connector_for(&row)
                    .is_ok_and(|c| c.spec().supports(capability))
                {
                    if found.len() == limit {
                        return Ok((found, true));
                    }
                    found.push(row);
                }
            }
            if last_page {
                return Ok((found, false));
            }
        }
    }

    /// Every signal source of `owner_id`, asked in parallel; a failing or slow source is
    /// reported in `sources` and never fails the answer.
    pub async fn signals(
        &self,
        caller: &Caller,
        owner_id: &str,
        timeout: Duration,
    ) -> Result<SignalsAnswer> {
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot read signals".into(),
            ));
        }
        let (rows, truncated) = self
            .live_connections(caller, Some(owner_id), Capability::Signals)
            .await?;
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let engine = self.clone();
            tasks.spawn(async move {
                let started = Instant::now();
                let call = async {
                    let connector = engine.ctx.connector_for(&row)?;
                    engine
                        .tokens
                        .call_for(connector.as_ref(), &row, &Call::Signals)
                        .await
                };
                let outcome = tokio::time::timeout(timeout, call).await;
                let elapsed_ms = started.elapsed().as_millis() as u64;
                let report = |status: &str, error: Option<String>, count| SourceReport {
                    connection_id: row.id.clone(),
                    connector: row.connector.clone(),
                    status: status.into(),
                    error,
                    count,
                    elapsed_ms,
                };
                match outcome {
                    Ok(Ok(Ok(CallOut::Signals(list)))) => {
                        let n = list.len();
                        let views = list
                            .into_iter()
                            .map(|signal| SignalView {
                                connection_id: row.id.clone(),
                                signal,
                            })
                            .collect();
                        (views, report("ok", None, n))
                    }
                    Ok(Ok(Ok(_))) => (
                        Vec::new(),
                        report("failed", Some("unexpected answer".into()), 0),
                    ),
                    Ok(Ok(Err(e))) => (Vec::new(), report("failed", Some(e.to_string()), 0)),
                    Ok(Err(e)) => (Vec::new(), report("failed", Some(e.to_string()), 0)),
                    Err(_) => (
                        Vec::new(),
                        report(
                            "timeout",
                            Some(format!("no answer within {} ms", timeout.as_millis())),
                            0,
                        ),
                    ),
                }
            });
        }
        let mut signals = Vec::new();
        let mut sources = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok((views, report)) = done {
                signals.extend(views);
                sources.push(report);
            }
        }
        sort_signals(&mut signals);
        sources.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(SignalsAnswer {
            owner_id: owner_id.to_string(),
            signals,
            sources,
            truncated,
        })
    }

    /// A data endpoint's current value, from the cache while it is fresh.
    pub async fn data(&self, caller: &Caller, id: &str, endpoint: &str) -> Result<DataView> {
        let row = self.ctx.load_connection(caller, id).await?;
        self.data_for(&row, endpoint).await
    }

    async fn data_for(&self, row: &ConnectionRow, endpoint: &str) -> Result<DataView> {
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

    /// Every `alert`-shaped endpoint of the workspace's enabled connections, read through the
    /// cache; alerts whose data says `level: ok` (or is empty) are left out.
    pub async fn alerts(&self, caller: &Caller) -> Result<AlertsAnswer> {
        // A principal key speaks for one connection; the roll-up spans the workspace.
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot read the workspace's alerts".into(),
            ));
        }
        let (rows, truncated) = self
            .live_connections(caller, None, Capability::Data)
            .await?;
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let Ok(connector) = self.ctx.connector_for(&row) else {
                continue;
            };
            let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
            for ep in connector.data_endpoints_for(&config) {
                if ep.shape != DataShape::Alert {
                    continue;
                }
                let (engine, row) = (self.clone(), row.clone());
                tasks.spawn(async move {
                    let started = Instant::now();
                    let got =
                        tokio::time::timeout(SIGNAL_TIMEOUT, engine.data_for(&row, &ep.key)).await;
                    let failed = |status: &str, error: String| SourceReport {
                        connection_id: row.id.clone(),
                        connector: row.connector.clone(),
                        status: status.into(),
                        error: Some(error),
                        count: 0,
                        elapsed_ms: started.elapsed().as_millis() as u64,
                    };
                    match got {
                        Ok(Ok(view)) => Ok(AlertView {
                            connection_id: row.id.clone(),
                            connector: row.connector.clone(),
                            endpoint: ep.key.clone(),
                            data: view.data,
                            fetched_at: view.fetched_at,
                        }),
                        Ok(Err(e)) => Err(failed("failed", e.to_string())),
                        Err(_) => Err(failed("timeout", "no answer in time".into())),
                    }
                });
            }
        }
        let mut alerts = Vec::new();
        let mut errors = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(alert)) if is_raised(&alert.data) => alerts.push(alert),
                Ok(Ok(_)) => {}
                Ok(Err(report)) => errors.push(report),
                Err(e) => tracing::error!(error = %e, "an alert task failed"),
            }
        }
        alerts
            .sort_by(|a, b| (&a.connection_id, &a.endpoint).cmp(&(&b.connection_id, &b.endpoint)));
        Ok(AlertsAnswer {
            alerts,
            errors,
            truncated,
        })
    }
}

/// Whether alert data says something is wrong: not null, not an empty list, not `level: ok`.
fn is_raised(data: &Value) -> bool {
    match data {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(o) => !matches!(o.get("level").and_then(Value::as_str), Some("ok" | "none")),
        _ => true,
    }
}

/// Waiters of a shared fetch all get its error; rebuilt from the shared one.
fn shared_error(e: &EngineError) -> EngineError {
    match e {
        EngineError::NotFound(what) => EngineError::NotFound(what),
        EngineError::NeedsReconnect(m) => EngineError::NeedsReconnect(m.clone()),
        EngineError::Connector(c) => EngineError::Connector(match c {
            ConnectorError::Unauthorized { status, message } => ConnectorError::Unauthorized {
                status: *status,
                message: message.clone(),
            },
            ConnectorError::RateLimited { retry_after_secs } => ConnectorError::RateLimited {
                retry_after_secs: *retry_after_secs,
            },
            ConnectorError::NotFound(m) => ConnectorError::NotFound(m.clone()),
            ConnectorError::Provider { status, message } => ConnectorError::Provider {
                status: *status,
                message: message.clone(),
            },
            other => ConnectorError::BadResponse(other.to_string()),
        }),
        other => EngineError::ProviderUnavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_core::SignalKind;
    use serde_json::json;

    fn view(id: &str, due: Option<&str>, priority: Option<u8>) -> SignalView {
        SignalView {
            connection_id: "c".into(),
            signal: Signal {
                id: id.into(),
                source: "todoist".into(),
                kind: SignalKind::Task,
                title: id.into(),
                due: due.map(str::to_string),
                url: None,
                priority,
                record: Value::Null,
            },
        }
    }

    #[test]
    fn signals_sort_by_due_then_priority() {
        let mut v = vec![
            view("undated", None, Some(4)),
            view("later", Some("2026-11-23"), Some(1)),
            view("today-low", Some("2026-11-22"), Some(1)),
            view("today-high", Some("2026-11-22"), Some(4)),
            view("overdue", Some("2026-11-20"), None),
        ];
        sort_signals(&mut v);
        let ids: Vec<&str> = v.iter().map(|s| s.signal.id.as_str()).collect();
        assert_eq!(
            ids,
            ["overdue", "today-high", "today-low", "later", "undated"]
        );
    }

    #[test]
    fn alert_levels() {
        assert!(!is_raised(&Value::Null));
        assert!(!is_raised(&json!([])));
        assert!(!is_raised(&json!({"level": "ok", "items": []})));
        assert!(is_raised(&json!({"level": "warning", "items": [1]})));
        assert!(is_raised(&json!([{"title": "disk full"}])));
    }
}
