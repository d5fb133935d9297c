//! What the token and revocation endpoints share: the RFC 6749 5.2 error answer, form
//! bodies and client authentication; and scope parsing.

use super::form::{self, Params};
use super::{ClientAuth, OAuthConfig};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An RFC 6749 5.2 error answer.
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    www_authenticate: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            description: description.into(),
            www_authenticate: None,
        }
    }

    /// 400 with `code`.
    pub fn bad(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    /// Adds a `WWW-Authenticate` header.
    pub fn challenge(mut self, www_authenticate: &str) -> Self {
        self.www_authenticate = Some(www_authenticate.into());
        self
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = (self.status, no_store(), Json(body)).into_response();
        if let Some(value) = self.www_authenticate {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// Token material must not be cached (RFC 6749 5.1).
pub fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// Error bodies for the generic faults.
pub fn error_body(status: StatusCode, message: &str) -> Value {
    let code = match status.as_u16() {
        429 | 503 => "temporarily_unavailable",
        500.. => "server_error",
        _ => "invalid_request",
    };
    json!({"error": code, "error_description": message})
}

/// The form body of a token or revocation request; only form encoding is accepted.
pub fn form_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::bad(
            "invalid_request",
            "request body must be application/x-www-form-urlencoded",
        ));
    }
    std::str::from_utf8(body)
        .ok()
        .and_then(Params::parse)
        .ok_or_else(|| OAuthError::bad("invalid_request", "malformed form body"))
}

pub fn reject_repeats(params: &Params) -> Result<(), OAuthError> {
    match params.first_repeated() {
        Some(name) => Err(OAuthError::bad(
            "invalid_request",
            format!("parameter {name} was sent more than once"),
        )),
        None => Ok(()),
    }
}

/// Checks client credentials per `config.client_auth`; returns the client id.
pub fn authenticate_client(
    config: &OAuthConfig,
    headers: &HeaderMap,
    params: &Params,
) -> Result<String, OAuthError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|_| config.client_auth != ClientAuth::Body)
        .filter(|v| {
            v.trim_start()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("basic "))
        });
    // RFC 6749 5.2: a failed Basic attempt gets 401 and a challenge.
    let unauthorized = |msg: &str| {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", msg)
            .challenge("Basic realm=\"oauth-emulator\"")
    };
    let (id, secret) = match header {
        Some(value) => {
            if params.get("client_secret").is_some() {
                return Err(OAuthError::bad(
                    "invalid_request",
                    "client credentials sent both in the Authorization header and the body",
                ));
            }
            let (id, secret) = form::basic_credentials(value)
                .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(unauthorized(
                    "client_id does not match the Basic credentials",
                ));
            }
            if id != config.client_id || secret != config.client_secret {
                return Err(unauthorized("client authentication failed"));
            }
            return Ok(id);
        }
        None if config.client_auth == ClientAuth::Basic => {
            return Err(unauthorized(
                "client authentication with HTTP Basic is required",
            ));
        }
        None => (params.get("client_id"), params.get("client_secret")),
    };
    let failed = |msg: &str| OAuthError::bad("invalid_client", msg);
    match (id, secret) {
        (Some(id), Some(secret)) if id == config.client_id && secret == config.client_secret => {
            Ok(id.to_string())
        }
        (Some(_), Some(_)) => Err(failed("client authentication failed")),
        _ => Err(failed("client authentication required")),
    }
}

/// Space-delimited scopes (RFC 6749 3.3), de-duplicated in order; `Err` names the first
/// one not supported.
pub fn parse_scope(config: &OAuthConfig, scope: Option<&str>) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        let supported =
            config.scopes_supported.is_empty() || config.scopes_supported.iter().any(|x| x == s);
        if !supported {
            return Err(format!("unsupported scope: {s}"));
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    Ok(scopes)
}
