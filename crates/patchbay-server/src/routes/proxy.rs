//! `ANY /v1/connections/{id}/proxy/{*path}`: the caller's request, authenticated with the
//! connection's credential, sent to the provider; both bodies stream through.

use crate::access::{methods::*, Access::*, Routes};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use futures_util::TryStreamExt;
use patchbay_engine::proxy::{answer_stream, end_to_end, ProxyBody, ProxyRequest};

/// Request bodies up to this size are buffered so a refresh or retry can send them again;
/// larger ones stream through once.
const REPLAYABLE_BODY: u64 = 1024 * 1024;

pub fn router() -> Routes {
    let mut routes = Routes::new();
    for method in PROXY_METHODS {
        routes = routes
            .add(
                method.clone(),
                "/v1/connections/{id}/proxy",
                Workspace,
                proxy,
            )
            .add(
                method.clone(),
                "/v1/connections/{id}/proxy/{*path}",
                Workspace,
                proxy,
            );
    }
    routes
}

/// The methods the proxy forwards (HEAD rides along with GET).
pub const PROXY_METHODS: [Method; 5] = [GET, POST, PUT, PATCH, DELETE];

/// Splits `/v1/connections/{id}/proxy{/rest}` into the id and the rest, still percent-encoded.
fn split(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v1/connections/")?;
    let (id, rest) = rest.split_once('/')?;
    let tail = rest.strip_prefix("proxy")?;
    (tail.is_empty() || tail.starts_with('/')).then_some((id, tail))
}

/// Sends the request to the connection's provider API with the connection's credential and
/// answers with the provider's status, headers and body. The caller's own `Authorization` is
/// never forwarded; paths that would leave the provider's base URL get a 400.
#[utoipa::path(get, path = "/v1/connections/{id}/proxy/{path}", tag = "connections",
    params(("id" = String, Path), ("path" = String, Path, description = "provider API path; any method is accepted")),
    responses((status = 200, description = "the provider's answer, streamed"), (status = 400, description = "path escapes the base URL"),
        (status = 403), (status = 404), (status = 409, description = "connection not enabled"), (status = 502)),
    security(("bearer" = [])))]
pub async fn proxy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let (id, path) = split(parts.uri.path())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route"))?;
    let length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    // HTTP/2 bodies may come without a length or chunking: only the stream says it is empty.
    let body = match length {
        Some(0) => ProxyBody::Empty,
        Some(n) if n <= REPLAYABLE_BODY && !chunked => {
            let bytes = axum::body::to_bytes(body, n as usize).await.map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
            })?;
            ProxyBody::Buffered(bytes)
        }
        None if !chunked && axum::body::HttpBody::is_end_stream(&body) => ProxyBody::Empty,
        _ => ProxyBody::Stream(Box::pin(
            body.into_data_stream()
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
        )),
    };
    let request = ProxyRequest {
        method: parts.method.clone(),
        path: path.to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body,
    };
    let upstream = state.engine.proxy().proxy(&caller, id, request).await?;
    let mut out = Response::builder().status(upstream.status());
    if let Some(headers) = out.headers_mut() {
        *headers = end_to_end(upstream.headers());
    }
    out.body(Body::from_stream(answer_stream(
        state.engine.proxy(),
        upstream,
    )))
    .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "bad_gateway", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_the_connection_and_the_provider_path() {
        assert_eq!(
            split("/v1/connections/conn_1/proxy/user/repos"),
            Some(("conn_1", "/user/repos"))
        );
        assert_eq!(split("/v1/connections/conn_1/proxy"), Some(("conn_1", "")));
        assert_eq!(split("/v1/connections/conn_1/proxyx"), None);
        assert_eq!(split("/v1/other"), None);
    }
}
