//! Todoist: connected with OAuth 2.0. The account check calls the provider's user endpoint
//! with the access token the engine hands in; tasks, projects, signals and the `close_task`
//! action join this folder with the Todoist emulator.

use crate::http::HttpClient;
use crate::providers::Provider;
use async_trait::async_trait;
use patchbay_core::{
    AuthKind, Connector, ConnectorContext, ConnectorError, ConnectorSpec, Direction, Mode,
    TestOutcome,
};
use reqwest::Method;
use serde_json::{json, Value};

pub const KEY: &str = "todoist";

pub struct Todoist {
    http: HttpClient,
    provider: Option<Provider>,
    spec: ConnectorSpec,
}

/// Secret fields of OAuth connections: managed by patchbay, or imported once.
pub fn oauth_secrets_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "access_token": {"type": "string", "minLength": 1},
            "refresh_token": {"type": "string", "minLength": 1}
        },
        "additionalProperties": false
    })
}

impl Todoist {
    /// `provider` is the catalog entry (with any operator overrides).
    pub fn new(http: HttpClient, provider: Option<Provider>) -> Self {
        let spec = ConnectorSpec {
            key: KEY.into(),
            name: "Todoist".into(),
            description: "Todoist tasks and projects, connected with OAuth.".into(),
            category: "tasks".into(),
            direction: Direction::Bidirectional,
            mode: Mode::Pull,
            auth: AuthKind::Oauth2,
            capabilities: vec![],
            entities: vec![],
            actions: vec![],
            data_endpoints: vec![],
            config_schema: json!({"type": "object", "properties": {}, "additionalProperties": false}),
            secrets_schema: oauth_secrets_schema(),
            account_field: None,
            webhook_scheme: None,
            webhook_secret_field: None,
        };
        Todoist {
            http,
            provider,
            spec,
        }
    }
}

#[async_trait]
impl Connector for Todoist {
    fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    async fn test_connection(&self, ctx: &ConnectorContext) -> Result<TestOutcome, ConnectorError> {
        let url = self
            .provider
            .as_ref()
            .and_then(|p| p.userinfo_url.clone())
            .ok_or_else(|| {
                ConnectorError::Config("the todoist provider entry has no userinfo_url".into())
            })?;
        let token = ctx.secret("access_token")?;
        let req = self
            .http
            .request(Method::GET, &url)?
            .bearer_auth(token.expose());
        let (user, _) = self.http.send_json(req).await?;
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
}
