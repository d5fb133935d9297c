//! Inbound webhooks: verify over the raw bytes (mandatory: no secret means 401), deduplicate by
//! the provider's delivery id, and make the event durable before answering 2xx. Deliveries
//! arriving together share one insert statement and one commit. Workers then map each event to
//! record changes through the connector, by the same path syncs use.
//!
//! Push subscriptions at providers (Gmail `users.watch`) are kept alive by [`Watches`]; their
//! deliveries carry OIDC tokens checked against the provider's published keys (`jwks.rs`).
//! Files that deliveries carry are stored as attachments and read back by id (`attachments.rs`).

mod attachments;
mod jwks;
mod process;
mod receive;
mod watches;

pub use watches::Watches;

use receive::{HookCache, Ingest};

/// Inbound webhooks: receiving deliveries and processing them into records.
#[derive(Clone)]
pub struct Webhooks {
    ctx: Context,
    /// Events that name entities to resync queue a sync.
    syncs: crate::sync::Syncs,
    /// Chat messages in deliveries are routed to their bound targets.
    bindings: crate::bindings::Bindings,
    state: Arc<WebhookState>,
}

/// Inbound webhooks' own state: the group commit, started on first use, the cache of
/// connections' webhook secrets, and the lease a worker holds on events it processes.
struct WebhookState {
    ingest: std::sync::OnceLock<Ingest>,
    hooks: Arc<HookCache>,
    /// Push-token signing keys by JWKS URL.
    keys: jwks::KeySets,
    lease_ms: i64,
}

impl Webhooks {
    pub(crate) fn new(
        ctx: Context,
        syncs: crate::sync::Syncs,
        bindings: crate::bindings::Bindings,
        lease: std::time::Duration,
    ) -> Self {
        let hooks = Arc::new(HookCache::default());
        let heard = hooks.clone();
        // An edited connection (a new webhook secret) is verified with its new secret at once.
        ctx.on_change(move |change| {
            if let Change::Connection(id) = change {
                heard.forget(id);
            }
        });
        Webhooks {
            ctx,
            syncs,
            bindings,
            state: Arc::new(WebhookState {
                ingest: Default::default(),
                hooks,
                keys: Default::default(),
                lease_ms: lease.as_millis() as i64,
            }),
        }
    }
}

use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::views::Page;
use crate::{Change, Context};
use patchbay_core::ms_to_rfc3339;
use patchbay_store::WebhookEventRow;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

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

impl Webhooks {
    pub async fn list_webhook_events(
        &self,
        caller: &Caller,
        connection_id: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<WebhookEventView>> {
        self.ctx.load_connection(caller, connection_id).await?;
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
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
            .ctx
            .store()
            .get_webhook_event(id)
            .await?
            .ok_or(EngineError::NotFound("webhook event"))?;
        // Tenancy: the event's connection must be the caller's.
        self.ctx
            .load_connection(caller, &event.connection_id)
            .await?;
        if !self.ctx.store().replay_webhook_event(id).await? {
            return Err(EngineError::Conflict(
                "the event is being processed; try again shortly".into(),
            ));
        }
        Ok(self
            .ctx
            .store()
            .get_webhook_event(id)
            .await?
            .ok_or(EngineError::NotFound("webhook event"))?
            .into())
    }
}
