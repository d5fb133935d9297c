//! Reading a widget: its endpoint's data through the live cache, the reason when it cannot be
//! read, and the last data it answered, kept so that a failing endpoint still shows something,
//! marked stale.

use super::{WidgetView, Widgets};
use crate::auth::Caller;
use crate::error::EngineError;
use crate::error::Result;
use crate::live::SIGNAL_TIMEOUT;
use patchbay_core::{now_ms, ConnectorError, DataShape};
use serde_json::Value;

/// What a dashboard shows for one widget.
#[derive(Debug, Clone)]
pub struct WidgetRead {
    pub widget: WidgetView,
    /// The connection's name and connector, when the connection is still readable.
    pub connection_name: Option<String>,
    pub connector: Option<String>,
    /// What the endpoint says it shows, when the connection still offers it.
    pub description: Option<String>,
    /// The shape the data has: the answer's, or the endpoint's for kept data.
    pub shape: Option<DataShape>,
    /// The data to show: the current answer, else the last one kept (then `stale`).
    pub data: Option<Value>,
    pub fetched_at_ms: Option<i64>,
    /// Why the endpoint could not be read now, in words for a person.
    pub error: Option<String>,
    /// The data shown is older than the widget's refresh interval (and the endpoint's cache
    /// time), or is the last kept answer because the endpoint failed.
    pub stale: bool,
}

impl Widgets {
    /// The widget `id` of the caller's workspace with its current data or the reason it has
    /// none. Endpoint failures are part of the answer; only an unknown widget is an error.
    pub async fn read(&self, caller: &Caller, id: &str) -> Result<WidgetRead> {
        let row = self.row(caller, id).await?;
        let widget = WidgetView::from(&row);
        let connection = self.ctx.load_connection(caller, &row.connection_id).await;
        let endpoint = connection
            .as_ref()
            .ok()
            .and_then(|c| self.endpoint_of(c, &row.endpoint));
        let answer = tokio::time::timeout(
            SIGNAL_TIMEOUT,
            self.live.data(caller, &row.connection_id, &row.endpoint),
        )
        .await;
        let (connection_name, connector) = match &connection {
            Ok(c) => (Some(c.name.clone()), Some(c.connector.clone())),
            Err(_) => (None, None),
        };
        let ttl_ms = endpoint.as_ref().map_or(0, |e| i64::from(e.ttl_seconds)) * 1000;
        let fresh_for = (i64::from(widget.refresh_seconds) * 1000).max(ttl_ms);
        let now = now_ms();
        let mut read = WidgetRead {
            widget,
            connection_name,
            connector,
            description: endpoint.as_ref().map(|e| e.description.clone()),
            shape: endpoint.as_ref().map(|e| e.shape),
            data: None,
            fetched_at_ms: None,
            error: None,
            stale: false,
        };
        match answer {
            Ok(Ok(view)) => {
                let fetched = chrono::DateTime::parse_from_rfc3339(&view.fetched_at)
                    .map_or(now, |t| t.timestamp_millis());
                if row.last_fetched_at.is_none_or(|kept| kept < fetched) {
                    // Keeping it is a courtesy for later failures; failing to keep it is not
                    // this read's failure.
                    if let Err(e) = self
                        .ctx
                        .store()
                        .widget_data_seen(&row.id, &view.data.to_string(), fetched)
                        .await
                    {
                        tracing::warn!(error = %e, widget = %row.id, "could not keep widget data");
                    }
                }
                read.shape = Some(view.shape);
                read.stale = now - fetched > fresh_for;
                read.data = Some(view.data);
                read.fetched_at_ms = Some(fetched);
            }
            failed => {
                read.error = Some(match failed {
                    Ok(Err(e)) => reason(&e),
                    _ => format!(
                        "the provider did not answer within {} seconds",
                        SIGNAL_TIMEOUT.as_secs()
                    ),
                });
                if let (Some(kept), Some(at)) = (&row.last_data, row.last_fetched_at) {
                    read.data = serde_json::from_str(kept).ok();
                    read.fetched_at_ms = read.data.as_ref().map(|_| at);
                    read.stale = read.data.is_some();
                }
            }
        }
        Ok(read)
    }
}

/// Why an endpoint could not be read, for the person looking at the dashboard. Provider
/// messages are kept short: they come from outside.
fn reason(e: &EngineError) -> String {
    let short = |m: &str| -> String {
        let m = m.trim();
        match m.char_indices().nth(200) {
            Some((i, _)) => format!("{}…", &m[..i]),
            None => m.to_string(),
        }
    };
    match e {
        EngineError::NotFound("connection") => "the connection no longer exists".into(),
        EngineError::NotFound(_) => "the connection no longer offers this data endpoint".into(),
        EngineError::Conflict(m) => short(m),
        EngineError::NeedsReconnect(_) => {
            "the provider no longer accepts the connection's credentials; reconnect it".into()
        }
        EngineError::Connector(ConnectorError::RateLimited { .. }) => {
            "the provider is limiting requests; try again shortly".into()
        }
        EngineError::Connector(ConnectorError::Provider { status, message }) => {
            format!("the provider answered {status}: {}", short(message))
        }
        EngineError::Connector(ConnectorError::Unauthorized { .. }) => {
            "the provider refused the connection's credentials".into()
        }
        EngineError::Connector(c) => {
            format!("the provider could not be read: {}", short(&c.to_string()))
        }
        EngineError::ProviderUnavailable(m) => {
            format!("the provider is unavailable: {}", short(m))
        }
        other => {
            tracing::warn!(error = %other, "a widget could not be read");
            "the data could not be read".into()
        }
    }
}
