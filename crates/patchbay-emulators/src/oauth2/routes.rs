//! HTTP routes of the OAuth emulator: the authorization, revocation and userinfo
//! endpoints. The token endpoint is in `token.rs`.

use super::form::{self, Params};
use super::request::{authenticate_client, form_body, parse_scope, reject_repeats, OAuthError};
use super::{token, AuthServer, Consent, OAuthConfig};
use crate::faults::{self, Faults};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;

pub type App = State<Arc<AuthServer>>;

pub fn router(server: Arc<AuthServer>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/token", post(token::token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/userinfo", get(userinfo))
        .fallback(|| async {
            OAuthError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .with_state(server)
        .layer(from_fn_with_state(faults, faults::apply))
}

/// An S256 code challenge: base64url of a SHA-256 digest, 43 characters (RFC 7636 4.2).
fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Has an RFC 3986 scheme, so the redirect cannot land relative to this server.
fn absolute_uri(uri: &str) -> bool {
    uri.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// The redirect URI to answer with, and whether the request named it; `Err` when the
/// user must be told instead (RFC 6749 4.1.2.1 forbids redirecting then).
fn redirect_uri(config: &OAuthConfig, given: Option<&str>) -> Result<(String, bool), String> {
    match (given, config.redirect_uris.as_slice()) {
        (Some(uri), _) if uri.contains('#') => Err("redirect_uri must not have a fragment".into()),
        (Some(uri), []) if !absolute_uri(uri) => Err("redirect_uri must be an absolute URI".into()),
        (Some(uri), []) => Ok((uri.to_string(), true)),
        (Some(uri), registered) if registered.iter().any(|r| r == uri) => {
            Ok((uri.to_string(), true))
        }
        (Some(_), _) => Err("redirect_uri is not registered for this client".into()),
        (None, [only]) => Ok((only.clone(), false)),
        (None, _) => Err("redirect_uri is required".into()),
    }
}

async fn authorize(State(server): App, RawQuery(query): RawQuery) -> Response {
    let config = &server.config;
    let shown = |msg: &str| OAuthError::bad("invalid_request", msg).into_response();
    let Some(params) = Params::parse(query.as_deref().unwrap_or_default()) else {
        return shown("malformed query string");
    };
    server.store().last_authorize = Some(params.to_map());

    if params.repeated("client_id") || params.repeated("redirect_uri") {
        return shown("client_id and redirect_uri must be sent once");
    }
    match params.get("client_id") {
        None => return shown("client_id is required"),
        Some(id) if id != config.client_id => return shown("unknown client_id"),
        Some(_) => {}
    }
    let (redirect, redirect_given) = match redirect_uri(config, params.get("redirect_uri")) {
        Ok(r) => r,
        Err(msg) => return shown(&msg),
    };

    let state = params.get("state");
    let back = |fields: &[(&str, &str)]| {
        let mut fields = fields.to_vec();
        if let Some(state) = state {
            fields.push(("state", state));
        }
        let location = form::append_query(&redirect, &fields);
        (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
    };
    let error = |code: &str, description: &str| {
        back(&[("error", code), ("error_description", description)])
    };

    if let Some(name) = params.first_repeated() {
        return error(
            "invalid_request",
            &format!("parameter {name} was sent more than once"),
        );
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return error("invalid_request", "response_type is required"),
        // The implicit grant exists, but this client may not use it.
        Some("token") => {
            return error(
                "unauthorized_client",
                "client may not use the implicit grant",
            )
        }
        Some(_) => return error("unsupported_response_type", "only response_type=code"),
    }
    let scopes = match parse_scope(config, params.get("scope")) {
        Ok(s) => s,
        Err(msg) => return error("invalid_scope", &msg),
    };
    let challenge = params.get("code_challenge");
    match (challenge, params.get("code_challenge_method")) {
        (None, Some(_)) => return error("invalid_request", "code_challenge is required"),
        (None, None) if config.require_pkce => {
            return error("invalid_request", "code_challenge is required")
        }
        (None, None) => {}
        // RFC 7636 4.4.1: an unsupported method (the default, plain, included) is refused.
        (Some(_), method) if method != Some("S256") => {
            return error("invalid_request", "code_challenge_method must be S256")
        }
        (Some(c), _) if !valid_challenge(c) => {
            return error("invalid_request", "malformed code_challenge")
        }
        (Some(_), _) => {}
    }

    let mut store = server.store();
    if store.consent == Consent::Deny {
        drop(store);
        return error("access_denied", "the resource owner denied the request");
    }
    let scope = scopes.join(" ");
    let code = store.new_code(
        &config.client_id,
        &redirect,
        redirect_given,
        &scope,
        challenge,
    );
    drop(store);
    back(&[("code", &code)])
}

async fn revoke(
    State(server): App,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let params = form_body(&headers, &body)?;
    reject_repeats(&params)?;
    authenticate_client(&server.config, &headers, &params)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::bad("invalid_request", "token is required"))?;
    // token_type_hint only speeds up lookups (RFC 7009 2.1); every kind is searched anyway.
    let mut store = server.store();
    store.revocations.push(token.to_string());
    store.revoke(token);
    Ok(StatusCode::OK.into_response())
}

async fn userinfo(State(server): App, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        // RFC 6750 3.1: no error code when the request carried no credentials.
        return OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "bearer token required",
        )
        .challenge("Bearer realm=\"oauth-emulator\"")
        .into_response();
    };
    if !server.store().access_token_valid(token) {
        let challenge = "Bearer realm=\"oauth-emulator\", error=\"invalid_token\", \
                         error_description=\"the access token is expired, revoked or unknown\"";
        return OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "invalid access token",
        )
        .challenge(challenge)
        .into_response();
    }
    Json(server.config.userinfo.clone()).into_response()
}
