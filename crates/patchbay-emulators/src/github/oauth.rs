//! GitHub's web application flow for OAuth apps, as documented in "Authorizing OAuth apps":
//! `GET /login/oauth/authorize` redirects back with a `code` (ten minutes, single use) or with
//! `error=access_denied` / `redirect_uri_mismatch`, and `POST /login/oauth/access_token`
//! trades the code for a `gho_` token. GitHub's own habits are kept: the token answer is
//! form-encoded unless JSON is asked for, its failures come with status 200 and an `error`
//! field, granted scopes are joined by commas, and PKCE (S256) is checked when the
//! authorization request carried a challenge. Served at the host root, beside the API (as on
//! GitHub Enterprise Server, where the API lives under `/api/v3`).

use super::{lock, GitHub};
use crate::oauth2::form::{append_query, encode, Params};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an authorization code may be traded (GitHub: ten minutes).
pub const CODE_TTL: Duration = Duration::from_secs(600);
const ERRORS_DOCS: &str = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";
const AUTHORIZE_DOCS: &str =
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors";

/// A registered OAuth app.
struct App {
    secret: String,
    /// The authorization callback URL; `redirect_uri` must be it or a path below it.
    callback: String,
}

struct Code {
    client_id: String,
    redirect_uri: Option<String>,
    scope: String,
    login: String,
    challenge: Option<String>,
    issued: Instant,
}

/// Apps, outstanding codes and the browser's signed-in user.
#[derive(Default)]
pub struct OAuthState {
    apps: HashMap<String, App>,
    codes: HashMap<String, Code>,
    /// Who approves authorization requests; `None` shows the sign-in page instead.
    signed_in: Option<String>,
    deny: bool,
    /// Token requests seen, for tests.
    pub token_requests: u64,
}

impl OAuthState {
    pub fn register(&mut self, client_id: &str, secret: &str, callback: &str) {
        self.apps.insert(
            client_id.into(),
            App {
                secret: secret.into(),
                callback: callback.into(),
            },
        );
    }

    pub fn sign_in(&mut self, login: Option<&str>) {
        self.signed_in = login.map(str::to_string);
    }

    pub fn deny(&mut self, deny: bool) {
        self.deny = deny;
    }
}

pub fn routes(gh: Arc<GitHub>) -> Router {
    Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token))
        .with_state(gh)
}

/// Whether `redirect` is under `callback`: same scheme, host and port, and a path at or below
/// the callback's path (GitHub's rule for OAuth apps).
fn redirect_allowed(callback: &str, redirect: &str) -> bool {
    let split = |u: &str| -> Option<(String, String)> {
        let (scheme, rest) = u.split_once("://")?;
        let rest = rest.split(['?', '#']).next()?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        Some((format!("{scheme}://{host}"), format!("/{path}")))
    };
    match (split(callback), split(redirect)) {
        (Some((origin, path)), Some((r_origin, r_path))) => {
            origin.eq_ignore_ascii_case(&r_origin)
                && (r_path == path
                    || r_path.starts_with(&format!("{}/", path.trim_end_matches('/'))))
        }
        _ => false,
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body =
        format!("<!doctype html><title>{title} · GitHub</title><h1>{title}</h1><p>{text}</p>");
    (status, Html(body)).into_response()
}

async fn authorize(State(gh): State<Arc<GitHub>>, RawQuery(query): RawQuery) -> Response {
    let Some(params) = Params::parse(query.as_deref().unwrap_or("")) else {
        return page(StatusCode::BAD_REQUEST, "Bad request", "Malformed query.");
    };
    let mut oauth = lock(&gh.oauth);
    let Some(client_id) = params.get("client_id") else {
        return page(StatusCode::NOT_FOUND, "Page not found", "No client_id.");
    };
    let Some(app) = oauth.apps.get(client_id) else {
        return page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "Unknown OAuth app.",
        );
    };
    let callback = app.callback.clone();
    let state = params.get("state").unwrap_or("");
    // A mismatched redirect goes back to the registered callback, never to the given URI.
    let redirect = match params.get("redirect_uri") {
        Some(r) if !redirect_allowed(&callback, r) => {
            let to = append_query(
                &callback,
                &[
                    ("error", "redirect_uri_mismatch"),
                    (
                        "error_description",
                        "The redirect_uri MUST match the registered callback URL for this application.",
                    ),
                    ("error_uri", &format!("{AUTHORIZE_DOCS}#redirect-uri-mismatch")),
                    ("state", state),
                ],
            );
            return found(&to);
        }
        Some(r) => r.to_string(),
        None => callback,
    };
    let challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, _) => None,
        (Some(c), Some("S256")) => Some(c.to_string()),
        (Some(_), _) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "code_challenge_method must be S256.",
            )
        }
    };
    let Some(login) = oauth.signed_in.clone() else {
        return page(
            StatusCode::OK,
            "Sign in to GitHub",
            "Sign in to continue to the application.",
        );
    };
    if oauth.deny {
        let to = append_query(
            &redirect,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "The user has denied your application access.",
                ),
                ("error_uri", &format!("{AUTHORIZE_DOCS}#access-denied")),
                ("state", state),
            ],
        );
        return found(&to);
    }
    // GitHub accepts scopes separated by spaces or commas and grants them comma-joined.
    let scope = params
        .get("scope")
        .unwrap_or("")
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    let code = format!("{:020x}", rand::random::<u128>() >> 48);
    oauth.codes.insert(
        code.clone(),
        Code {
            client_id: client_id.to_string(),
            redirect_uri: params.get("redirect_uri").map(str::to_string),
            scope,
            login,
            challenge,
            issued: Instant::now(),
        },
    );
    let mut back = vec![("code", code.as_str())];
    if !state.is_empty() {
        back.push(("state", state));
    }
    found(&append_query(&redirect, &back))
}

fn found(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// The token answer in the format asked for: JSON with `Accept: application/json`, else
/// form-encoded. GitHub answers 200 even for errors.
fn answer(headers: &HeaderMap, fields: &[(&str, &str)]) -> Response {
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if json {
        let map: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        return Json(map).into_response();
    }
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    (
        [(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn failure(headers: &HeaderMap, error: &str, description: &str, anchor: &str) -> Response {
    answer(
        headers,
        &[
            ("error", error),
            ("error_description", description),
            ("error_uri", &format!("{ERRORS_DOCS}#{anchor}")),
        ],
    )
}

async fn access_token(
    State(gh): State<Arc<GitHub>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Parameters may come in the query string or a form or JSON body.
    let text = if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"))
    {
        let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(&body) else {
            return (StatusCode::BAD_REQUEST, "Problems parsing JSON").into_response();
        };
        m.iter()
            .filter_map(|(k, v)| Some(format!("{k}={}", encode(v.as_str()?))))
            .collect::<Vec<_>>()
            .join("&")
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    let joined = [query.unwrap_or_default(), text].join("&");
    let Some(params) = Params::parse(&joined) else {
        return (StatusCode::BAD_REQUEST, "Bad request").into_response();
    };
    let mut oauth = lock(&gh.oauth);
    oauth.token_requests += 1;
    let client_id = params.get("client_id").unwrap_or("");
    let known = oauth
        .apps
        .get(client_id)
        .is_some_and(|a| Some(a.secret.as_str()) == params.get("client_secret"));
    if !known {
        return failure(
            &headers,
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
            "incorrect-client-credentials",
        );
    }
    let bad_code = |h: &HeaderMap| {
        failure(
            h,
            "bad_verification_code",
            "The code passed is incorrect or expired.",
            "bad-verification-code",
        )
    };
    // A code is spent by its first use, whatever the outcome.
    let Some(code) = params.get("code").and_then(|c| oauth.codes.remove(c)) else {
        return bad_code(&headers);
    };
    if code.client_id != client_id || code.issued.elapsed() > CODE_TTL {
        return bad_code(&headers);
    }
    if let (Some(sent), Some(asked)) = (params.get("redirect_uri"), &code.redirect_uri) {
        if sent != asked {
            return failure(
                &headers,
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
                "redirect-uri-mismatch",
            );
        }
    }
    if let Some(challenge) = &code.challenge {
        let verified = params
            .get("code_verifier")
            .is_some_and(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *challenge);
        if !verified {
            return bad_code(&headers);
        }
    }
    drop(oauth);
    let token = format!(
        "gho_{}",
        URL_SAFE_NO_PAD
            .encode(rand::random::<[u8; 27]>())
            .replace(['-', '_'], "0")
    );
    {
        let mut data = gh.data();
        data.user(&code.login);
        data.tokens.insert(token.clone(), code.login.clone());
    }
    answer(
        &headers,
        &[
            ("access_token", &token),
            ("scope", &code.scope),
            ("token_type", "bearer"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::redirect_allowed;

    #[test]
    fn redirects_must_stay_under_the_callback() {
        let cb = "http://127.0.0.1:8080/v1/oauth/callback";
        assert!(redirect_allowed(cb, cb));
        assert!(redirect_allowed(
            cb,
            "http://127.0.0.1:8080/v1/oauth/callback/more?x=1"
        ));
        assert!(!redirect_allowed(
            cb,
            "http://127.0.0.1:8081/v1/oauth/callback"
        ));
        assert!(!redirect_allowed(
            cb,
            "http://evil.example/v1/oauth/callback"
        ));
        assert!(!redirect_allowed(
            cb,
            "http://127.0.0.1:8080/v1/oauth/callbackx"
        ));
        assert!(!redirect_allowed(cb, "http://127.0.0.1:8080/other"));
    }
}
