//! A generic connector for JSON APIs that list items with cursor pagination: self-hosted
//! apps and REST APIs alike. Endpoint, field names, paging parameters and the auth header
//! come from the connection's config, so one implementation serves many providers.

mod extras;
mod page;
mod settings;
mod spec;

pub use spec::KEY;

use crate::common::{credential_header, unknown_entity};
use crate::http::HttpClient;
use async_trait::async_trait;
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, DataEndpointSpec, DataPayload,
    FieldError, ProxyTarget, SyncMode, SyncPage, SyncRequest, TestOutcome, ValidationInput,
    WebhookOutcome, WebhookRequest, WebhookScheme,
};
use reqwest::header::HeaderName;
use reqwest::Method;
use serde_json::Value;
use settings::{field, Settings};

pub struct HttpJson {
    spec: ConnectorSpec,
    http: HttpClient,
}

impl HttpJson {
    pub fn new(http: HttpClient) -> Self {
        HttpJson {
            spec: spec::spec(),
            http,
        }
    }

    /// GETs one page of the list and returns the parsed answer.
    async fn list(
        &self,
        ctx: &ConnectorContext,
        s: &Settings<'_>,
        limit: u64,
        cursor: Option<&str>,
        since: Option<&str>,
    ) -> Result<Value, ConnectorError> {
        let mut url = s.list_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair(s.limit_param, &limit.to_string());
            if let Some(cursor) = cursor {
                query.append_pair(s.cursor_param, cursor);
            }
            if let (Some(param), Some(since)) = (s.updated_since_param, since) {
                query.append_pair(param, since);
            }
        }
        self.get(ctx, s, url).await
    }

    /// GETs `url` with the configured credential header.
    async fn get(
        &self,
        ctx: &ConnectorContext,
        s: &Settings<'_>,
        url: url::Url,
    ) -> Result<Value, ConnectorError> {
        let name = HeaderName::from_bytes(s.auth_header.as_bytes()).map_err(|_| {
            ConnectorError::Config(format!("'{}' is not a valid header name", s.auth_header))
        })?;
        let (_, value) = extras::credential(ctx, s)?;
        let req = self
            .http
            .request(Method::GET, url)?
            .header(name, credential_header(value.expose())?);
        Ok(self.http.send_json(req).await?.0)
    }
}

#[async_trait]
impl Connector for HttpJson {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let s = Settings::read(&ctx.config)?;
        let answer = self.list(ctx, &s, 1, None, None).await?;
        let items = field(&answer, s.items_field)
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ConnectorError::BadResponse(format!("list answer has no '{}' array", s.items_field))
            })?;
        let host = s.list_url.host_str().unwrap_or_default();
        let what = if items.is_empty() {
            "an empty list"
        } else {
            "items"
        };
        Ok(TestOutcome {
            ok: true,
            message: format!("{host}{} answered with {what}", s.list_url.path()),
            account: None,
        })
    }

    async fn sync(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        if !settings::syncs_entity(&ctx.config, &req.entity) {
            return Err(unknown_entity(&req.entity));
        }
        let s = Settings::read(&ctx.config)?;
        // Without an updated-since parameter every run lists everything.
        let since = match req.mode {
            SyncMode::Incremental => req.since.as_deref(),
            SyncMode::Full => None,
        };
        let sent_since = since.filter(|_| s.updated_since_param.is_some());
        let answer = self
            .list(ctx, &s, s.page_size, req.page_cursor.as_deref(), sent_since)
            .await?;
        page::map(answer, &s, &req.entity, since)
    }

    fn webhook_scheme_for(&self, config: &Value) -> Option<WebhookScheme> {
        spec::webhook_scheme(config)
    }

    /// The delivery was verified when it was received; it only says that something changed.
    async fn handle_webhook(
        &self,
        ctx: &ConnectorContext,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, ConnectorError> {
        Ok(extras::webhook_outcome(&ctx.config, req))
    }

    fn proxy_target(&self, ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
        extras::proxy_target(ctx)
    }

    fn data_endpoints_for(&self, config: &Value) -> Vec<DataEndpointSpec> {
        extras::data_endpoints(config)
    }

    async fn fetch_data(
        &self,
        ctx: &ConnectorContext,
        endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        let (path, pointer, shape) =
            extras::endpoint_location(&ctx.config, endpoint).ok_or_else(|| {
                ConnectorError::Unknown {
                    kind: "data endpoint",
                    key: endpoint.to_string(),
                }
            })?;
        let s = Settings::read(&ctx.config)?;
        let base = ctx.config_str("base_url").unwrap_or_default();
        let url = url::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
            .map_err(|e| ConnectorError::Config(format!("data endpoint '{endpoint}': {e}")))?;
        let answer = self.get(ctx, &s, url).await?;
        extras::data_payload(answer, &pointer, shape)
    }
}
