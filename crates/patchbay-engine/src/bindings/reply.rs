//! Replies: text sent back to a binding's channel through its connector's own action (Telegram
//! `send_message`, Slack `send_message` in the thread, GitHub `comment_on_issue`), so the
//! application never needs to know which provider a conversation is on.

use super::Bindings;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use patchbay_core::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The longest reply accepted; connectors split long texts where their provider needs it.
const MAX_REPLY: usize = 40_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// Markdown for Telegram (converted to its HTML), Slack mrkdwn, GitHub Markdown.
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplyOutcome {
    pub binding_id: String,
    pub connection_id: String,
    /// The connector action that sent it.
    pub action: String,
    /// What the provider answered, as the action returns it.
    #[schema(value_type = Object)]
    pub result: Value,
}

impl Bindings {
    pub async fn reply(
        &self,
        caller: &Caller,
        id: &str,
        req: ReplyRequest,
    ) -> Result<ReplyOutcome> {
        let b = self.load(caller, id).await?;
        if req.text.trim().is_empty() || req.text.chars().count() > MAX_REPLY {
            return Err(EngineError::Validation(vec![FieldError::new(
                "text",
                "length",
                format!("text must be 1 to {MAX_REPLY} characters"),
            )]));
        }
        let no_channel = || {
            EngineError::Incapable(format!(
                "a {} binding has no channel to reply through; the application shows replies \
                 itself",
                b.channel_type
            ))
        };
        let channel = b.channel_id.clone().ok_or_else(no_channel)?;
        let (action, input) = match b.channel_type.as_str() {
            "telegram" => {
                // Chat ids are numbers; the Bot API takes them as numbers or strings.
                let chat: Value = channel.parse::<i64>().map_or(json!(channel), Value::from);
                ("send_message", json!({"chat_id": chat, "text": req.text}))
            }
            "slack" => {
                let mut input = json!({"channel": channel, "text": req.text});
                if let Some(ts) = &b.thread {
                    input["thread_ts"] = json!(ts);
                }
                ("send_message", input)
            }
            "github" => {
                let number = b
                    .thread
                    .as_deref()
                    .and_then(|t| t.parse::<u64>().ok())
                    .ok_or_else(|| {
                        EngineError::Incapable(
                            "this github binding names a repository, not an issue or pull \
                             request to comment on"
                                .into(),
                        )
                    })?;
                (
                    "comment_on_issue",
                    json!({"repository": channel, "number": number, "body": req.text}),
                )
            }
            _ => return Err(no_channel()),
        };
        let connection_id = b.connection_id.clone().ok_or_else(|| {
            EngineError::Incapable(
                "the binding names no connection to reply through; set connection_id when \
                 binding"
                    .into(),
            )
        })?;
        let outcome = self
            .actions
            .run_action(caller, &connection_id, action, input)
            .await?;
        Ok(ReplyOutcome {
            binding_id: b.id,
            connection_id,
            action: action.into(),
            result: outcome.result,
        })
    }
}
