//! GitHub: repositories, issues, pull requests and commits over the REST API, with OAuth or
//! personal access tokens (both arrive as the `access_token` secret), webhooks signed with
//! `X-Hub-Signature-256`, actions, review signals, live data and the authenticated proxy.
//! GitHub Enterprise Server works by setting `base_url` (e.g. `https://ghe.example.com/api/v3`).
//!
//! The proxy target carries only the credential; callers send `Accept:
//! application/vnd.github+json` and `X-GitHub-Api-Version: 2022-11-28` themselves, as every
//! call made by the connector does.

mod actions;
mod client;
mod etag;
mod records;
pub mod repo_name;
mod signals;
mod spec;
mod sync;
mod webhook;

pub use client::{API_VERSION, MEDIA_TYPE};
pub use spec::KEY;

use crate::http::HttpClient;
use crate::providers::Provider;
use async_trait::async_trait;
use client::Api;
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, DataPayload, FieldError,
    ProxyTarget, Record, Secret, Signal, SyncPage, SyncRequest, TestOutcome, ValidationInput,
    WebhookOutcome, WebhookRequest,
};
use records::{parse_item_id, RepoName};
use serde_json::Value;

/// GitHub's largest page.
const MAX_PAGE_SIZE: u32 = 100;
const DEFAULT_BASE_URL: &str = "https://api.github.com";

pub struct Github {
    spec: ConnectorSpec,
    http: HttpClient,
    /// The catalog's `api_base_url`, used when a connection sets no `base_url`.
    default_base: String,
    page_size: u32,
    etags: etag::EtagCache,
}

impl Github {
    /// `provider` is the catalog entry (with any operator overrides).
    pub fn new(http: HttpClient, provider: Option<Provider>) -> Self {
        let default_base = provider
            .and_then(|p| p.api_base_url)
            .unwrap_or_else(|| DEFAULT_BASE_URL.into());
        Github {
            spec: spec::spec(),
            http,
            default_base,
            page_size: MAX_PAGE_SIZE,
            etags: etag::EtagCache::default(),
        }
    }

    /// Items requested per page (1..=100).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    fn api<'a>(&'a self, ctx: &'a ConnectorContext) -> Result<Api<'a>, ConnectorError> {
        Api::new(&self.http, ctx, &self.default_base)
    }
}

#[async_trait]
impl Connector for Github {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let user = self.api(ctx)?.get(&["user"]).await?;
        let id = match user.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(ConnectorError::BadResponse("the user has no id".into())),
        };
        let login = user.get("login").and_then(Value::as_str).unwrap_or(&id);
        Ok(TestOutcome {
            ok: true,
            message: format!("authenticated as {login}"),
            account: Some(id),
        })
    }

    async fn sync(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        self.sync_page(ctx, req).await
    }

    async fn fetch_entity(
        &self,
        ctx: &ConnectorContext,
        entity: &str,
        id: &str,
    ) -> Result<Record, ConnectorError> {
        let api = self.api(ctx)?;
        match entity {
            "repository" | "repositories" => {
                let repo = RepoName::parse_plain(id)
                    .ok()
                    .ok_or_else(|| ConnectorError::Config(format!("'{id}' is not owner/name")))?;
                records::repository(&api.get(&["repos", &repo.owner, &repo.name]).await?)
            }
            "issue" | "issues" => {
                let (repo, n) = parse_item_id(id)?;
                let n = n.to_string();
                let v = api
                    .get(&["repos", &repo.owner, &repo.name, "issues", &n])
                    .await?;
                records::issue(&repo.full_name(), &v)
            }
            "pull_request" | "pull_requests" => {
                let (repo, n) = parse_item_id(id)?;
                let n = n.to_string();
                let v = api
                    .get(&["repos", &repo.owner, &repo.name, "pulls", &n])
                    .await?;
                records::pull_request(&repo.full_name(), &v)
            }
            other => Err(crate::common::unknown_entity(other)),
        }
    }

    async fn run_action(
        &self,
        ctx: &ConnectorContext,
        action: &str,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        self.action(ctx, action, input).await
    }

    async fn handle_webhook(
        &self,
        ctx: &ConnectorContext,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        webhook::handle(ctx, req)
    }

    async fn fetch_data(
        &self,
        ctx: &ConnectorContext,
        endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        self.data(ctx, endpoint).await
    }

    async fn signals(&self, ctx: &ConnectorContext) -> Result<Vec<Signal>, ConnectorError> {
        self.signal_list(ctx).await
    }

    fn proxy_target(&self, ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
        let base = client::base_url(ctx, &self.default_base)?;
        let token = ctx.secret("access_token")?;
        Ok(ProxyTarget {
            base_url: base.as_str().trim_end_matches('/').to_string(),
            headers: vec![(
                "Authorization".into(),
                Secret::new(format!("Bearer {}", token.expose())),
            )],
        })
    }
}
