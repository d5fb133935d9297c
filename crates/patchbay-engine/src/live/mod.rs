//! Live reads that are not stored: signals (an owner's open items across every signal source,
//! fetched in parallel with a timeout per source) and data endpoints for dashboard widgets,
//! served from a TTL cache that joins concurrent misses into one provider call.

mod alerts;
mod data;
mod signals;

pub use alerts::{AlertView, AlertsAnswer};
pub use data::DataView;
pub use signals::{SignalView, SignalsAnswer, SourceReport, SIGNAL_TIMEOUT};

use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::oauth::Tokens;
use crate::Context;
use data::DataCache;
use patchbay_core::{Capability, ConnectorError, Lifecycle};
use patchbay_store::{ConnectionFilter, ConnectionRow};
use std::sync::Arc;

/// Most connections one live read fans out to.
const FAN_OUT_LIMIT: i64 = 200;

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
