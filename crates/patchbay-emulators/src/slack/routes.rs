//! HTTP side of the Slack emulator: arguments from the query string, a form or a JSON body
//! (as Slack accepts them), the token from `Authorization: Bearer` or a `token` argument,
//! `{"ok": false, "error"}` answers with status 200, and 429 + `Retry-After` for rate limits.

use super::{methods, oauth, Slack, Workspace};
use crate::faults::{self, Faults};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn router(state: Arc<Slack>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/api/{method}", get(call).post(call))
        .route("/oauth/v2/authorize", get(oauth::authorize))
        .route("/_emulator/say", post(super::events::dev_say))
        .layer(from_fn_with_state(faults, faults::apply))
        .with_state(state)
}

/// Body of injected faults in Slack's shape.
pub fn fault_body(status: StatusCode, _message: &str) -> Value {
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        "ratelimited"
    } else {
        "internal_error"
    };
    json!({"ok": false, "error": error})
}

/// A method's failure: `ok: false` with Slack's error code.
pub struct SlackError(pub &'static str);

pub type Answer = Result<Value, SlackError>;

/// A method's arguments, wherever they came from; form and query values are strings, and
/// structured ones (`blocks`) may be JSON inside them.
#[derive(Debug, Default)]
pub struct Args(pub Map<String, Value>);

impl Args {
    pub fn str(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    pub fn required(&self, name: &str) -> Result<String, SlackError> {
        self.str(name).ok_or(SlackError("invalid_arguments"))
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.0.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => Some(s == "true" || s == "1"),
            Value::Number(n) => Some(n.as_i64() != Some(0)),
            _ => None,
        }
    }

    pub fn limit(&self, default: usize, max: usize) -> usize {
        self.str("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(default)
            .min(max)
    }

    /// A JSON argument given as JSON or as a string holding JSON.
    pub fn json(&self, name: &str) -> Result<Option<Value>, SlackError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| SlackError("invalid_blocks_format")),
            Some(v) => Ok(Some(v.clone())),
        }
    }
}

fn parse_args(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Args, SlackError> {
    let mut map = Map::new();
    let form = |s: &[u8], map: &mut Map<String, Value>| {
        for (k, v) in url::form_urlencoded::parse(s) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    };
    if let Some(q) = query {
        form(q.as_bytes(), &mut map);
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !body.is_empty() {
        if ct.starts_with("application/json") {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(o)) => map.extend(o),
                _ => return Err(SlackError("invalid_json")),
            }
        } else {
            form(body, &mut map);
        }
    }
    Ok(Args(map))
}

fn token_of(headers: &HeaderMap, args: &Args) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
        .or_else(|| args.str("token"))
}

fn ratelimited(retry_after: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after.to_string())],
        Json(json!({"ok": false, "error": "ratelimited"})),
    )
        .into_response()
}

/// A 429 due: injected for this method, or past its tier this minute.
fn rate_check(ws: &mut Workspace, token: &str, method: &str) -> Option<u64> {
    if let Some((left, wait)) = ws.ratelimits.get_mut(method) {
        if *left > 0 {
            *left -= 1;
            return Some(*wait);
        }
    }
    if !ws.enforce_tiers {
        return None;
    }
    let per_minute = match methods::tier(method) {
        1 => 1,
        2 => 20,
        3 => 50,
        _ => 100,
    };
    let now = chrono::Utc::now().timestamp() as u64;
    let minute = now / 60;
    let slot = ws
        .window
        .entry((token.to_string(), method.to_string()))
        .or_insert((minute, 0));
    if slot.0 != minute {
        *slot = (minute, 0);
    }
    slot.1 += 1;
    (slot.1 > per_minute).then(|| 60 - now % 60)
}

async fn call(
    State(slack): State<Arc<Slack>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = |r: Answer| match r {
        Ok(mut v) => {
            v["ok"] = json!(true);
            Json(v).into_response()
        }
        Err(SlackError(e)) => Json(json!({"ok": false, "error": e})).into_response(),
    };
    let args = match parse_args(query.as_deref(), &headers, &body) {
        Ok(a) => a,
        Err(e) => return answer(Err(e)),
    };
    if method == "oauth.v2.access" {
        return answer(oauth::access(&slack, &headers, &args));
    }
    let mut ws = slack.ws();
    ws.calls.push(method.clone());
    let Some(token) = token_of(&headers, &args) else {
        return answer(Err(SlackError("not_authed")));
    };
    let caller = match ws.tokens.get(&token) {
        None => return answer(Err(SlackError("invalid_auth"))),
        Some(t) if t.revoked => return answer(Err(SlackError("token_revoked"))),
        Some(t) => t.clone(),
    };
    if let Some(wait) = rate_check(&mut ws, &token, &method) {
        return ratelimited(wait);
    }
    if method == "auth.revoke" {
        if args.bool("test") != Some(true) {
            if let Some(t) = ws.tokens.get_mut(&token) {
                t.revoked = true;
            }
        }
        return answer(Ok(json!({"revoked": args.bool("test") != Some(true)})));
    }
    answer(methods::dispatch(&mut ws, &caller, &method, &args))
}
