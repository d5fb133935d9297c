//! Calls to Google's REST APIs (Gmail v1, Calendar v3): a Bearer token, a path prefix per API
//! under the base URL, and Google's error shape (`{"error": {"code", "message", "status",
//! "errors": [{"reason"}]}}`) with its quota answers (429, or 403 with reason
//! `rateLimitExceeded` / `userRateLimitExceeded`).

use crate::common::credential_header;
use crate::http::HttpClient;
use patchbay_core::{ConnectorContext, ConnectorError, Secret};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use url::Url;

pub struct Api<'a> {
    http: &'a HttpClient,
    base: Url,
    token: &'a Secret,
    /// The API's path under the base (`gmail/v1/users/me`, `calendar/v3`).
    prefix: &'static [&'static str],
}

impl<'a> Api<'a> {
    pub fn new(
        http: &'a HttpClient,
        ctx: &'a ConnectorContext,
        base: Url,
        prefix: &'static [&'static str],
    ) -> Result<Self, ConnectorError> {
        Ok(Api {
            http,
            base,
            token: ctx.secret("access_token")?,
            prefix,
        })
    }

    /// `<base>/<prefix>/<segments>?<query>`.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(self.prefix).extend(segments);
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, ConnectorError> {
        self.call(Method::GET, segments, query, None).await
    }

    pub async fn post(&self, segments: &[&str], body: &Value) -> Result<Value, ConnectorError> {
        self.call(Method::POST, segments, &[], Some(body)).await
    }

    pub async fn put(&self, segments: &[&str], body: &Value) -> Result<Value, ConnectorError> {
        self.call(Method::PUT, segments, &[], Some(body)).await
    }

    /// Any method, with a query and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        self.call(method, segments, query, body).await
    }

    /// `GET`s an absolute URL with the token (the catalog's userinfo endpoint).
    pub async fn get_url(&self, url: &str) -> Result<Value, ConnectorError> {
        let req = self
            .http
            .request(Method::GET, url)?
            .header(AUTHORIZATION, self.auth()?);
        self.answer(req).await
    }

    fn auth(&self) -> Result<reqwest::header::HeaderValue, ConnectorError> {
        credential_header(&format!("Bearer {}", self.token.expose()))
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let mut req = self
            .http
            .request_url(method, self.url(segments, query))?
            .header(AUTHORIZATION, self.auth()?);
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.answer(req).await
    }

    async fn answer(&self, req: reqwest::RequestBuilder) -> Result<Value, ConnectorError> {
        let (status, headers, body) = self.http.send_raw(req).await?;
        if (200..300).contains(&status) {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&body)
                .map_err(|e| ConnectorError::BadResponse(format!("invalid JSON: {e}")));
        }
        Err(google_error(status, &headers, &body))
    }
}

impl Api<'_> {
    /// The Google account (`sub`) the token belongs to, as the connect flow recorded it, from
    /// the catalog's userinfo endpoint; `fallback` when the connection points elsewhere
    /// (`base_url` set) or the catalog names no endpoint.
    pub async fn account(
        &self,
        ctx: &ConnectorContext,
        provider: Option<&crate::providers::Provider>,
        fallback: Option<String>,
    ) -> Result<Option<String>, ConnectorError> {
        let overridden = ctx.config_str("base_url").is_some_and(|s| !s.is_empty());
        match provider.and_then(|p| p.userinfo_url.as_deref()) {
            Some(url) if !overridden => {
                Ok(self.get_url(url).await?["sub"].as_str().map(str::to_string))
            }
            _ => Ok(fallback),
        }
    }
}

/// The authenticated proxy's target: the API base and the connection's Bearer token.
pub fn proxy_target(
    base: &Url,
    ctx: &ConnectorContext,
) -> Result<patchbay_core::ProxyTarget, ConnectorError> {
    let token = ctx.secret("access_token")?;
    Ok(patchbay_core::ProxyTarget {
        base_url: base.as_str().trim_end_matches('/').to_string(),
        headers: vec![(
            "Authorization".into(),
            Secret::new(format!("Bearer {}", token.expose())),
        )],
    })
}

/// The error for a non-2xx answer in Google's shape.
pub fn google_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> ConnectorError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = &v["error"];
    let message = err["message"]
        .as_str()
        .or_else(|| err.as_str())
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect::<String>();
    let reason = err["errors"][0]["reason"].as_str().unwrap_or_default();
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let quota = matches!(
        reason,
        "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded"
    );
    match status {
        429 => ConnectorError::RateLimited {
            retry_after_secs: retry_after,
        },
        403 if quota => ConnectorError::RateLimited {
            retry_after_secs: retry_after,
        },
        401 | 403 => ConnectorError::Unauthorized { status, message },
        404 => ConnectorError::NotFound(message),
        _ => ConnectorError::Provider { status, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn google_errors_map_to_kinds() {
        let body = |code: u16, reason: &str| {
            serde_json::json!({"error": {"code": code, "message": "m", "status": "X",
                "errors": [{"reason": reason, "domain": "usageLimits", "message": "m"}]}})
            .to_string()
            .into_bytes()
        };
        let h = HeaderMap::new();
        assert!(matches!(
            google_error(403, &h, &body(403, "userRateLimitExceeded")),
            ConnectorError::RateLimited { .. }
        ));
        assert!(matches!(
            google_error(403, &h, &body(403, "insufficientPermissions")),
            ConnectorError::Unauthorized { status: 403, .. }
        ));
        assert!(matches!(
            google_error(429, &h, &body(429, "rateLimitExceeded")),
            ConnectorError::RateLimited { .. }
        ));
        assert!(matches!(
            google_error(404, &h, &body(404, "notFound")),
            ConnectorError::NotFound(_)
        ));
        assert!(matches!(
            google_error(500, &h, b"<html>"),
            ConnectorError::Provider { status: 500, .. }
        ));
    }
}
