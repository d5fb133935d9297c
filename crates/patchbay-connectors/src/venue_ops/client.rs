//! Calls to the venue partner's API (`X-Api-Key`, page-number lists).

use crate::common::{base_url, credential_header, endpoint, list_items, required_config};
use crate::http::HttpClient;
use patchbay_core::{ConnectorContext, ConnectorError};
use reqwest::Method;
use serde_json::Value;
use url::Url;

pub struct Api<'a> {
    http: &'a HttpClient,
    base: Url,
    venue_id: &'a str,
    ctx: &'a ConnectorContext,
}

/// One page of a list.
pub struct ListPage {
    pub items: Vec<Value>,
    pub page: u32,
    pub total_pages: u32,
}

impl<'a> Api<'a> {
    pub fn new(http: &'a HttpClient, ctx: &'a ConnectorContext) -> Result<Self, ConnectorError> {
        Ok(Api {
            http,
            base: base_url(ctx)?,
            venue_id: required_config(ctx, "venue_id")?,
            ctx,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let mut segments = vec!["api", "venues", self.venue_id];
        segments.extend_from_slice(path);
        let mut url = endpoint(&self.base, &segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let token = self.ctx.secret("api_token")?.expose();
        let mut req = self
            .http
            .request(method, url)?
            .header("x-api-key", credential_header(token)?);
        if let Some(body) = body {
            req = req.json(body);
        }
        Ok(self.http.send_json(req).await?.0)
    }

    pub async fn venue(&self) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &[], &[], None).await
    }

    pub async fn list(
        &self,
        collection: &str,
        page: u32,
        per_page: u32,
        modified_since: Option<&str>,
    ) -> Result<ListPage, ConnectorError> {
        let mut query = vec![
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        if let Some(since) = modified_since {
            query.push(("modified_since", since.to_string()));
        }
        let v = self.call(Method::GET, &[collection], &query, None).await?;
        let number = |field: &str| {
            v.get(field)
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| ConnectorError::BadResponse(format!("list answer has no '{field}'")))
        };
        Ok(ListPage {
            items: list_items(&v, "items")?.clone(),
            page: number("page")?,
            total_pages: number("total_pages")?,
        })
    }

    pub async fn booking(&self, id: &str) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["bookings", id], &[], None).await
    }

    pub async fn create_hold(&self, body: &Value) -> Result<Value, ConnectorError> {
        self.call(Method::POST, &["holds"], &[], Some(body)).await
    }

    pub async fn release_hold(&self, id: &str) -> Result<(), ConnectorError> {
        self.call(Method::DELETE, &["holds", id], &[], None)
            .await
            .map(drop)
    }

    pub async fn occupancy(&self) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["occupancy"], &[], None).await
    }
}
