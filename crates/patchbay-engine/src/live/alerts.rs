//! Alerts: every `alert`-shaped data endpoint of a workspace's enabled connections, read
//! through the data cache, with the quiet ones left out.

use super::{Live, SourceReport, SIGNAL_TIMEOUT};
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use patchbay_core::{Capability, DataShape};
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;

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

impl Live {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn alert_levels() {
        assert!(!is_raised(&Value::Null));
        assert!(!is_raised(&json!([])));
        assert!(!is_raised(&json!({"level": "ok", "items": []})));
        assert!(is_raised(&json!({"level": "warning", "items": [1]})));
        assert!(is_raised(&json!([{"title": "disk full"}])));
    }
}
