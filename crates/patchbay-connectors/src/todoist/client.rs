//! Calls to Todoist's API v1: Bearer token, `{"results", "next_cursor"}` pages.

use crate::common::{credential_header, endpoint, list_items};
use crate::http::HttpClient;
use crate::providers::Provider;
use patchbay_core::{ConnectorContext, ConnectorError, Secret};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::Value;
use url::Url;

/// Todoist's API address when neither the connection nor the catalog names one.
pub const DEFAULT_API_BASE: &str = "https://api.todoist.com";

/// Most pages one filter read follows; a provider handing out cursors forever is cut off.
const MAX_FILTER_PAGES: usize = 50;

/// The API base: the connection's `base_url`, else the catalog entry's `api_base_url`.
pub fn api_base(
    ctx: &ConnectorContext,
    provider: Option<&Provider>,
) -> Result<Url, ConnectorError> {
    crate::common::provider_api_base(ctx, provider, DEFAULT_API_BASE, "Todoist")
}

/// One page of a list.
pub struct Page {
    pub results: Vec<Value>,
    pub next_cursor: Option<String>,
}

pub struct Api<'a> {
    http: &'a HttpClient,
    base: Url,
    token: &'a Secret,
}

impl<'a> Api<'a> {
    pub fn new(
        http: &'a HttpClient,
        ctx: &'a ConnectorContext,
        provider: Option<&Provider>,
    ) -> Result<Self, ConnectorError> {
        Ok(Api {
            http,
            base: api_base(ctx, provider)?,
            token: ctx.secret("access_token")?,
        })
    }

    /// `GET`s an absolute URL with the token (the catalog's user endpoint).
    pub async fn get_url(&self, url: &str) -> Result<Value, ConnectorError> {
        let req = self.http.request(Method::GET, url)?;
        let req = req.header(AUTHORIZATION, self.auth()?);
        Ok(self.http.send_json(req).await?.0)
    }

    fn auth(&self) -> Result<reqwest::header::HeaderValue, ConnectorError> {
        credential_header(&format!("Bearer {}", self.token.expose()))
    }

    async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let mut segments = vec!["api", "v1"];
        segments.extend_from_slice(path);
        let mut url = endpoint(&self.base, &segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().copied());
        }
        let mut req = self
            .http
            .request(method, url)?
            .header(AUTHORIZATION, self.auth()?);
        if let Some(body) = body {
            req = req.json(body);
        }
        Ok(self.http.send_json(req).await?.0)
    }

    /// The user endpoint under the API base.
    pub async fn user(&self) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["user"], &[], None).await
    }

    /// One page of `path` (`["tasks"]`, `["projects"]`, `["tasks", "filter"]`).
    pub async fn page(
        &self,
        path: &[&str],
        extra: &[(&str, &str)],
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page, ConnectorError> {
        let limit = limit.to_string();
        let mut query = extra.to_vec();
        query.push(("limit", &limit));
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        let v = self.call(Method::GET, path, &query, None).await?;
        let results = list_items(&v, "results")?.clone();
        let next_cursor = match v.get("next_cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) if Some(s.as_str()) == cursor => {
                return Err(ConnectorError::BadResponse(
                    "the next cursor repeats the current one".into(),
                ))
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(ConnectorError::BadResponse(
                    "'next_cursor' is not a string".into(),
                ))
            }
        };
        Ok(Page {
            results,
            next_cursor,
        })
    }

    /// Every active task matching a Todoist filter query, following cursors.
    pub async fn filter_all(&self, query: &str, limit: u32) -> Result<Vec<Value>, ConnectorError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_FILTER_PAGES {
            let page = self
                .page(
                    &["tasks", "filter"],
                    &[("query", query)],
                    limit,
                    cursor.as_deref(),
                )
                .await?;
            all.extend(page.results);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
        Err(ConnectorError::BadResponse(format!(
            "the filter answer did not end within {MAX_FILTER_PAGES} pages"
        )))
    }

    pub async fn task(&self, id: &str) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["tasks", id], &[], None).await
    }

    pub async fn project(&self, id: &str) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["projects", id], &[], None).await
    }

    /// `close` or `reopen`; Todoist answers 204 (or an empty object).
    pub async fn task_command(&self, id: &str, command: &str) -> Result<(), ConnectorError> {
        self.call(Method::POST, &["tasks", id, command], &[], None)
            .await
            .map(|_| ())
    }

    pub async fn create_task(&self, body: &Value) -> Result<Value, ConnectorError> {
        self.call(Method::POST, &["tasks"], &[], Some(body)).await
    }
}
