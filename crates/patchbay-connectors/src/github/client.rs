//! Calls to GitHub's REST API: the token and version headers, Link-header pagination,
//! conditional requests, and page URLs held to the connection's base URL.

use crate::common::{credential_header, endpoint};
use crate::http::HttpClient;
use patchbay_core::{ConnectorContext, ConnectorError};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, IF_NONE_MATCH};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use url::Url;

pub const API_VERSION: &str = "2022-11-28";
pub const MEDIA_TYPE: &str = "application/vnd.github+json";

pub struct Api<'a> {
    http: &'a HttpClient,
    base: Url,
    ctx: &'a ConnectorContext,
}

/// One page of a list answer.
pub struct Page {
    pub body: Value,
    /// The `rel="next"` URL, when more pages follow.
    pub next: Option<String>,
    pub etag: Option<String>,
}

/// The connection's API root: `config.base_url` (GitHub Enterprise) or `default`.
pub fn base_url(ctx: &ConnectorContext, default: &str) -> Result<Url, ConnectorError> {
    let raw = ctx.config_str("base_url").unwrap_or(default);
    let url = Url::parse(raw)
        .map_err(|e| ConnectorError::Config(format!("base_url is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(ConnectorError::Config(
            "base_url must be an http(s) URL".into(),
        ));
    }
    Ok(url)
}

impl<'a> Api<'a> {
    pub fn new(
        http: &'a HttpClient,
        ctx: &'a ConnectorContext,
        default_base: &str,
    ) -> Result<Self, ConnectorError> {
        Ok(Api {
            http,
            base: base_url(ctx, default_base)?,
            ctx,
        })
    }

    pub fn url(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    /// A page URL from a stored cursor, refused unless it lies under the base URL: a cursor
    /// must not be able to send the token elsewhere.
    pub fn trusted(&self, raw: &str) -> Result<Url, ConnectorError> {
        let url =
            Url::parse(raw).map_err(|_| ConnectorError::Config("invalid page cursor".into()))?;
        let prefix = self.base.path().trim_end_matches('/');
        let under = url.path() == prefix || url.path().starts_with(&format!("{prefix}/"));
        if url.origin() != self.base.origin() || !under {
            return Err(ConnectorError::Config(
                "page cursor points outside the API base URL".into(),
            ));
        }
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, ConnectorError> {
        let token = self.ctx.secret("access_token")?;
        let auth = format!("Bearer {}", token.expose());
        Ok(self
            .http
            .request(method, url)?
            .header(AUTHORIZATION, credential_header(&auth)?)
            .header(ACCEPT, MEDIA_TYPE)
            .header("X-GitHub-Api-Version", API_VERSION))
    }

    pub async fn get(&self, segments: &[&str]) -> Result<Value, ConnectorError> {
        let req = self.request(Method::GET, self.url(segments))?;
        Ok(self.http.send_json(req).await?.0)
    }

    pub async fn get_url(&self, url: Url) -> Result<Value, ConnectorError> {
        let req = self.request(Method::GET, url)?;
        Ok(self.http.send_json(req).await?.0)
    }

    pub async fn post(&self, segments: &[&str], body: &Value) -> Result<Value, ConnectorError> {
        let req = self.request(Method::POST, self.url(segments))?.json(body);
        Ok(self.http.send_json(req).await?.0)
    }

    /// One page of a list; with `etag`, `None` means the page has not changed.
    pub async fn page(&self, url: Url, etag: Option<&str>) -> Result<Option<Page>, ConnectorError> {
        let mut req = self.request(Method::GET, url)?;
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        let Some((body, headers)) = self.http.send_json_conditional(req).await? else {
            return Ok(None);
        };
        Ok(Some(Page {
            body,
            next: next_link(&headers),
            etag: headers
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }))
    }
}

/// The `rel="next"` target of a Link header (RFC 8288).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    value.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_the_next_link() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                "<https://api.github.com/user/repos?page=3>; rel=\"next\", <https://api.github.com/user/repos?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/user/repos?page=3")
        );
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static("<https://api.github.com/x?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
