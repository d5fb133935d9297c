//! The outbound HTTP client every connector uses: private-network policy, no redirects,
//! timeouts, and the mapping of provider answers to [`ConnectorError`].

mod policy;

pub use policy::{is_private, NetworkPolicy, Refused, ALLOW_PRIVATE_ENV};

use crate::providers::RateLimitHeaders;
use patchbay_core::ConnectorError;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Largest provider answer read into memory.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Longest provider error message passed on.
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    /// The same client without deadlines, for exchanges streamed on as they go: their caller
    /// ends them after [`HttpClient::timeout`] of silence.
    streaming: reqwest::Client,
    policy: Arc<NetworkPolicy>,
    timeout: Duration,
}

impl HttpClient {
    /// A client enforcing `policy` that gives up on a request after `timeout` in all, or
    /// after `timeout` without a byte from the other side.
    pub fn new(policy: NetworkPolicy, timeout: Duration) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .use_rustls_tls()
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                // A redirect could lead to an address the policy refuses, past the URL check.
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve names itself, bypassing the resolver below.
                .no_proxy()
                .user_agent(concat!("patchbay/", env!("CARGO_PKG_VERSION")))
                .dns_resolver(Arc::new(policy::PolicyResolver {
                    policy: policy.clone(),
                }))
        };
        let built = "the TLS backend is compiled in, so building the HTTP client cannot fail";
        HttpClient {
            inner: builder()
                .timeout(timeout)
                .read_timeout(timeout)
                .build()
                .expect(built),
            streaming: builder().build().expect(built),
            policy: Arc::new(policy),
            timeout,
        }
    }

    /// How long a call may take, or a streamed exchange may stay silent.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Starts a request, refusing URLs that name a forbidden address directly (the resolver
    /// is never asked about IP literals).
    pub fn request(
        &self,
        method: Method,
        url: impl AsRef<str>,
    ) -> Result<RequestBuilder, ConnectorError> {
        let url = Url::parse(url.as_ref())
            .map_err(|e| ConnectorError::Config(format!("invalid URL: {e}")))?;
        self.check_url(&url)?;
        Ok(self.inner.request(method, url))
    }

    /// [`Self::request`] for a URL already parsed.
    pub fn request_url(&self, method: Method, url: Url) -> Result<RequestBuilder, ConnectorError> {
        self.check_url(&url)?;
        Ok(self.inner.request(method, url))
    }

    fn check_url(&self, url: &Url) -> Result<(), ConnectorError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectorError::Config(format!(
                "unsupported URL scheme '{}'; use http or https",
                url.scheme()
            )));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => v4.into(),
            Some(Host::Ipv6(v6)) => v6.into(),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(ConnectorError::Config("the URL has no host".into())),
        };
        self.policy
            .check(ip)
            .map_err(|r| ConnectorError::Network(r.to_string()))
    }

    /// Builds and sends a request after the policy check; the scrubber hides its credentials
    /// in any error message made from the answer.
    async fn dispatch(&self, req: RequestBuilder) -> Result<(Response, Scrubber), ConnectorError> {
        self.dispatch_on(&self.inner, req).await
    }

    async fn dispatch_on(
        &self,
        client: &reqwest::Client,
        req: RequestBuilder,
    ) -> Result<(Response, Scrubber), ConnectorError> {
        let (_, built) = req.build_split();
        let request =
            built.map_err(|e| ConnectorError::Config(format!("could not build request: {e}")))?;
        // Checked again here because the builder may not have come from `request`.
        self.check_url(request.url())?;
        let scrub = Scrubber::from_headers(request.headers());
        let resp = client
            .execute(request)
            .await
            .map_err(|e| network_error(&e, &scrub))?;
        Ok((resp, scrub))
    }

    /// Sends a request and returns the response when its status is 2xx; any other status
    /// becomes the matching [`ConnectorError`].
    pub async fn send(&self, req: RequestBuilder) -> Result<Response, ConnectorError> {
        let (resp, scrub) = self.dispatch(req).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(status_error(resp, &scrub).await)
    }

    /// Sends a request and hands back the response as it arrives, whatever its status, for
    /// callers that stream the bodies on (the proxy). Network errors are mapped; nothing is
    /// read. No deadline applies: the caller bounds the silences (see `patchbay_engine::idle`),
    /// so an exchange may take as long as bytes keep moving.
    pub async fn execute(&self, req: RequestBuilder) -> Result<Response, ConnectorError> {
        Ok(self.dispatch_on(&self.streaming, req).await?.0)
    }

    /// Sends a request and returns status, headers and body whatever the status; only network
    /// trouble and oversize answers are errors. For protocols with their own error bodies
    /// (OAuth 2.0 token endpoints).
    pub async fn send_raw(
        &self,
        req: RequestBuilder,
    ) -> Result<(u16, HeaderMap, Vec<u8>), ConnectorError> {
        let (resp, _) = self.dispatch(req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Ok((status, headers, read_body(resp).await?))
    }

    /// Sends a conditional request (`If-None-Match`, `If-Modified-Since`): `None` when the
    /// provider answers 304 Not Modified, else the JSON answer as from [`Self::send_json`].
    pub async fn send_json_conditional(
        &self,
        req: RequestBuilder,
    ) -> Result<Option<(Value, HeaderMap)>, ConnectorError> {
        let (resp, scrub) = self.dispatch(req).await?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(status_error(resp, &scrub).await);
        }
        let headers = resp.headers().clone();
        Ok(Some((parse_json(&read_body(resp).await?)?, headers)))
    }

    /// Sends a request and parses its JSON answer; an empty answer (such as 204) is `Null`.
    pub async fn send_json(
        &self,
        req: RequestBuilder,
    ) -> Result<(Value, HeaderMap), ConnectorError> {
        let resp = self.send(req).await?;
        let headers = resp.headers().clone();
        let body = read_body(resp).await?;
        Ok((parse_json(&body)?, headers))
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ConnectorError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|e| ConnectorError::BadResponse(format!("invalid JSON: {e}")))
}

async fn read_body(mut resp: Response) -> Result<Vec<u8>, ConnectorError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ConnectorError::BadResponse(format!(
                        "answer larger than {MAX_BODY_BYTES} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => {
                return Err(ConnectorError::Network(format!(
                    "timed out reading answer: {e}"
                )))
            }
            Err(e) => {
                return Err(ConnectorError::BadResponse(format!(
                    "could not read answer: {e}"
                )))
            }
        }
    }
}

async fn status_error(resp: Response, scrub: &Scrubber) -> ConnectorError {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = read_body(resp).await.unwrap_or_default();
    let message = scrub.apply(&provider_message(&body, status));
    match error_for(status, &headers, message, chrono::Utc::now()) {
        ConnectorError::RateLimited {
            retry_after_secs: None,
        } => ConnectorError::RateLimited {
            retry_after_secs: body_retry_after(&body),
        },
        other => other,
    }
}

/// A wait some providers give in the error body instead of a header: Todoist
/// (`error_extra.retry_after`), Telegram (`parameters.retry_after`), Discord (`retry_after`).
fn body_retry_after(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    [
        "/error_extra/retry_after",
        "/parameters/retry_after",
        "/retry_after",
    ]
    .iter()
    .find_map(|p| v.pointer(p).and_then(Value::as_f64))
    .map(|secs| secs.max(0.0).ceil() as u64)
}

/// The error for a non-2xx answer with `headers` and the provider's `message`.
fn error_for(
    status: u16,
    headers: &HeaderMap,
    message: String,
    now: chrono::DateTime<chrono::Utc>,
) -> ConnectorError {
    if let Some(retry_after_secs) = rate_limit(status, headers, &RateLimitHeaders::default(), now) {
        return ConnectorError::RateLimited { retry_after_secs };
    }
    match status {
        401 | 403 => ConnectorError::Unauthorized { status, message },
        404 => ConnectorError::NotFound(message),
        _ => ConnectorError::Provider { status, message },
    }
}

/// Whether an answer says the caller is over a rate limit, and if so the seconds it asks to
/// wait (when it says). A 429 always is; providers (GitHub among them) also answer 403 for an
/// exhausted quota (remaining `0`) or with a `Retry-After`, which tells them from a refusal.
/// `names` are the provider's header names (the catalog's `rate_limit_headers`); unset ones
/// are `X-RateLimit-Remaining`, `X-RateLimit-Reset` and `Retry-After`.
pub fn rate_limit(
    status: u16,
    headers: &HeaderMap,
    names: &RateLimitHeaders,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Option<u64>> {
    let limited = match status {
        429 => true,
        403 => is_rate_limited(headers, names),
        _ => false,
    };
    limited.then(|| retry_after(headers, names, now))
}

fn header_names(names: &RateLimitHeaders) -> (&str, &str, &str) {
    (
        names
            .remaining
            .as_deref()
            .unwrap_or("x-ratelimit-remaining"),
        names.reset.as_deref().unwrap_or("x-ratelimit-reset"),
        names.retry_after.as_deref().unwrap_or(RETRY_AFTER.as_str()),
    )
}

/// Whether an answer says the caller is over a rate limit: no requests remain in the window,
/// or the provider asks to come back later.
fn is_rate_limited(headers: &HeaderMap, names: &RateLimitHeaders) -> bool {
    let (remaining, _, retry) = header_names(names);
    let remaining_zero = headers
        .get(remaining)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    remaining_zero || headers.contains_key(retry)
}

/// The human part of an error answer, in the shapes providers commonly use.
fn provider_message(body: &[u8], status: u16) -> String {
    let fallback = || {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_string()
    };
    let message = match serde_json::from_slice::<Value>(body) {
        Ok(v) => json_message(&v).unwrap_or_else(fallback),
        Err(_) => match std::str::from_utf8(body) {
            Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
            _ => fallback(),
        },
    };
    truncate_chars(&message, MAX_MESSAGE_CHARS)
}

fn json_message(v: &Value) -> Option<String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let err = v.get("error");
    let message = s(err.and_then(|e| e.get("message")))
        .or_else(|| s(err))
        .or_else(|| s(v.get("message")))
        .or_else(|| s(v.get("detail")))
        .or_else(|| s(v.get("error_description")))
        .or_else(|| s(v.pointer("/errors/0/message")))?;
    let kind = s(err.and_then(|e| e.get("type")))
        .or_else(|| s(v.get("code")))
        .or_else(|| s(v.get("error_tag")));
    let message = match kind {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    };
    // Validation answers list what was wrong beside a generic message ("Validation Failed").
    let details: Vec<String> = v
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().filter_map(validation_detail).collect())
        .unwrap_or_default();
    if details.is_empty() || v.get("message").is_none() {
        return Some(message);
    }
    Some(format!("{message}: {}", details.join("; ")))
}

/// One entry of an `errors` list: its own message, else `field code`.
fn validation_detail(e: &Value) -> Option<String> {
    if let Some(m) = e
        .as_str()
        .or_else(|| e.get("message").and_then(Value::as_str))
    {
        return Some(m.to_string());
    }
    let part = |k: &str| e.get(k).and_then(Value::as_str);
    match (part("field"), part("code")) {
        (Some(field), Some(code)) => Some(format!("{field} {code}")),
        (None, Some(code)) => Some(code.to_string()),
        _ => None,
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Seconds to wait, from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset`
/// (seconds, or a Unix time when it is that large).
fn retry_after(
    headers: &HeaderMap,
    names: &RateLimitHeaders,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<u64> {
    let (_, reset_name, retry_name) = header_names(names);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = header(retry_name) {
        if let Ok(secs) = v.parse::<f64>() {
            return Some(secs.max(0.0).ceil() as u64);
        }
        if let Ok(date) = chrono::DateTime::parse_from_rfc2822(v) {
            return Some((date.timestamp() - now.timestamp()).max(0) as u64);
        }
    }
    let reset = header(reset_name)?.parse::<f64>().ok()?.max(0.0).ceil() as i64;
    if reset > 1_000_000_000 {
        Some((reset - now.timestamp()).max(0) as u64)
    } else {
        Some(reset as u64)
    }
}

fn network_error(e: &reqwest::Error, scrub: &Scrubber) -> ConnectorError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain = Vec::new();
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return ConnectorError::Network(refused.to_string());
        }
        chain.push(err.to_string());
        source = err.source();
    }
    let text = scrub.apply(&chain.join(": "));
    if e.is_timeout() {
        ConnectorError::Network(format!("timed out: {text}"))
    } else {
        ConnectorError::Network(text)
    }
}

/// Removes credential header values from text that came back from the provider, which may
/// echo what it was sent.
struct Scrubber {
    values: Vec<String>,
}

impl Scrubber {
    fn from_headers(headers: &HeaderMap) -> Self {
        let mut values = Vec::new();
        for (name, value) in headers {
            let credential = value.is_sensitive()
                || matches!(
                    name.as_str(),
                    "authorization" | "proxy-authorization" | "x-api-key" | "cookie"
                );
            let Ok(text) = value.to_str() else { continue };
            if !credential {
                continue;
            }
            if let Some((_, token)) = text.split_once(' ') {
                values.push(token.trim().to_string());
            }
            values.push(text.to_string());
        }
        values.retain(|v| v.len() >= 4);
        // Longest first, so a whole header value goes before its token part.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Scrubber { values }
    }

    fn apply(&self, text: &str) -> String {
        self.values
            .iter()
            .fold(text.to_string(), |t, v| t.replace(v.as_str(), "[redacted]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .to_utc();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, &RateLimitHeaders::default(), now), Some(7));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h, &RateLimitHeaders::default(), now), Some(60));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1445412450"));
        assert_eq!(retry_after(&h, &RateLimitHeaders::default(), now), Some(30));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("12"));
        assert_eq!(retry_after(&h, &RateLimitHeaders::default(), now), Some(12));
        assert_eq!(
            retry_after(&HeaderMap::new(), &RateLimitHeaders::default(), now),
            None
        );
    }

    #[test]
    fn waits_given_in_error_bodies() {
        let todoist = br#"{"error":"Too many requests","error_code":429,"error_extra":{"retry_after":4},"http_code":429}"#;
        assert_eq!(body_retry_after(todoist), Some(4));
        let telegram = br#"{"ok":false,"error_code":429,"parameters":{"retry_after":35}}"#;
        assert_eq!(body_retry_after(telegram), Some(35));
        assert_eq!(body_retry_after(br#"{"retry_after":0.4}"#), Some(1));
        assert_eq!(body_retry_after(b"slow down"), None);
    }

    #[test]
    fn rate_limit_headers_follow_the_catalog() {
        let now = chrono::Utc::now();
        let named = RateLimitHeaders {
            remaining: Some("RateLimit-Remaining".into()),
            reset: Some("RateLimit-Reset".into()),
            retry_after: None,
        };
        let mut h = HeaderMap::new();
        h.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("ratelimit-reset", HeaderValue::from_static("5"));
        assert_eq!(rate_limit(403, &h, &named, now), Some(Some(5)));
        // Under the common names the same answer is a plain refusal.
        assert_eq!(rate_limit(403, &h, &RateLimitHeaders::default(), now), None);
        assert_eq!(rate_limit(429, &HeaderMap::new(), &named, now), Some(None));
        assert_eq!(rate_limit(500, &h, &named, now), None);
    }

    #[test]
    fn rate_limits_are_told_from_refusals() {
        let mut primary = HeaderMap::new();
        primary.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert!(is_rate_limited(&primary, &RateLimitHeaders::default()));
        let mut secondary = HeaderMap::new();
        secondary.insert(RETRY_AFTER, HeaderValue::from_static("60"));
        assert!(is_rate_limited(&secondary, &RateLimitHeaders::default()));
        let mut plenty = HeaderMap::new();
        plenty.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
        assert!(!is_rate_limited(&plenty, &RateLimitHeaders::default()));
        assert!(!is_rate_limited(
            &HeaderMap::new(),
            &RateLimitHeaders::default()
        ));

        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let limited =
            |status, headers: &HeaderMap| match error_for(status, headers, "m".into(), now) {
                ConnectorError::RateLimited { retry_after_secs } => retry_after_secs,
                other => panic!("{other:?}"),
            };
        primary.insert("x-ratelimit-reset", HeaderValue::from_static("1700000042"));
        assert_eq!(limited(403, &primary), Some(42));
        assert_eq!(limited(429, &primary), Some(42));
        assert_eq!(limited(403, &secondary), Some(60));
        assert_eq!(limited(429, &HeaderMap::new()), None);
        for headers in [&plenty, &HeaderMap::new()] {
            assert!(matches!(
                error_for(403, headers, "no".into(), now),
                ConnectorError::Unauthorized { status: 403, .. }
            ));
        }
    }

    #[test]
    fn extracts_messages_without_credentials() {
        let body = br#"{"error":{"type":"authentication_error","message":"bad key pp_test_abcdefgh123456"}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("Bearer pp_test_abcdefgh123456"),
        );
        let scrub = Scrubber::from_headers(&headers);
        let msg = scrub.apply(&provider_message(body, 401));
        assert_eq!(msg, "authentication_error: bad key [redacted]");
        assert_eq!(
            provider_message(br#"{"code":"not_found","detail":"no such booking"}"#, 404),
            "not_found: no such booking"
        );
        assert_eq!(
            provider_message(
                br#"{"error":"Task not found","error_code":478,"error_tag":"NOT_FOUND","http_code":404}"#,
                404
            ),
            "NOT_FOUND: Task not found"
        );
        assert_eq!(provider_message(b"", 502), "Bad Gateway");
        let github = br#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"head","code":"missing_field"},{"resource":"PullRequest","code":"custom","message":"No commits between main and main"}],"documentation_url":"https://docs.github.com/rest"}"#;
        assert_eq!(
            provider_message(github, 422),
            "Validation Failed: head missing_field; No commits between main and main"
        );
        assert_eq!(provider_message(b"{\"trunc", 500), "{\"trunc");
    }
}
