//! Slack: a workspace connected with OAuth v2 (`oauth.v2.access`): the bot token is the
//! `access_token` secret, the user token (granted with user scopes) `user_token`, the team id
//! the connection's account. Syncs channels, users and messages (`sync`), maps Events API
//! deliveries to records and events (`events`), turns direct messages and mentions into
//! signals (`signals`) and runs message actions (`actions`). Slack answers failures with
//! `ok: false`; the client maps them and keeps to the method tiers (`client`). Calls go to the
//! catalog entry's `api_base_url` unless the connection's `base_url` overrides it.

mod actions;
mod client;
mod events;
mod signals;
mod spec;
mod sync;

pub use client::{map_error, tier, DEFAULT_API_BASE, USER_TOKEN};
pub use spec::{KEY, SIGNING_SECRET};

use crate::common::unknown_entity;
use crate::http::HttpClient;
use crate::providers::Provider;
use async_trait::async_trait;
use client::{Api, Limits};
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, FieldError, ProxyTarget, Secret,
    Signal, SyncPage, SyncRequest, TestOutcome, ValidationInput, WebhookOutcome, WebhookRequest,
};
use serde_json::Value;

pub struct Slack {
    http: HttpClient,
    provider: Option<Provider>,
    spec: ConnectorSpec,
    limits: Limits,
}

impl Slack {
    pub fn new(http: HttpClient, provider: Option<Provider>) -> Self {
        Slack {
            http,
            provider,
            spec: spec::spec(),
            limits: Limits::default(),
        }
    }

    /// The bot token's API; `user` prefers the user token when there is one.
    fn api<'a>(&'a self, ctx: &'a ConnectorContext, user: bool) -> Result<Api<'a>, ConnectorError> {
        Api::new(&self.http, ctx, self.provider.as_ref(), &self.limits, user)
    }
}

#[async_trait]
impl Connector for Slack {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let me = self.api(ctx, false)?.form("auth.test", &[]).await?;
        let team = me["team_id"].as_str().map(str::to_string);
        Ok(TestOutcome {
            ok: true,
            message: format!(
                "the token belongs to {} in {}",
                me["user"].as_str().unwrap_or("?"),
                me["team"].as_str().unwrap_or("?")
            ),
            account: team,
        })
    }

    async fn sync(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        let api = self.api(ctx, false)?;
        match req.entity.as_str() {
            "channels" | "users" => {
                sync::listing(&api, ctx, &req.entity, req.page_cursor.as_deref()).await
            }
            "messages" => {
                sync::messages(&api, ctx, req.page_cursor.as_deref(), req.since.as_deref()).await
            }
            other => Err(unknown_entity(other)),
        }
    }

    async fn run_action(
        &self,
        ctx: &ConnectorContext,
        action: &str,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        actions::run(&self.api(ctx, false)?, ctx, action, &input).await
    }

    async fn handle_webhook(
        &self,
        ctx: &ConnectorContext,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        events::outcome(&self.api(ctx, false)?, &req.body).await
    }

    async fn signals(&self, ctx: &ConnectorContext) -> Result<Vec<Signal>, ConnectorError> {
        let types = spec::channel_types(&ctx.config);
        signals::signals(&self.api(ctx, true)?, &types).await
    }

    fn proxy_target(&self, ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
        let api = self.api(ctx, false)?;
        let token = ctx.secret(client::BOT_TOKEN)?;
        Ok(ProxyTarget {
            base_url: api.base().as_str().trim_end_matches('/').to_string(),
            headers: vec![(
                "Authorization".into(),
                Secret::new(format!("Bearer {}", token.expose())),
            )],
        })
    }
}
