//! Processing: workers claim stored events and turn each into record changes through the
//! connector, by the same path syncs use; the outcome is written with its activity entry.

use super::Webhooks;
use crate::error::{EngineError, Result};
use patchbay_core::{
    ids, now_ms, ConnectorContext, ConnectorError, Lifecycle, SyncMode, WebhookRequest,
    WebhookScheme,
};
use patchbay_store::{AttachmentRow, EventRow, PageCommit, PageRecord, WebhookEventRow};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Claims of one event that may end in a storage error before it is marked failed.
const MAX_STORAGE_ATTEMPTS: i64 = 5;

impl Webhooks {
    /// Processes up to `limit` stored events; returns how many it handled.
    pub async fn process_webhooks_once(&self, limit: i64) -> Result<usize> {
        let now = now_ms();
        let events = self
            .ctx
            .store()
            .claim_webhook_events(now, now + self.state.lease_ms, limit)
            .await?;
        let n = events.len();
        for event in events {
            let outcome = self.process_event(&event).await;
            // A storage hiccup (a busy database) is not the event's fault: it is taken up again
            // a second later, a few times before it counts as failed.
            if let Err(EngineError::Store(e)) = &outcome {
                if event.attempts < MAX_STORAGE_ATTEMPTS {
                    tracing::warn!(event = %event.id, error = %e, "webhook processing will be retried");
                    let retry_at = now_ms() + 1_000;
                    // Should this fail too, the lease running out brings the event back.
                    let _ = self
                        .ctx
                        .store()
                        .defer_webhook_event(&event.id, retry_at)
                        .await;
                    continue;
                }
            }
            let (status, error) = match &outcome {
                Ok(()) => ("processed", None),
                Err(e) => ("failed", Some(e.to_string())),
            };
            self.ctx
                .store()
                .finish_webhook_event(&event, status, error.as_deref(), now_ms())
                .await?;
        }
        Ok(n)
    }

    async fn process_event(&self, event: &WebhookEventRow) -> Result<()> {
        let row = self
            .ctx
            .store()
            .get_connection(None, &event.connection_id)
            .await?
            .ok_or(EngineError::NotFound("connection"))?;
        let connector = self.ctx.connector_for(&row)?;
        let creds = self
            .ctx
            .store()
            .list_credentials("connection", &row.id)
            .await?;
        let (secrets, _) = self.ctx.open_secrets(&creds).await?;
        let ctx = ConnectorContext {
            connection_id: row.id.clone(),
            config: serde_json::from_str(&row.config).unwrap_or(Value::Null),
            secrets,
        };
        let mut headers: BTreeMap<String, String> =
            serde_json::from_str(&event.headers).unwrap_or_default();
        // The event was verified on receipt, and its secret header is never stored; give the
        // connector's own check (defence in depth) the secret back, in memory only.
        if connector.webhook_scheme_for(&ctx.config) == Some(WebhookScheme::SharedSecretHeader) {
            if let Some(secret) = connector
                .spec()
                .webhook_secret_field
                .as_ref()
                .and_then(|f| ctx.secrets.get(f))
            {
                headers.insert(
                    "X-Patchbay-Integration-Secret".into(),
                    secret.expose().to_string(),
                );
            }
        }
        let req = WebhookRequest {
            headers,
            body: event.body.clone(),
        };
        let outcome = connector
            .handle_webhook(&ctx, &req)
            .await
            .map_err(|e| match e {
                ConnectorError::BadPayload(m) => {
                    EngineError::BadRequest(format!("payload rejected: {m}"))
                }
                other => EngineError::Connector(other),
            })?;
        // Files first: a record that names an attachment can always be followed to it.
        for a in outcome.attachments {
            let row = AttachmentRow {
                connection_id: row.id.clone(),
                workspace_id: row.workspace_id.clone(),
                size: a.data.len() as i64,
                id: a.id,
                content_type: a.content_type,
                filename: a.filename,
                data: a.data,
                created_at: now_ms(),
            };
            self.ctx.store().put_attachment(&row).await?;
        }
        // Upserts and deletions go through the same page commit as syncs: same hashes, same events.
        let mut by_entity: BTreeMap<String, (Vec<PageRecord>, Vec<String>)> = BTreeMap::new();
        for r in outcome.upserts {
            let hash = crate::sync::record_hash(&r.data);
            by_entity
                .entry(r.entity.clone())
                .or_default()
                .0
                .push(PageRecord {
                    id: r.id,
                    data: r.data,
                    hash,
                });
        }
        for (entity, id) in outcome.deletions {
            by_entity.entry(entity).or_default().1.push(id);
        }
        for (entity, (records, deleted_ids)) in by_entity {
            self.ctx
                .store()
                .commit_page(&PageCommit {
                    workspace_id: row.workspace_id.clone(),
                    connection_id: row.id.clone(),
                    entity,
                    run_id: String::new(),
                    worker: String::new(),
                    full: false,
                    assume_new: false,
                    records,
                    deleted_ids,
                    next_page_cursor: None,
                    run_checkpoint: None,
                    derived: Vec::new(),
                    run_note: None,
                })
                .await?;
        }
        let ev = EventRow {
            id: ids::new_id(ids::IdKind::Event),
            workspace_id: row.workspace_id.clone(),
            event_type: "webhook.received".into(),
            connection_id: Some(row.id.clone()),
            payload: json!({"webhook_event_id": event.id, "delivery_id": event.delivery_id, "event_type": outcome.event_type}).to_string(),
            created_at: now_ms(),
        };
        self.ctx.store().record_event(&ev).await?;
        for emitted in outcome.events {
            let mut payload = emitted.payload;
            if let Value::Object(map) = &mut payload {
                map.insert("connection_id".into(), Value::String(row.id.clone()));
                map.insert("webhook_event_id".into(), Value::String(event.id.clone()));
            }
            let ev = EventRow {
                id: ids::new_id(ids::IdKind::Event),
                workspace_id: row.workspace_id.clone(),
                event_type: emitted.event_type,
                connection_id: Some(row.id.clone()),
                payload: payload.to_string(),
                created_at: now_ms(),
            };
            self.ctx.store().record_event(&ev).await?;
        }
        // Routing is keyed by the message's id, so reprocessing the delivery routes it once.
        for message in &outcome.messages {
            if let Err(e) = self.bindings.route_inbound(&row, message).await {
                tracing::warn!(connection = %row.id, error = %e, "routing an inbound message failed");
            }
        }
        if !outcome.resync.is_empty() && row.lifecycle == Lifecycle::Enabled.as_str() {
            match self
                .syncs
                .queue_sync(&row, SyncMode::Incremental, Some(outcome.resync))
                .await
            {
                Ok(_) | Err(EngineError::Conflict(_)) => {}
                Err(e) => {
                    tracing::warn!(connection = %row.id, error = %e, "resync after webhook not queued")
                }
            }
        }
        Ok(())
    }

    /// Processes stored webhooks until `cancel`.
    pub fn spawn_webhook_processor(
        &self,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let mut cancel = cancel;
        tokio::spawn(async move {
            while !*cancel.borrow() {
                match engine.process_webhooks_once(100).await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "webhook processing failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = cancel.changed() => {}
                }
            }
        })
    }
}
