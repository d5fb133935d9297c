//! Signals: an owner's open items across every signal source, asked in parallel with a
//! timeout per source; a slow or failing source is reported, never fails the answer.

use super::Live;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::oauth::{Call, CallOut};
use patchbay_core::{Capability, Signal};
use serde::Serialize;
use std::time::{Duration, Instant};

/// How long one signal source may take before the answer goes out without it.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(5);

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

fn sort_signals(signals: &mut [SignalView]) {
    signals.sort_by(|a, b| {
        let due = |s: &SignalView| s.signal.due.clone().unwrap_or_else(|| "~".into());
        due(a)
            .cmp(&due(b))
            .then(b.signal.priority.cmp(&a.signal.priority))
            .then(a.signal.id.cmp(&b.signal.id))
    });
}

/// Open action items a connection's synced mail carries, at most this many per connection.
const MAX_ACTION_ITEMS: i64 = 100;

impl Live {
    /// Open action items derived from synced mail, as tasks. A store failure leaves them out
    /// rather than failing the source.
    async fn open_action_items(&self, row: &patchbay_store::ConnectionRow) -> Vec<SignalView> {
        let q = patchbay_store::RecordQuery {
            connection_id: row.id.clone(),
            entity: "action_items".into(),
            after: None,
            modified_after: None,
            include_deleted: false,
            limit: MAX_ACTION_ITEMS,
        };
        let Ok(rows) = self.ctx.store().list_records(&q).await else {
            return Vec::new();
        };
        rows.into_iter()
            .filter_map(|r| {
                let data: serde_json::Value = serde_json::from_str(&r.data).ok()?;
                (data["status"] == "open").then(|| SignalView {
                    connection_id: row.id.clone(),
                    signal: Signal {
                        id: r.id,
                        source: row.connector.clone(),
                        kind: patchbay_core::SignalKind::Task,
                        title: data["sentence"]
                            .as_str()
                            .unwrap_or("action item")
                            .to_string(),
                        due: data["due"].as_str().map(str::to_string),
                        url: None,
                        priority: None,
                        record: data,
                    },
                })
            })
            .collect()
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
                        let mut views: Vec<SignalView> = list
                            .into_iter()
                            .map(|signal| SignalView {
                                connection_id: row.id.clone(),
                                signal,
                            })
                            .collect();
                        views.extend(engine.open_action_items(&row).await);
                        let n = views.len();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_core::SignalKind;
    use serde_json::Value;

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
}
