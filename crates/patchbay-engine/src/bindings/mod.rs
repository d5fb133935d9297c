//! Channel bindings: a scope key (a Telegram chat, a Slack channel or thread, a GitHub issue, a
//! web session, an API channel) bound to an application-defined target with a queue mode.
//! Messages from any channel (`POST /v1/prompt`, inbound Telegram, Slack and GitHub) are routed
//! to the bound target or the workspace's default and delivered as `message.routed` events
//! (`route`); replies go back through the channel's connector (`reply`).

mod reply;
mod route;
pub mod scope;

pub use reply::{ReplyOutcome, ReplyRequest};
pub use route::{PromptRequest, RouteDecision};

use crate::actions::Actions;
use crate::auth::{activity_row, Caller};
use crate::error::{EngineError, Result};
use crate::oauth::apps::workspace_of;
use crate::views::Page;
use crate::Context;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, FieldError};
use patchbay_store::{BindingRow, RoutingDefaultRow, StoreError};
use scope::Channel;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

/// How messages on a binding reach the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueMode {
    /// One event per message, in order per scope key.
    Followup,
    /// Messages within the debounce window (restarted by each message, capped by the maximum
    /// wait) merged into one event.
    Collect,
    /// One event per message, marked `interrupt: true`.
    Steer,
}

impl QueueMode {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueMode::Followup => "followup",
            QueueMode::Collect => "collect",
            QueueMode::Steer => "steer",
        }
    }

    fn parse(s: &str) -> QueueMode {
        match s {
            "collect" => QueueMode::Collect,
            "steer" => QueueMode::Steer,
            _ => QueueMode::Followup,
        }
    }
}

pub const DEFAULT_DEBOUNCE_MS: i64 = 1_500;
pub const DEFAULT_MAX_WAIT_MS: i64 = 10_000;
const MAX_DEBOUNCE_MS: i64 = 600_000;
const MAX_WAIT_MS: i64 = 3_600_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBinding {
    /// `telegram`, `slack`, `github`, `web` or `api`.
    pub channel_type: String,
    /// The chat id, Slack channel id, repository `owner/name`, web session id or API channel.
    pub channel_id: Option<String>,
    /// A Slack thread `ts` or a GitHub issue or pull request number.
    pub thread: Option<String>,
    /// The connection the channel belongs to: required for telegram; for slack it names the
    /// team; replies go through it.
    pub connection_id: Option<String>,
    /// The Slack team (taken from `connection_id` when left out).
    pub team_id: Option<String>,
    /// The owner of a web session.
    pub owner_id: Option<String>,
    /// An explicit scope key instead of the channel fields.
    pub scope_key: Option<String>,
    /// What the application routes to (a session id, say); for web, the session id by default.
    pub target: Option<String>,
    pub queue_mode: Option<QueueMode>,
    /// Collect mode: quiet time that closes a batch (default 1500 ms).
    pub collect_debounce_ms: Option<i64>,
    /// Collect mode: the longest a batch stays open (default 10000 ms).
    pub collect_max_wait_ms: Option<i64>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBinding {
    pub target: Option<String>,
    pub queue_mode: Option<QueueMode>,
    pub collect_debounce_ms: Option<i64>,
    pub collect_max_wait_ms: Option<i64>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BindingView {
    pub id: String,
    pub scope_key: String,
    pub channel_type: String,
    pub channel_id: Option<String>,
    pub thread: Option<String>,
    pub connection_id: Option<String>,
    pub target: String,
    pub queue_mode: QueueMode,
    pub collect_debounce_ms: i64,
    pub collect_max_wait_ms: i64,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<BindingRow> for BindingView {
    fn from(b: BindingRow) -> Self {
        BindingView {
            queue_mode: QueueMode::parse(&b.queue_mode),
            id: b.id,
            scope_key: b.scope_key,
            channel_type: b.channel_type,
            channel_id: b.channel_id,
            thread: b.thread,
            connection_id: b.connection_id,
            target: b.target,
            collect_debounce_ms: b.collect_debounce_ms,
            collect_max_wait_ms: b.collect_max_wait_ms,
            enabled: b.enabled,
            created_at: ms_to_rfc3339(b.created_at),
            updated_at: ms_to_rfc3339(b.updated_at),
        }
    }
}

/// Where the workspace's unbound messages go.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultTarget {
    pub target: String,
    #[serde(default = "followup")]
    pub queue_mode: QueueMode,
    #[serde(default = "debounce")]
    pub collect_debounce_ms: i64,
    #[serde(default = "max_wait")]
    pub collect_max_wait_ms: i64,
}

fn followup() -> QueueMode {
    QueueMode::Followup
}
fn debounce() -> i64 {
    DEFAULT_DEBOUNCE_MS
}
fn max_wait() -> i64 {
    DEFAULT_MAX_WAIT_MS
}

/// Bindings, routing and replies of a workspace.
#[derive(Clone)]
pub struct Bindings {
    ctx: Context,
    actions: Actions,
    /// Wakes the collect flusher when a window opens.
    wake: Arc<tokio::sync::Notify>,
}

fn check_timing(debounce: i64, max_wait: i64, errors: &mut Vec<FieldError>) {
    if !(0..=MAX_DEBOUNCE_MS).contains(&debounce) {
        errors.push(FieldError::new(
            "collect_debounce_ms",
            "range",
            format!("must be from 0 to {MAX_DEBOUNCE_MS}"),
        ));
    }
    if !(0..=MAX_WAIT_MS).contains(&max_wait) || max_wait < debounce {
        errors.push(FieldError::new(
            "collect_max_wait_ms",
            "range",
            format!("must be from collect_debounce_ms to {MAX_WAIT_MS}"),
        ));
    }
}

fn check_target(target: &str, errors: &mut Vec<FieldError>) {
    scope::check_text("target", target, errors);
}

impl Bindings {
    pub(crate) fn new(ctx: Context, actions: Actions) -> Self {
        Bindings {
            ctx,
            actions,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub async fn create(&self, caller: &Caller, req: CreateBinding) -> Result<BindingView> {
        let ws = workspace_of(caller)?.to_string();
        let mut errors = Vec::new();
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
        let scope_key = match &req.scope_key {
            Some(k) => {
                scope::check_text("scope_key", k, &mut errors);
                if !scope::CHANNEL_TYPES.contains(&req.channel_type.as_str()) {
                    errors.push(FieldError::new(
                        "channel_type",
                        "enum",
                        format!("expected one of {}", scope::CHANNEL_TYPES.join(", ")),
                    ));
                }
                k.clone()
            }
            None => match channel.scope_keys() {
                Ok(keys) => keys[0].clone(),
                Err(e) => {
                    errors.extend(e);
                    String::new()
                }
            },
        };
        let target = req
            .target
            .clone()
            .or_else(|| {
                (req.channel_type == "web")
                    .then(|| req.channel_id.clone())
                    .flatten()
            })
            .unwrap_or_default();
        check_target(&target, &mut errors);
        let debounce = req.collect_debounce_ms.unwrap_or(DEFAULT_DEBOUNCE_MS);
        let max_wait = req
            .collect_max_wait_ms
            .unwrap_or(DEFAULT_MAX_WAIT_MS.max(debounce));
        check_timing(debounce, max_wait, &mut errors);
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let now = now_ms();
        let row = BindingRow {
            id: ids::new_id(ids::IdKind::Binding),
            workspace_id: ws.clone(),
            scope_key,
            channel_type: req.channel_type,
            channel_id: req.channel_id,
            thread: req.thread,
            connection_id: req.connection_id,
            target,
            queue_mode: req
                .queue_mode
                .unwrap_or(QueueMode::Followup)
                .as_str()
                .into(),
            collect_debounce_ms: debounce,
            collect_max_wait_ms: max_wait,
            enabled: req.enabled.unwrap_or(true),
            created_at: now,
            updated_at: now,
        };
        match self.ctx.store().insert_binding(&row).await {
            Ok(()) => {}
            Err(StoreError::Unique { .. }) => {
                return Err(EngineError::Conflict(format!(
                    "the scope key '{}' is bound already; change that binding or remove it",
                    row.scope_key
                )))
            }
            Err(e) => return Err(e.into()),
        }
        self.log(
            caller,
            &ws,
            row.connection_id.as_deref(),
            "binding.created",
            &row,
        )
        .await?;
        Ok(row.into())
    }

    /// Checks that a named connection is the caller's (404 otherwise); a Slack channel without
    /// a team takes the connection's account, which is its team.
    async fn channel_of(&self, caller: &Caller, mut channel: Channel) -> Result<Channel> {
        if let Some(id) = &channel.connection_id {
            let row = self.ctx.load_connection(caller, id).await?;
            if channel.channel_type == "slack" && channel.team_id.is_none() {
                channel.team_id = Some(row.account_id);
            }
        }
        Ok(channel)
    }

    pub async fn list(
        &self,
        caller: &Caller,
        target: Option<&str>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<BindingView>> {
        let ws = workspace_of(caller)?;
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
            .store()
            .list_bindings(ws, target, cursor, limit + 1)
            .await?;
        let rows: Vec<BindingView> = rows.into_iter().map(Into::into).collect();
        Ok(Page::from_overfetch(rows, limit, |b| b.id.clone()))
    }

    async fn load(&self, caller: &Caller, id: &str) -> Result<BindingRow> {
        let ws = workspace_of(caller)?;
        if !ids::is_id(ids::IdKind::Binding, id) {
            return Err(EngineError::NotFound("binding"));
        }
        self.ctx
            .store()
            .get_binding(ws, id)
            .await?
            .ok_or(EngineError::NotFound("binding"))
    }

    pub async fn get(&self, caller: &Caller, id: &str) -> Result<BindingView> {
        Ok(self.load(caller, id).await?.into())
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        req: PatchBinding,
    ) -> Result<BindingView> {
        let mut row = self.load(caller, id).await?;
        let mut errors = Vec::new();
        if let Some(t) = req.target {
            check_target(&t, &mut errors);
            row.target = t;
        }
        if let Some(m) = req.queue_mode {
            row.queue_mode = m.as_str().into();
        }
        row.collect_debounce_ms = req.collect_debounce_ms.unwrap_or(row.collect_debounce_ms);
        row.collect_max_wait_ms = req.collect_max_wait_ms.unwrap_or(row.collect_max_wait_ms);
        check_timing(
            row.collect_debounce_ms,
            row.collect_max_wait_ms,
            &mut errors,
        );
        if let Some(e) = req.enabled {
            row.enabled = e;
        }
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        row.updated_at = now_ms();
        self.ctx.store().update_binding(&row).await?;
        let ws = row.workspace_id.clone();
        self.log(
            caller,
            &ws,
            row.connection_id.as_deref(),
            "binding.updated",
            &row,
        )
        .await?;
        Ok(row.into())
    }

    pub async fn delete(&self, caller: &Caller, id: &str) -> Result<()> {
        let row = self.load(caller, id).await?;
        if !self
            .ctx
            .store()
            .delete_binding(&row.workspace_id, id)
            .await?
        {
            return Err(EngineError::NotFound("binding"));
        }
        self.log(
            caller,
            &row.workspace_id,
            row.connection_id.as_deref(),
            "binding.deleted",
            &row,
        )
        .await
    }

    /// Removes every binding of `target` (a session that ended); answers how many.
    pub async fn delete_target(&self, caller: &Caller, target: &str) -> Result<u64> {
        let ws = workspace_of(caller)?.to_string();
        let n = self
            .ctx
            .store()
            .delete_bindings_of_target(&ws, target)
            .await?;
        let entry = activity_row(
            Some(&ws),
            None,
            &caller.actor(),
            "bindings.deleted",
            json!({"target": target, "count": n}),
        );
        self.ctx.store().record_activity(&entry).await?;
        Ok(n)
    }

    pub async fn default_target(&self, caller: &Caller) -> Result<DefaultTarget> {
        let ws = workspace_of(caller)?;
        let d = self
            .ctx
            .store()
            .get_routing_default(ws)
            .await?
            .ok_or(EngineError::NotFound("default target"))?;
        Ok(DefaultTarget {
            target: d.target,
            queue_mode: QueueMode::parse(&d.queue_mode),
            collect_debounce_ms: d.collect_debounce_ms,
            collect_max_wait_ms: d.collect_max_wait_ms,
        })
    }

    pub async fn set_default_target(
        &self,
        caller: &Caller,
        req: DefaultTarget,
    ) -> Result<DefaultTarget> {
        let ws = workspace_of(caller)?.to_string();
        let mut errors = Vec::new();
        check_target(&req.target, &mut errors);
        check_timing(
            req.collect_debounce_ms,
            req.collect_max_wait_ms,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        self.ctx
            .store()
            .put_routing_default(&RoutingDefaultRow {
                workspace_id: ws.clone(),
                target: req.target.clone(),
                queue_mode: req.queue_mode.as_str().into(),
                collect_debounce_ms: req.collect_debounce_ms,
                collect_max_wait_ms: req.collect_max_wait_ms,
                updated_at: now_ms(),
            })
            .await?;
        let entry = activity_row(
            Some(&ws),
            None,
            &caller.actor(),
            "routing.default_set",
            json!({"target": req.target, "queue_mode": req.queue_mode.as_str()}),
        );
        self.ctx.store().record_activity(&entry).await?;
        Ok(req)
    }

    pub async fn clear_default_target(&self, caller: &Caller) -> Result<()> {
        let ws = workspace_of(caller)?;
        if !self.ctx.store().delete_routing_default(ws).await? {
            return Err(EngineError::NotFound("default target"));
        }
        Ok(())
    }

    async fn log(
        &self,
        caller: &Caller,
        ws: &str,
        connection_id: Option<&str>,
        action: &str,
        row: &BindingRow,
    ) -> Result<()> {
        let entry = activity_row(
            Some(ws),
            connection_id,
            &caller.actor(),
            action,
            json!({"binding_id": row.id, "scope_key": row.scope_key, "target": row.target,
                   "queue_mode": row.queue_mode, "enabled": row.enabled}),
        );
        self.ctx.store().record_activity(&entry).await?;
        Ok(())
    }
}
