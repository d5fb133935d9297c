//! What every GitHub answer goes through: the call log, token check, primary and secondary
//! rate limits with their `X-RateLimit-*` headers, ETags with `If-None-Match`, GitHub's error
//! bodies, and Link-header pagination.

use super::GitHub;
use crate::paging::Params;
use axum::body::{to_bytes, Body};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const DOCS: &str = "https://docs.github.com/rest";
const RATE_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

/// The authenticated caller, put in request extensions by [`gate`].
#[derive(Clone)]
pub struct Caller(pub String);

/// An error answer in GitHub's format: `{"message", "documentation_url", "status"}`, with
/// `errors` for validation failures.
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = error_body(self.status, &self.message);
        if let Some(errors) = self.errors {
            body["errors"] = errors;
        }
        (self.status, Json(body)).into_response()
    }
}

pub fn error_body(status: StatusCode, message: &str) -> Value {
    json!({"message": message, "documentation_url": DOCS, "status": status.as_u16().to_string()})
}

pub fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
        errors: None,
    }
}

pub fn not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// 422 `Validation Failed` with one `errors` entry.
pub fn invalid(resource: &str, field: &str, code: &str, message: Option<&str>) -> ApiError {
    let mut e = json!({"resource": resource, "field": field, "code": code});
    if let Some(m) = message {
        e["message"] = m.into();
    }
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: "Validation Failed".into(),
        errors: Some(json!([e])),
    }
}

fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    known.then_some(token.trim())
}

fn rate_headers(resp: &mut Response, resource: &str, b: &super::model::Bucket) {
    let h = resp.headers_mut();
    let mut put = |name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(name, v);
        }
    };
    put("x-ratelimit-limit", b.limit.to_string());
    put("x-ratelimit-remaining", b.remaining().to_string());
    put("x-ratelimit-used", b.used.to_string());
    put("x-ratelimit-reset", b.reset.to_string());
    put("x-ratelimit-resource", resource.to_string());
}

pub async fn gate(State(gh): State<Arc<GitHub>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let path = path
        .strip_prefix(gh.config.path_prefix.as_str())
        .unwrap_or(&path)
        .to_string();
    let method = req.method().clone();
    let resource = if path.starts_with("/search/") {
        "search"
    } else {
        "core"
    };
    let login = {
        let mut data = gh.data();
        data.calls.push((method.to_string(), path.clone()));
        data.core.roll();
        data.search.roll();
        token(req.headers()).and_then(|t| data.tokens.get(t).cloned())
    };
    let login = match login {
        Some(l) => Some(l),
        None => match token(req.headers()) {
            Some(t) => gh.external_login(t),
            None => None,
        },
    };
    let bucket = |gh: &GitHub| {
        let data = gh.data();
        if resource == "search" {
            data.search
        } else {
            data.core
        }
    };
    let Some(login) = login else {
        let message = if req.headers().contains_key(header::AUTHORIZATION) {
            "Bad credentials"
        } else {
            "Requires authentication"
        };
        let mut resp = error(StatusCode::UNAUTHORIZED, message).into_response();
        rate_headers(&mut resp, resource, &bucket(&gh));
        return resp;
    };
    let secondary = {
        let mut data = gh.data();
        let (n, after) = data.secondary;
        (n > 0).then(|| {
            data.secondary.0 -= 1;
            after
        })
    };
    if let Some(after) = secondary {
        let message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
        let mut resp = (
            StatusCode::FORBIDDEN,
            Json(json!({"message": message, "documentation_url": RATE_DOCS})),
        )
            .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(after));
        rate_headers(&mut resp, resource, &bucket(&gh));
        return resp;
    }
    let current = bucket(&gh);
    if current.remaining() == 0 {
        let id = gh.data().user(&login)["id"].clone();
        let message = format!("API rate limit exceeded for user ID {id}.");
        let mut resp = (
            StatusCode::FORBIDDEN,
            Json(json!({"message": message, "documentation_url": RATE_DOCS})),
        )
            .into_response();
        rate_headers(&mut resp, resource, &current);
        return resp;
    }
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    req.extensions_mut().insert(Caller(login));
    let resp = next.run(req).await;
    let resp = with_etag(&gh, &method, if_none_match, resp).await;
    // GitHub does not count 304s, nor calls to /rate_limit.
    let counted = resp.status() != StatusCode::NOT_MODIFIED && path != "/rate_limit";
    let b = {
        let mut data = gh.data();
        let b = if resource == "search" {
            &mut data.search
        } else {
            &mut data.core
        };
        if counted {
            b.used += 1;
        }
        *b
    };
    let mut resp = resp;
    rate_headers(&mut resp, resource, &b);
    resp
}

/// Adds an ETag to JSON answers to GET, or turns the answer into a 304 when it matches.
async fn with_etag(
    gh: &GitHub,
    method: &Method,
    if_none_match: Option<HeaderValue>,
    resp: Response,
) -> Response {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if method != Method::GET || resp.status() != StatusCode::OK || !is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("W/\"{hex}\"");
    let matches = if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches {
        gh.data().not_modified += 1;
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        resp.headers_mut().insert(header::ETAG, etag);
        return resp;
    }
    parts.headers.insert(header::ETAG, etag);
    Response::from_parts(parts, Body::from(bytes))
}

/// One page of `items` by `per_page` (default 30, at most 100) and `page`, and the Link
/// header pointing at the others.
pub fn page_of(
    items: Vec<Value>,
    q: &Params,
    uri: &OriginalUri,
    headers: &HeaderMap,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let num = |name: &str, default: usize| -> Result<usize, ApiError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| error(StatusCode::UNPROCESSABLE_ENTITY, format!("Invalid {name}"))),
        }
    };
    let per_page = num("per_page", 30)?.clamp(1, 100);
    let page = num("page", 1)?.max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link_to = |p: usize| {
        let mut pairs: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("page".into(), p.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("http://{host}{}?{}", uri.0.path(), query.join("&"))
    };
    let mut links = Vec::new();
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
        links.push(format!("<{}>; rel=\"first\"", link_to(1)));
    }
    let items = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    Ok((items, (!links.is_empty()).then(|| links.join(", "))))
}

/// A JSON answer with an optional Link header.
pub fn with_link(body: Value, link: Option<String>) -> Response {
    let mut resp = Json(body).into_response();
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
