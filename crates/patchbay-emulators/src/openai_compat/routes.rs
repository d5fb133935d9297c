//! HTTP routes of the OpenAI-compatible emulator.

use super::Api;
use crate::faults::{self, Faults};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

type App = State<Arc<Api>>;

/// An error answer in OpenAI's shape.
pub struct ApiError {
    status: StatusCode,
    message: String,
    code: Option<&'static str>,
    param: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = error_body(self.status, &self.message);
        body["error"]["code"] = json!(self.code);
        body["error"]["param"] = json!(self.param);
        (self.status, Json(body)).into_response()
    }
}

/// `{"error": {"message", "type", "param", "code"}}` with OpenAI's types per status.
pub fn error_body(status: StatusCode, message: &str) -> Value {
    let (kind, code) = match status.as_u16() {
        401 => ("invalid_request_error", Value::Null),
        429 => ("requests", json!("rate_limit_exceeded")),
        500.. => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
        code: None,
        param: None,
    }
}

pub fn router(api: Arc<Api>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{*model}", get(get_model))
        .route("/v1/chat/completions", post(chat_completion))
        .fallback(|method: Method, uri: Uri| async move {
            error(
                StatusCode::NOT_FOUND,
                format!("Invalid URL ({method} {})", uri.path()),
            )
        })
        .with_state(api.clone())
        .layer(from_fn_with_state(api, authenticate))
        .layer(from_fn_with_state(faults, faults::apply))
}

async fn authenticate(State(api): App, req: Request, next: Next) -> Response {
    if api.take_garbage() {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Sign in to continue</body></html>",
        )
            .into_response();
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(key) if key == api.config.api_key => next.run(req).await,
        // Like OpenAI, but without quoting any part of the key back.
        Some(_) => ApiError {
            code: Some("invalid_api_key"),
            ..error(StatusCode::UNAUTHORIZED, "Incorrect API key provided.")
        }
        .into_response(),
        None => error(
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
        .into_response(),
    }
}

/// A fixed creation time, so answers are the same on every run.
const CREATED: i64 = 1_704_067_200;

fn model(api: &Api, id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": api.config.owned_by})
}

fn model_not_found(id: &str) -> ApiError {
    ApiError {
        code: Some("model_not_found"),
        param: Some("model"),
        ..error(
            StatusCode::NOT_FOUND,
            format!("The model `{id}` does not exist or you do not have access to it."),
        )
    }
}

async fn list_models(State(api): App) -> Json<Value> {
    let data: Vec<Value> = api.config.models.iter().map(|m| model(&api, m)).collect();
    Json(json!({"object": "list", "data": data}))
}

async fn get_model(State(api): App, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if api.config.models.contains(&id) {
        Ok(Json(model(&api, &id)))
    } else {
        Err(model_not_found(&id))
    }
}

/// The text of a message's `content`: a string, or an array of `{"type": "text", "text"}`.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Whitespace-separated words: a stand-in for tokens that is stable and easy to predict.
fn tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn invalid(param: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        param: Some(param),
        ..error(StatusCode::BAD_REQUEST, message)
    }
}

async fn chat_completion(
    State(api): App,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("We could not parse the JSON body of your request. ({e})"),
        )
    })?;
    let model_id = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("model", "you must provide a model parameter"))?;
    if !api.config.models.iter().any(|m| m == model_id) {
        return Err(model_not_found(model_id));
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages", "'messages' must be a non-empty array"))?;
    if messages
        .iter()
        .any(|m| m.get("role").and_then(Value::as_str).is_none())
    {
        return Err(invalid("messages", "every message needs a 'role'"));
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(invalid(
            "stream",
            "streaming is not supported by this emulator",
        ));
    }
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    let reply = format!("Echo: {last_user}");
    let prompt_tokens: u64 = messages
        .iter()
        .map(|m| tokens(&text_of(&m["content"])))
        .sum();
    let completion_tokens = tokens(&reply);
    let n = api.completions.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Json(json!({
        "id": format!("chatcmpl-emu{n:06}"),
        "object": "chat.completion",
        "created": CREATED + n as i64,
        "model": model_id,
        "system_fingerprint": "fp_emulator",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    })))
}
