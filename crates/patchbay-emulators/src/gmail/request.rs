//! Request helpers every resource uses: repeatable query parameters, JSON bodies, page
//! tokens, path parameters and plain answers.

use super::routes::{Answer, ApiError};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// Query parameters in order, repeats kept (`labelIds=A&labelIds=B`).
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        let values = self.0.iter().filter(|(k, _)| k == name);
        values.map(|(_, v)| v.clone()).collect()
    }

    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") | Some("") => Ok(true),
            Some(v) => {
                let message = format!(
                    "Invalid value '{v}'. Values must match the following regular \
                     expression: '(?i)true|false'"
                );
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalidParameter",
                    message,
                ))
            }
        }
    }

    /// `maxResults`: default 100, at most 500 (larger values are capped, as Gmail does).
    pub fn max_results(&self) -> Result<usize, ApiError> {
        match self.get("maxResults") {
            None => Ok(100),
            Some(v) => match v.parse::<u32>() {
                Ok(0) => Ok(100),
                Ok(n) => Ok((n as usize).min(500)),
                Err(_) => Err(ApiError::invalid(format!(
                    "Invalid value at 'max_results' (TYPE_UINT32), \"{v}\""
                ))),
            },
        }
    }
}

/// A JSON request body; an empty body is `{}`.
pub fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Invalid JSON payload received.",
            )
        })
}

/// A list of label ids in a request body field.
pub fn string_list(body: &Value, field: &str) -> Vec<String> {
    let items = body
        .get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

pub fn page_token(kind: char, position: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

/// The position a `pageToken` of `kind` stands for.
pub fn read_page_token(q: &Params, kind: char) -> Result<Option<String>, ApiError> {
    let Some(token) = q.get("pageToken").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let text = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let position = text
        .as_deref()
        .and_then(|t| t.strip_prefix(kind)?.strip_prefix(':'));
    match position {
        Some(p) => Ok(Some(p.to_string())),
        None => Err(ApiError::invalid("Invalid pageToken")),
    }
}

#[derive(serde::Deserialize)]
pub struct IdPath {
    pub id: String,
}

#[derive(serde::Deserialize)]
pub struct AttachmentPath {
    pub id: String,
    pub attachment: String,
}

pub fn ok(value: Value) -> Answer {
    Ok(Json(value).into_response())
}

pub fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}
