//! Inbound webhooks: verify over the raw bytes (mandatory: no secret means 401), deduplicate by
//! the provider's delivery id, and make the event durable before answering 2xx. Deliveries
//! arriving together share one insert statement and one commit. Workers then map each event to
//! record changes through the connector, by the same path syncs use.

mod process;
mod receive;

use receive::{HookCache, Ingest};

/// Inbound webhooks' own state: the group commit, started on first use, and the cache of
/// connections' webhook secrets.
#[derive(Default)]
pub(crate) struct WebhookState {
    pub(crate) ingest: std::sync::OnceLock<Ingest>,
    pub(crate) hooks: HookCache,
}

use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::views::Page;
use crate::Engine;
use patchbay_core::ms_to_rfc3339;
use patchbay_store::WebhookEventRow;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookAck {
    /// The stored event's id.
    pub id: String,
    pub connection_id: String,
    /// A redelivery of an event already stored; it is not processed again.
    pub duplicate: bool,
}

/// What a verified delivery gets back.
#[derive(Debug, Clone)]
pub enum WebhookReply {
    /// Stored (or recognised as a redelivery), one entry per connection it was routed to.
    Stored(Vec<WebhookAck>),
    /// A handshake (Discord PING, Slack URL verification) answered in the response and not
    /// stored.
    Handshake(Value),
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookEventView {
    pub id: String,
    pub connection_id: String,
    pub delivery_id: String,
    /// received, processing, processed or failed.
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub received_at: String,
    pub processed_at: Option<String>,
}

impl From<WebhookEventRow> for WebhookEventView {
    fn from(r: WebhookEventRow) -> Self {
        WebhookEventView {
            id: r.id,
            connection_id: r.connection_id,
            delivery_id: r.delivery_id,
            status: r.status,
            attempts: r.attempts,
            error: r.error,
            received_at: ms_to_rfc3339(r.received_at),
            processed_at: r.processed_at.map(ms_to_rfc3339),
        }
    }
}

impl Engine {
    pub async fn list_webhook_events(
        &self,
        caller: &Caller,
        connection_id: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<WebhookEventView>> {
        self.load_connection(caller, connection_id).await?;
        let limit = crate::page_limit(limit);
        let rows = self
            .store()
            .list_webhook_events(connection_id, cursor, limit + 1)
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(Into::into).collect(),
            limit,
            |e: &WebhookEventView| e.id.clone(),
        ))
    }

    /// Queues a stored event for processing again.
    pub async fn replay_webhook_event(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<WebhookEventView> {
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot replay webhooks".into(),
            ));
        }
        let event = self
            .store()
            .get_webhook_event(id)
            .await?
            .ok_or(EngineError::NotFound("webhook event"))?;
        // Tenancy: the event's connection must be the caller's.
        self.load_connection(caller, &event.connection_id).await?;
        if !self.store().replay_webhook_event(id).await? {
            return Err(EngineError::Conflict(
                "the event is being processed; try again shortly".into(),
            ));
        }
        Ok(self
            .store()
            .get_webhook_event(id)
            .await?
            .ok_or(EngineError::NotFound("webhook event"))?
            .into())
    }
}
