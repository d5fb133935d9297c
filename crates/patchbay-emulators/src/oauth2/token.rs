//! The token endpoint: authorization code (RFC 6749 4.1.3, PKCE per RFC 7636 4.6),
//! refresh token (RFC 6749 6) and client credentials (RFC 6749 4.4) grants.

use super::form::Params;
use super::request::{
    authenticate_client, form_body, no_store, parse_scope, reject_repeats, OAuthError,
};
use super::routes::App;
use super::store::Issued;
use super::{AuthServer, OAuthConfig, TokenFault};
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub async fn token(server: App, headers: HeaderMap, body: Bytes) -> Response {
    match handle(&server.0, &headers, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(
    server: &AuthServer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let params = form_body(headers, body);
    let grant_type = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("grant_type"))
        .unwrap_or_default()
        .to_string();
    let fault = {
        let mut store = server.store();
        if params.is_ok() {
            *store.token_requests.entry(grant_type.clone()).or_default() += 1;
        }
        store.token_faults.pop_front()
    };
    match fault {
        None => {}
        Some(TokenFault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(TokenFault::InvalidGrant) => {
            return Err(OAuthError::bad("invalid_grant", "injected failure"))
        }
        Some(TokenFault::ServerError) => {
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            return Err(OAuthError::new(status, "server_error", "injected failure"));
        }
        Some(TokenFault::Garbage) => {
            let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
            let content_type = [(header::CONTENT_TYPE, "text/html")];
            return Ok((StatusCode::OK, content_type, html).into_response());
        }
    }
    let params = params?;
    reject_repeats(&params)?;
    let client_id = authenticate_client(&server.config, headers, &params)?;
    let issued = match grant_type.as_str() {
        "authorization_code" => code_grant(server, &client_id, &params)?,
        "refresh_token" => refresh_grant(server, &client_id, &params)?,
        "client_credentials" => client_credentials_grant(server, &client_id, &params)?,
        "" => return Err(OAuthError::bad("invalid_request", "grant_type is required")),
        other => {
            let message = format!("unsupported grant_type: {other}");
            return Err(OAuthError::bad("unsupported_grant_type", message));
        }
    };
    *server.store().tokens_issued.entry(grant_type).or_default() += 1;
    let body = response_body(&server.config, &issued);
    Ok((no_store(), Json(body)).into_response())
}

/// An RFC 6749 5.1 token response, with the configured extra fields on top.
pub fn response_body(config: &OAuthConfig, issued: &Issued) -> Value {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": config.token_type_casing,
        "scope": issued.scope,
    });
    if let Some(ttl) = config.access_token_ttl {
        body["expires_in"] = ttl.as_secs().into();
    }
    if let Some(refresh) = &issued.refresh_token {
        body["refresh_token"] = refresh.clone().into();
    }
    if let (Some(body), Some(extra)) = (body.as_object_mut(), config.extra_token_fields.as_object())
    {
        body.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    body
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .ok_or_else(|| OAuthError::bad("invalid_request", format!("{name} is required")))
}

fn invalid_grant(message: &str) -> OAuthError {
    OAuthError::bad("invalid_grant", message)
}

fn code_grant(server: &AuthServer, client_id: &str, params: &Params) -> Result<Issued, OAuthError> {
    let config = &server.config;
    let code = required(params, "code")?;
    let mut store = server.store();
    let entry = store.take_code(code).map_err(invalid_grant)?;
    if entry.client_id != client_id {
        return Err(invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    match params.get("redirect_uri") {
        Some(uri) if uri != entry.redirect_uri => {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
        }
        None if entry.redirect_given => {
            let message = "redirect_uri is required: the authorization request had one";
            return Err(OAuthError::bad("invalid_request", message));
        }
        _ => {}
    }
    verify_pkce(entry.challenge.as_deref(), params.get("code_verifier"))?;
    let refresh = config.issue_refresh_token.then_some(entry.scope.as_str());
    Ok(store.issue(config, client_id, entry.grant, &entry.scope, refresh))
}

fn verify_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    let (challenge, verifier) = match (challenge, verifier) {
        (None, None) => return Ok(()),
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier sent, but the authorization request had no code_challenge",
            ))
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        (Some(c), Some(v)) => (c, v),
    };
    // RFC 7636 4.1: 43 to 128 unreserved characters.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(invalid_grant("malformed code_verifier"));
    }
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

fn refresh_grant(
    server: &AuthServer,
    client_id: &str,
    params: &Params,
) -> Result<Issued, OAuthError> {
    let config = &server.config;
    let token = required(params, "refresh_token")?;
    let mut store = server.store();
    let refresh = store
        .refresh_token(token)
        .filter(|r| r.client_id == client_id)
        .ok_or_else(|| invalid_grant("refresh token is invalid, expired or revoked"))?;
    // A narrower scope may be asked for, never a wider one (RFC 6749 6).
    let scope = match params.get("scope") {
        None => refresh.scope.clone(),
        Some(asked) => {
            let asked = parse_scope(config, Some(asked))
                .map_err(|m| OAuthError::bad("invalid_scope", m))?;
            let granted: Vec<&str> = refresh.scope.split(' ').collect();
            if let Some(extra) = asked.iter().find(|s| !granted.contains(&s.as_str())) {
                let message = format!("scope {extra} exceeds the original grant");
                return Err(OAuthError::bad("invalid_scope", message));
            }
            asked.join(" ")
        }
    };
    let rotate = config.rotate_refresh_tokens;
    if rotate {
        store.retire_refresh_token(token);
    }
    // A rotated refresh token keeps the original scope (RFC 6749 6).
    let new_refresh = rotate.then_some(refresh.scope.as_str());
    Ok(store.issue(config, client_id, refresh.grant, &scope, new_refresh))
}

fn client_credentials_grant(
    server: &AuthServer,
    client_id: &str,
    params: &Params,
) -> Result<Issued, OAuthError> {
    let config = &server.config;
    let scopes = parse_scope(config, params.get("scope"))
        .map_err(|m| OAuthError::bad("invalid_scope", m))?;
    let mut store = server.store();
    let grant = store.new_grant();
    // No refresh token: the client can simply ask again (RFC 6749 4.4.3).
    Ok(store.issue(config, client_id, grant, &scopes.join(" "), None))
}
