//! Todoist: connected with OAuth 2.0 (the engine keeps a fresh token in the `access_token`
//! secret). Syncs tasks and projects from API v1, turns tasks due today or overdue into
//! signals, closes, reopens and creates tasks, and serves due-today and overdue widgets.
//! Calls go to the catalog entry's `api_base_url` unless the connection's `base_url`
//! overrides it.

mod client;
mod signals;
mod spec;

pub use client::DEFAULT_API_BASE;
pub use signals::{task_url, SIGNAL_QUERY};
pub use spec::{oauth_secrets_schema, KEY};

use crate::common::{object_id, unknown_entity};
use crate::http::HttpClient;
use crate::providers::Provider;
use async_trait::async_trait;
use client::{api_base, Api};
use patchbay_core::{
    Connector, ConnectorContext, ConnectorError, ConnectorSpec, DataPayload, FieldError,
    ProxyTarget, Record, Secret, Signal, SyncPage, SyncRequest, TestOutcome, ValidationInput,
};
use serde_json::{json, Value};

/// Todoist's largest page.
const MAX_PAGE_SIZE: u32 = 200;

pub struct Todoist {
    http: HttpClient,
    provider: Option<Provider>,
    spec: ConnectorSpec,
    page_size: u32,
}

impl Todoist {
    /// `provider` is the catalog entry (with any operator overrides).
    pub fn new(http: HttpClient, provider: Option<Provider>) -> Self {
        Todoist {
            http,
            provider,
            spec: spec::spec(),
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// Items requested per page (1..=200).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    fn api<'a>(&'a self, ctx: &'a ConnectorContext) -> Result<Api<'a>, ConnectorError> {
        Api::new(&self.http, ctx, self.provider.as_ref())
    }

    async fn create_task(
        &self,
        ctx: &ConnectorContext,
        input: &Value,
    ) -> Result<Value, ConnectorError> {
        let mut body = json!({"content": input["content"]});
        for field in ["due_string", "priority", "project_id"] {
            if let Some(v) = input.get(field).filter(|v| !v.is_null()) {
                body[field] = v.clone();
            }
        }
        self.api(ctx)?.create_task(&body).await
    }
}

/// `tasks`/`task` and `projects`/`project` name the same entities.
fn entity_key(entity: &str) -> Result<&'static str, ConnectorError> {
    match entity {
        "tasks" | "task" => Ok("tasks"),
        "projects" | "project" => Ok("projects"),
        other => Err(unknown_entity(other)),
    }
}

#[async_trait]
impl Connector for Todoist {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    fn validate_rules(&self, input: &ValidationInput<'_>) -> Vec<FieldError> {
        spec::validate_rules(input)
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let api = self.api(ctx)?;
        let overridden = ctx.config_str("base_url").is_some_and(|s| !s.is_empty());
        let userinfo = self
            .provider
            .as_ref()
            .and_then(|p| p.userinfo_url.as_deref());
        // A connection pointed elsewhere checks its token there, not at the catalog's URL.
        let user = match userinfo {
            Some(url) if !overridden => api.get_url(url).await?,
            _ => api.user().await?,
        };
        let account = user.get("id").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        Ok(TestOutcome {
            ok: true,
            message: "the token is valid".into(),
            account,
        })
    }

    async fn sync(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        let entity = match req.entity.as_str() {
            "tasks" => "tasks",
            "projects" => "projects",
            other => return Err(unknown_entity(other)),
        };
        // Neither list has a changed-since filter, so incremental runs read everything too.
        let page = self
            .api(ctx)?
            .page(&[entity], &[], self.page_size, req.page_cursor.as_deref())
            .await?;
        let mut records = Vec::with_capacity(page.results.len());
        for item in page.results {
            records.push(Record {
                entity: entity.into(),
                id: object_id(&item)?,
                data: item,
            });
        }
        Ok(SyncPage {
            records,
            deleted_ids: Vec::new(),
            next_page_cursor: page.next_cursor,
            checkpoint: None,
            note: None,
        })
    }

    async fn fetch_entity(
        &self,
        ctx: &ConnectorContext,
        entity: &str,
        id: &str,
    ) -> Result<Record, ConnectorError> {
        let entity = entity_key(entity)?;
        let api = self.api(ctx)?;
        let data = match entity {
            "tasks" => api.task(id).await?,
            _ => api.project(id).await?,
        };
        Ok(Record {
            entity: entity.into(),
            id: object_id(&data)?,
            data,
        })
    }

    async fn run_action(
        &self,
        ctx: &ConnectorContext,
        action: &str,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        let task_id = input
            .get("task_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match action {
            "close_task" => {
                self.api(ctx)?.task_command(task_id, "close").await?;
                Ok(json!({"task_id": task_id, "closed": true}))
            }
            "reopen_task" => {
                self.api(ctx)?.task_command(task_id, "reopen").await?;
                Ok(json!({"task_id": task_id, "reopened": true}))
            }
            "create_task" => self.create_task(ctx, &input).await,
            other => Err(ConnectorError::Unknown {
                kind: "action",
                key: other.into(),
            }),
        }
    }

    async fn signals(&self, ctx: &ConnectorContext) -> Result<Vec<Signal>, ConnectorError> {
        let tasks = self
            .api(ctx)?
            .filter_all(SIGNAL_QUERY, self.page_size)
            .await?;
        signals::signals(&tasks)
    }

    async fn fetch_data(
        &self,
        ctx: &ConnectorContext,
        endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        let query = match endpoint {
            "due_today" => "today",
            "overdue" => "overdue",
            other => {
                return Err(ConnectorError::Unknown {
                    kind: "data endpoint",
                    key: other.into(),
                })
            }
        };
        let tasks = self.api(ctx)?.filter_all(query, self.page_size).await?;
        match endpoint {
            "due_today" => signals::due_today(&tasks),
            _ => signals::overdue(&tasks),
        }
    }

    fn proxy_target(&self, ctx: &ConnectorContext) -> Result<ProxyTarget, ConnectorError> {
        let base = api_base(ctx, self.provider.as_ref())?;
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
