//! Request helpers: repeatable query parameters, JSON bodies, opaque page and sync tokens,
//! and plain answers.

use super::routes::{Answer, ApiError};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Query parameters in order, repeats kept (`eventTypes=default&eventTypes=focusTime`).
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

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty())
    }

    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") | Some("") => Ok(true),
            Some(v) => Err(ApiError::invalid_parameter(
                name,
                format!("Invalid boolean value: '{v}'."),
            )),
        }
    }

    /// `maxResults` between 1 and `max` (larger values are capped, as Google does).
    pub fn max_results(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get("maxResults") {
            None | Some("") => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 1 => Ok((n as usize).min(max)),
                _ => Err(ApiError::invalid_parameter(
                    "maxResults",
                    format!("Invalid value '{v}'. Values must be within the range: [1, {max}]"),
                )),
            },
        }
    }

    /// An RFC 3339 date-time with an offset, as `timeMin`, `timeMax` and `updatedMin` are.
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => DateTime::parse_from_rfc3339(v)
                .map(|t| Some(t.to_utc()))
                .map_err(|_| ApiError::invalid_parameter(name, "Bad Request")),
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
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "parseError", "Parse Error"))
}

/// Opaque to clients: base64url of `kind:fields…`.
pub fn token(kind: char, fields: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{}", fields.join("\u{1f}")))
}

/// The fields of a token of `kind`, `None` when it is not one.
pub fn read_token(token: &str, kind: char) -> Option<Vec<String>> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let rest = text.strip_prefix(kind)?.strip_prefix(':')?;
    Some(rest.split('\u{1f}').map(str::to_string).collect())
}

pub fn ok(value: Value) -> Answer {
    Ok(Json(value).into_response())
}

pub fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}
