//! Telegram bots, connected with a BotFather token (a sealed secret, never printed: it is part
//! of every Bot API URL). Enabling a connection sets the bot's webhook to patchbay with a
//! secret token patchbay makes, and its command menu (`watch`); disabling or deleting it
//! removes the webhook (`unwatch`). Updates become records, attachments and events
//! (`updates`); actions send Markdown as Telegram HTML, photos and files (`actions`). Calls go
//! to the catalog entry's `api_base_url` unless the connection's `base_url` overrides it.

mod actions;
mod client;
pub mod markdown;
mod spec;
pub mod split;
mod updates;

pub use actions::html_of;
pub use client::{token_shape_ok, DEFAULT_API_BASE};
pub use spec::{DEFAULT_COMMANDS, KEY, WEBHOOK_SECRET};
pub use updates::command_of;

use crate::http::HttpClient;
use crate::providers::Provider;
use async_trait::async_trait;
use client::{Api, Holds};
use patchbay_core::{
    now_ms, Connector, ConnectorContext, ConnectorError, ConnectorSpec, FieldError, TestOutcome,
    ValidationInput, Watch, WebhookOutcome, WebhookRequest,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// A webhook does not lapse at Telegram; setting it again daily repairs one changed elsewhere.
const WEBHOOK_REFRESH_MS: i64 = 2 * 24 * 3600 * 1000;

pub struct Telegram {
    http: HttpClient,
    provider: Option<Provider>,
    spec: ConnectorSpec,
    holds: Holds,
    /// Bot usernames by bot id, from `getMe`, to tell whose `/command@name` a message holds.
    usernames: Mutex<HashMap<String, String>>,
}

impl Telegram {
    pub fn new(http: HttpClient, provider: Option<Provider>) -> Self {
        Telegram {
            http,
            provider,
            spec: spec::spec(),
            holds: Holds::default(),
            usernames: Mutex::default(),
        }
    }

    fn api<'a>(&'a self, ctx: &'a ConnectorContext) -> Result<Api<'a>, ConnectorError> {
        Api::new(&self.http, ctx, self.provider.as_ref(), &self.holds)
    }

    /// `getMe`, remembering the bot's username.
    async fn me(&self, api: &Api<'_>) -> Result<Value, ConnectorError> {
        let me = api.call("getMe", &json!({})).await?;
        if let Some(username) = me["username"].as_str() {
            self.usernames
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(api.bot_id().to_string(), username.to_string());
        }
        Ok(me)
    }

    async fn username(&self, api: &Api<'_>) -> Option<String> {
        let known = self
            .usernames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(api.bot_id())
            .cloned();
        match known {
            Some(u) => Some(u),
            None => self.me(api).await.ok()?["username"]
                .as_str()
                .map(str::to_string),
        }
    }
}

#[async_trait]
impl Connector for Telegram {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let me = self.me(&self.api(ctx)?).await?;
        if me["is_bot"] != true {
            return Err(ConnectorError::BadResponse(
                "getMe did not describe a bot".into(),
            ));
        }
        let id = me["id"]
            .as_i64()
            .ok_or_else(|| ConnectorError::BadResponse("getMe named no bot id".into()))?;
        Ok(TestOutcome {
            ok: true,
            message: format!(
                "the token belongs to @{} ({})",
                me["username"].as_str().unwrap_or("?"),
                me["first_name"].as_str().unwrap_or("")
            ),
            account: Some(id.to_string()),
        })
    }

    async fn run_action(
        &self,
        ctx: &ConnectorContext,
        action: &str,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        actions::run(&self.api(ctx)?, action, &input).await
    }

    async fn handle_webhook(
        &self,
        ctx: &ConnectorContext,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        let api = self.api(ctx)?;
        updates::outcome(&api, ctx, &req.body, async || self.username(&api).await).await
    }

    fn wants_watch(&self, config: &Value) -> bool {
        config["webhook"].as_bool().unwrap_or(true)
    }

    async fn watch(
        &self,
        ctx: &ConnectorContext,
        callback_url: &str,
        _previous: Option<&Watch>,
    ) -> Result<Watch, ConnectorError> {
        let api = self.api(ctx)?;
        let secret = ctx.secret(WEBHOOK_SECRET)?;
        let allowed = spec::allowed_updates(&ctx.config);
        api.call(
            "setWebhook",
            &json!({"url": callback_url, "secret_token": secret.expose(),
                    "allowed_updates": allowed, "max_connections": 40}),
        )
        .await?;
        api.call(
            "setMyCommands",
            &json!({"commands": spec::commands(&ctx.config)}),
        )
        .await?;
        let me = self.me(&api).await?;
        Ok(Watch {
            expires_at_ms: now_ms() + WEBHOOK_REFRESH_MS,
            state: json!({"url": callback_url, "bot_id": me["id"], "username": me["username"],
                          "allowed_updates": allowed}),
        })
    }

    async fn unwatch(&self, ctx: &ConnectorContext, _watch: &Watch) -> Result<(), ConnectorError> {
        self.api(ctx)?
            .call("deleteWebhook", &json!({"drop_pending_updates": false}))
            .await
            .map(|_| ())
    }
}
