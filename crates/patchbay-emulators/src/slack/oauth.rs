//! OAuth v2 as Slack documents it ("Installing with OAuth"): `GET /oauth/v2/authorize` with
//! `client_id`, `scope` (bot scopes), `user_scope`, `redirect_uri` and `state` sends the
//! browser back with a `code` (approved by the installer, no consent page) or
//! `error=access_denied`; `oauth.v2.access` trades the code, with the client's credentials
//! in the body or HTTP Basic, for a bot token and, when user scopes were asked, a user token
//! under `authed_user`. Failures are `ok: false` with status 200, as everywhere in Slack.

use super::routes::{Answer, Args, SlackError};
use super::{
    Code, Slack, Token, Workspace, APP_ID, BOT_USER, CLIENT_ID, CLIENT_SECRET, INSTALLER, TEAM_ID,
    TEAM_NAME,
};
use crate::oauth2::form::{append_query, basic_credentials};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use rand::RngCore;
use serde_json::{json, Value};
use std::sync::Arc;

fn random(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a token for `user` (the bot user gets `xoxb-`, people `xoxp-`).
pub fn issue(ws: &mut Workspace, user: &str, scopes: &str) -> String {
    let is_bot = user == BOT_USER;
    let token = format!(
        "{}-{}-{}-{}",
        if is_bot { "xoxb" } else { "xoxp" },
        &random(6)[..10],
        &random(6)[..10],
        random(12)
    );
    ws.tokens.insert(
        token.clone(),
        Token {
            user: user.into(),
            scopes: scopes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            is_bot,
            revoked: false,
        },
    );
    token
}

fn page(status: StatusCode, text: &str) -> Response {
    let body = format!("<!doctype html><title>Slack</title><h1>Slack</h1><p>{text}</p>");
    (status, Html(body)).into_response()
}

pub async fn authorize(State(slack): State<Arc<Slack>>, RawQuery(query): RawQuery) -> Response {
    let args: Value = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let arg = |k: &str| args[k].as_str().unwrap_or_default().to_string();
    if arg("client_id") != CLIENT_ID {
        return page(StatusCode::BAD_REQUEST, "Invalid client_id parameter");
    }
    let redirect = arg("redirect_uri");
    if redirect.is_empty() || url::Url::parse(&redirect).is_err() {
        return page(
            StatusCode::BAD_REQUEST,
            "redirect_uri did not match any configured URIs",
        );
    }
    let (scope, user_scope) = (arg("scope"), arg("user_scope"));
    if scope.is_empty() && user_scope.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "Invalid permissions requested: no scopes",
        );
    }
    let state = arg("state");
    let mut ws = slack.ws();
    let to = if std::mem::take(&mut ws.deny_next) {
        append_query(&redirect, &[("error", "access_denied"), ("state", &state)])
    } else {
        let code = format!("{}.{}", &random(8), &random(8));
        ws.codes.insert(
            code.clone(),
            Code {
                redirect_uri: Some(redirect.clone()),
                scope,
                user_scope,
            },
        );
        append_query(&redirect, &[("code", &code), ("state", &state)])
    };
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

pub fn access(slack: &Slack, headers: &HeaderMap, args: &Args) -> Answer {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => (
            args.str("client_id").unwrap_or_default(),
            args.str("client_secret").unwrap_or_default(),
        ),
    };
    if id != CLIENT_ID {
        return Err(SlackError("invalid_client_id"));
    }
    if secret != CLIENT_SECRET {
        return Err(SlackError("bad_client_secret"));
    }
    let mut ws = slack.ws();
    let code = args.str("code").ok_or(SlackError("invalid_code"))?;
    let grant = ws.codes.remove(&code).ok_or(SlackError("invalid_code"))?;
    if let (Some(expected), Some(given)) = (&grant.redirect_uri, args.str("redirect_uri")) {
        if *expected != given {
            return Err(SlackError("bad_redirect_uri"));
        }
    }
    let mut answer = json!({
        "app_id": APP_ID, "team": {"id": TEAM_ID, "name": TEAM_NAME}, "enterprise": null,
        "is_enterprise_install": false,
        "authed_user": {"id": INSTALLER}
    });
    if !grant.scope.is_empty() {
        let bot = issue(&mut ws, BOT_USER, &grant.scope);
        answer["access_token"] = json!(bot);
        answer["token_type"] = json!("bot");
        answer["scope"] = json!(grant.scope);
        answer["bot_user_id"] = json!(BOT_USER);
    }
    if !grant.user_scope.is_empty() {
        let user = issue(&mut ws, INSTALLER, &grant.user_scope);
        answer["authed_user"] = json!({"id": INSTALLER, "scope": grant.user_scope,
            "access_token": user, "token_type": "user"});
    }
    Ok(answer)
}
