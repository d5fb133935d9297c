//! Routing: a message's scope keys are looked up (most specific first); an enabled binding
//! decides, else the workspace's default target. The store numbers the message and emits it or
//! holds it in its collect window; the flusher closes windows when they fall due, also after a
//! restart, since windows live in the database.

use super::scope::{self, Channel};
use super::{Bindings, QueueMode};
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::oauth::apps::workspace_of;
use patchbay_core::{ms_to_rfc3339, now_ms, FieldError, InboundMessage};
use patchbay_store::{ConnectionRow, RouteWrite};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// The longest message text routed.
const MAX_TEXT: usize = 100_000;
/// How long routed message ids are remembered against redelivery.
const SEEN_FOR_MS: i64 = 7 * 24 * 3_600_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptRequest {
    /// `telegram`, `slack`, `github`, `web` or `api`.
    pub channel_type: String,
    pub channel_id: Option<String>,
    pub thread: Option<String>,
    pub connection_id: Option<String>,
    pub team_id: Option<String>,
    pub owner_id: Option<String>,
    /// An explicit scope key instead of the channel fields.
    pub scope_key: Option<String>,
    pub text: String,
    #[schema(value_type = Option<Vec<Object>>)]
    pub attachments: Option<Vec<Value>>,
    /// Who wrote it, as the application names them.
    #[schema(value_type = Option<Object>)]
    pub author: Option<Value>,
    /// The message's id in its channel: a retry with the same id is routed once.
    pub message_id: Option<String>,
}

/// Where a message went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouteDecision {
    /// The scope key the message is ordered under (the binding's, when one matched).
    pub scope_key: String,
    pub target: String,
    /// `binding` or `default`.
    pub via: String,
    pub binding_id: Option<String>,
    pub queue_mode: QueueMode,
    /// The message's number within its scope key.
    pub sequence: i64,
    /// True when the message id was routed before; nothing new was emitted.
    pub duplicate: bool,
    /// The `message.routed` event emitted now (followup and steer).
    pub event_id: Option<String>,
    /// Collect mode: when the batch is delivered unless another message extends it.
    pub deliver_at: Option<String>,
}

struct Decision {
    scope_key: String,
    target: String,
    binding_id: Option<String>,
    mode: QueueMode,
    debounce_ms: i64,
    max_wait_ms: i64,
}

impl Bindings {
    /// Routes a message an application hands in (`POST /v1/prompt`).
    pub async fn prompt(&self, caller: &Caller, req: PromptRequest) -> Result<RouteDecision> {
        self.prompt_at(caller, req, now_ms()).await
    }

    /// [`Bindings::prompt`] at a given time (tests drive collect windows with it).
    pub async fn prompt_at(
        &self,
        caller: &Caller,
        req: PromptRequest,
        now: i64,
    ) -> Result<RouteDecision> {
        let ws = workspace_of(caller)?.to_string();
        let mut errors = Vec::new();
        if req.text.chars().count() > MAX_TEXT {
            errors.push(FieldError::new(
                "text",
                "max_length",
                format!("text is longer than {MAX_TEXT} characters"),
            ));
        }
        let attachments = req.attachments.unwrap_or_default();
        if req.text.trim().is_empty() && attachments.is_empty() {
            errors.push(FieldError::new(
                "text",
                "required",
                "a message needs text or attachments",
            ));
        }
        if let Some(id) = &req.message_id {
            scope::check_text("message_id", id, &mut errors);
        }
        let channel = self
            .channel_of(
                caller,
                Channel {
                    channel_type: req.channel_type.clone(),
                    channel_id: req.channel_id.clone(),
                    thread: req.thread.clone(),
                    connection_id: req.connection_id.clone(),
                    team_id: req.team_id.clone(),
                    owner_id: req.owner_id.clone(),
                },
            )
            .await?;
        let keys = match &req.scope_key {
            Some(k) => {
                scope::check_text("scope_key", k, &mut errors);
                vec![k.clone()]
            }
            None => channel.scope_keys().unwrap_or_else(|e| {
                errors.extend(e);
                Vec::new()
            }),
        };
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let message = json!({
            "channel_type": req.channel_type, "channel_id": req.channel_id, "thread": req.thread,
            "connection_id": req.connection_id, "message_id": req.message_id, "text": req.text,
            "author": req.author, "attachments": attachments, "received_at": ms_to_rfc3339(now),
        });
        let key = req.message_id.map(|id| format!("prompt:{id}"));
        match self.route(&ws, &keys, key, message, now).await? {
            Some(d) => Ok(d),
            None => Err(EngineError::Conflict(format!(
                "nothing is bound to '{}' and the workspace has no default target; bind the \
                 scope key or set one with PUT /v1/routing/default",
                keys[0]
            ))),
        }
    }

    /// Routes a chat message a connection received; `None` when nothing is bound and there is
    /// no default target.
    pub async fn route_inbound(
        &self,
        row: &ConnectionRow,
        msg: &InboundMessage,
    ) -> Result<Option<RouteDecision>> {
        let channel = Channel {
            channel_type: msg.channel_type.clone(),
            channel_id: Some(msg.channel_id.clone()),
            thread: msg.thread.clone(),
            connection_id: Some(row.id.clone()),
            team_id: Some(row.account_id.clone()),
            owner_id: None,
        };
        let keys = channel.scope_keys().map_err(EngineError::Validation)?;
        let now = now_ms();
        let message = json!({
            "channel_type": msg.channel_type, "channel_id": msg.channel_id, "thread": msg.thread,
            "connection_id": row.id, "message_id": msg.message_id, "text": msg.text,
            "author": msg.author, "attachments": msg.attachments,
            "received_at": ms_to_rfc3339(now),
        });
        let key = format!("{}:{}", row.id, msg.message_id);
        self.route(&row.workspace_id, &keys, Some(key), message, now)
            .await
    }

    async fn route(
        &self,
        ws: &str,
        keys: &[String],
        message_key: Option<String>,
        message: Value,
        now: i64,
    ) -> Result<Option<RouteDecision>> {
        let Some(d) = self.decide(ws, keys).await? else {
            return Ok(None);
        };
        let routed = self
            .ctx
            .store()
            .route_message(&RouteWrite {
                workspace_id: ws.to_string(),
                scope_key: d.scope_key.clone(),
                message_key,
                target: d.target.clone(),
                binding_id: d.binding_id.clone(),
                connection_id: message["connection_id"].as_str().map(str::to_string),
                queue_mode: d.mode.as_str().into(),
                debounce_ms: d.debounce_ms,
                max_wait_ms: d.max_wait_ms,
                message,
                now,
            })
            .await?;
        if routed.window_due_at.is_some() {
            self.wake.notify_one();
        }
        Ok(Some(RouteDecision {
            scope_key: d.scope_key,
            target: d.target,
            via: if d.binding_id.is_some() {
                "binding"
            } else {
                "default"
            }
            .into(),
            binding_id: d.binding_id,
            queue_mode: d.mode,
            sequence: routed.sequence,
            duplicate: routed.duplicate,
            event_id: routed.event_id,
            deliver_at: routed.window_due_at.map(ms_to_rfc3339),
        }))
    }

    async fn decide(&self, ws: &str, keys: &[String]) -> Result<Option<Decision>> {
        for key in keys {
            if let Some(b) = self.ctx.store().find_binding(ws, key).await? {
                if b.enabled {
                    return Ok(Some(Decision {
                        scope_key: b.scope_key,
                        target: b.target,
                        binding_id: Some(b.id),
                        mode: QueueMode::parse(&b.queue_mode),
                        debounce_ms: b.collect_debounce_ms,
                        max_wait_ms: b.collect_max_wait_ms,
                    }));
                }
            }
        }
        let Some(d) = self.ctx.store().get_routing_default(ws).await? else {
            return Ok(None);
        };
        Ok(Some(Decision {
            scope_key: keys[0].clone(),
            target: d.target,
            binding_id: None,
            mode: QueueMode::parse(&d.queue_mode),
            debounce_ms: d.collect_debounce_ms,
            max_wait_ms: d.collect_max_wait_ms,
        }))
    }

    /// Delivers every collect batch due by `now`; answers how many.
    pub async fn flush_due(&self, now: i64) -> Result<usize> {
        Ok(self.ctx.store().flush_routing_windows(now, 200).await?)
    }

    /// Closes collect windows as they fall due, until `cancel`. Windows are in the database, so
    /// batches pending when a process died are delivered by the next one.
    pub fn spawn_flusher(
        &self,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let mut cancel = cancel;
        tokio::spawn(async move {
            let mut pruned_at = 0;
            while !*cancel.borrow() {
                let now = now_ms();
                if let Err(e) = this.flush_due(now).await {
                    tracing::warn!(error = %e, "delivering collected messages failed");
                }
                if now - pruned_at > 600_000 {
                    pruned_at = now;
                    let _ = this.ctx.store().prune_routing_seen(now - SEEN_FOR_MS).await;
                }
                // Other processes open windows too: look again within 250 ms at the latest.
                let wait = match this.ctx.store().next_routing_due().await {
                    Ok(Some(due)) => (due - now_ms()).clamp(1, 250),
                    _ => 250,
                };
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                    _ = this.wake.notified() => {}
                    _ = cancel.changed() => {}
                }
            }
        })
    }
}
