//! Calls to the printing partner's API (Bearer key, Stripe-style cursor lists).

use crate::common::{base_url, credential_header, endpoint, required_config};
use crate::http::HttpClient;
use patchbay_core::{ConnectorContext, ConnectorError};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::Value;
use url::Url;

pub struct Api<'a> {
    http: &'a HttpClient,
    base: Url,
    shop_id: &'a str,
    ctx: &'a ConnectorContext,
}

/// One page of a list.
pub struct ListPage {
    pub data: Vec<Value>,
    pub has_more: bool,
}

impl<'a> Api<'a> {
    pub fn new(http: &'a HttpClient, ctx: &'a ConnectorContext) -> Result<Self, ConnectorError> {
        Ok(Api {
            http,
            base: base_url(ctx)?,
            shop_id: required_config(ctx, "shop_id")?,
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
        let mut segments = vec!["v1", "shops", self.shop_id];
        segments.extend_from_slice(path);
        let mut url = endpoint(&self.base, &segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let auth = format!("Bearer {}", self.ctx.secret("api_key")?.expose());
        let mut req = self
            .http
            .request(method, url)?
            .header(AUTHORIZATION, credential_header(&auth)?);
        if let Some(body) = body {
            req = req.json(body);
        }
        Ok(self.http.send_json(req).await?.0)
    }

    pub async fn shop(&self) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &[], &[], None).await
    }

    /// One page of `orders` or `products` after `starting_after`.
    pub async fn list(
        &self,
        collection: &str,
        limit: u32,
        starting_after: Option<&str>,
        updated_since: Option<&str>,
    ) -> Result<ListPage, ConnectorError> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(id) = starting_after {
            query.push(("starting_after", id.to_string()));
        }
        if let Some(since) = updated_since {
            query.push(("updated_since", since.to_string()));
        }
        let v = self.call(Method::GET, &[collection], &query, None).await?;
        let data = crate::common::list_items(&v, "data")?.clone();
        let has_more = v
            .get("has_more")
            .and_then(Value::as_bool)
            .ok_or_else(|| ConnectorError::BadResponse("list answer has no 'has_more'".into()))?;
        Ok(ListPage { data, has_more })
    }

    /// Order counts per status.
    pub async fn stats(&self) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["stats"], &[], None).await
    }

    /// The partner's current service notices.
    pub async fn notices(&self) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["notices"], &[], None).await
    }

    pub async fn order(&self, id: &str) -> Result<Value, ConnectorError> {
        self.call(Method::GET, &["orders", id], &[], None).await
    }

    pub async fn create_order(&self, body: &Value) -> Result<Value, ConnectorError> {
        self.call(Method::POST, &["orders"], &[], Some(body)).await
    }

    pub async fn cancel_order(&self, id: &str) -> Result<Value, ConnectorError> {
        self.call(Method::POST, &["orders", id, "cancel"], &[], None)
            .await
    }
}
