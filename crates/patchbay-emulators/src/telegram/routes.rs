//! HTTP side of the Bot API emulator: the token in the path, parameters from the query string,
//! a form, JSON or multipart (as Telegram accepts them all), `{"ok": …}` answers, injected
//! 429s with `parameters.retry_after`, and file downloads.

use super::{methods, updates, Bots};
use crate::faults::{self, Faults};
use axum::body::{to_bytes, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Telegram takes uploads up to 50 MB from bots.
const MAX_UPLOAD: usize = 50 * 1024 * 1024;

pub fn router(state: Arc<Bots>, faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/{bot}/{method}", get(call).post(call))
        .route("/file/{bot}/{*path}", get(download))
        .route("/_emulator/{bot}/push", post(updates::dev_push))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
        .layer(from_fn_with_state(faults, faults::apply))
        .with_state(state)
}

/// A Bot API error: `{"ok": false, "error_code", "description", "parameters"?}`.
#[derive(Debug)]
pub struct ApiError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A 400 with Telegram's `Bad Request: ` prefix.
    pub fn bad(what: impl std::fmt::Display) -> Self {
        ApiError {
            code: 400,
            description: format!("Bad Request: {what}"),
            retry_after: None,
        }
    }

    fn unauthorized() -> Self {
        ApiError {
            code: 401,
            description: "Unauthorized".into(),
            retry_after: None,
        }
    }

    fn not_found() -> Self {
        ApiError {
            code: 404,
            description: "Not Found".into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body =
            json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(wait) = self.retry_after {
            body["parameters"] = json!({"retry_after": wait});
        }
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(body)).into_response()
    }
}

/// Body of injected faults in Telegram's shape.
pub fn fault_body(status: StatusCode, message: &str) -> Value {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": message});
    if status == StatusCode::TOO_MANY_REQUESTS {
        body["description"] = "Too Many Requests: retry after 1".into();
        body["parameters"] = json!({"retry_after": 1});
    }
    body
}

/// A file sent in a multipart body.
#[derive(Debug, Clone)]
pub struct Upload {
    pub bytes: Vec<u8>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

/// A method's parameters, wherever they came from. Form and query values are strings;
/// structured ones (`reply_markup`, `commands`) are JSON inside them.
#[derive(Debug, Default)]
pub struct Params {
    values: Map<String, Value>,
    files: BTreeMap<String, Upload>,
}

/// An `InputFile` parameter: an upload, or a string naming a `file_id` or a URL.
pub enum InputFile {
    Upload(Upload),
    Named(String),
}

impl Params {
    pub fn str(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::bad(format!("invalid {name} specified"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("invalid {name} specified"))),
            Some(_) => Err(ApiError::bad(format!("invalid {name} specified"))),
        }
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.str(name).as_deref(), Some("true" | "True" | "1"))
    }

    /// A structured parameter, sent as JSON or as JSON text.
    pub fn json(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad(format!("can't parse {name} JSON object"))),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    pub fn file(&self, name: &str) -> Option<InputFile> {
        if let Some(upload) = self.files.get(name) {
            return Some(InputFile::Upload(upload.clone()));
        }
        let named = self.str(name)?;
        match named.strip_prefix("attach://") {
            Some(part) => self.files.get(part).cloned().map(InputFile::Upload),
            None => Some(InputFile::Named(named)),
        }
    }

    /// Puts a fetched URL's bytes in place of the URL.
    fn set_upload(&mut self, name: &str, upload: Upload) {
        self.values.remove(name);
        self.files.insert(name.to_string(), upload);
    }
}

async fn read_params(req: Request) -> Result<Params, ApiError> {
    let mut params = Params::default();
    if let Some(query) = req.uri().query() {
        for (k, v) in url_pairs(query.as_bytes()) {
            params.values.insert(k, Value::String(v));
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad(format!("can't parse multipart body: {e}")))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad(format!("can't parse multipart body: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiError::bad(format!("can't read multipart part: {e}")))?;
            if filename.is_some() {
                let upload = Upload {
                    bytes: bytes.to_vec(),
                    filename,
                    content_type,
                };
                params.files.insert(name, upload);
            } else {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                params.values.insert(name, Value::String(text));
            }
        }
        return Ok(params);
    }
    let body: Bytes = to_bytes(req.into_body(), MAX_UPLOAD)
        .await
        .map_err(|_| ApiError::bad("request body is too large"))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| ApiError::bad("can't parse JSON request body"))?;
        let Value::Object(map) = value else {
            return Err(ApiError::bad("request body must be a JSON object"));
        };
        params.values.extend(map);
    } else {
        for (k, v) in url_pairs(&body) {
            params.values.insert(k, Value::String(v));
        }
    }
    Ok(params)
}

fn url_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

/// The token in `bot{token}`, if the bot exists.
fn token_of(bots: &Bots, segment: &str) -> Result<String, ApiError> {
    let token = segment
        .strip_prefix("bot")
        .ok_or_else(ApiError::not_found)?;
    if bots.all().contains_key(token) {
        Ok(token.to_string())
    } else {
        Err(ApiError::unauthorized())
    }
}

async fn call(
    State(bots): State<Arc<Bots>>,
    Path((bot, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    match answer(&bots, &bot, &method, req).await {
        Ok((result, description)) => {
            let mut body = json!({"ok": true, "result": result});
            if let Some(d) = description {
                body["description"] = d.into();
            }
            Json(body).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn answer(
    bots: &Bots,
    bot: &str,
    method: &str,
    req: Request,
) -> Result<(Value, Option<&'static str>), ApiError> {
    let token = token_of(bots, bot)?;
    let method = method.to_ascii_lowercase();
    bots.with_bot(&token, |b| b.calls.push(method.clone()));
    if let Some(wait) = bots.take_flood() {
        return Err(ApiError {
            code: 429,
            description: format!("Too Many Requests: retry after {wait}"),
            retry_after: Some(wait),
        });
    }
    let mut params = read_params(req).await?;
    // Telegram downloads a photo or document given by URL itself.
    for field in ["photo", "document"] {
        if let Some(InputFile::Named(url)) = params.file(field) {
            if url.starts_with("http://") || url.starts_with("https://") {
                let upload = fetch(bots, &url).await?;
                params.set_upload(field, upload);
            }
        }
    }
    bots.with_bot(&token, |b| methods::dispatch(b, &method, &params))
        .ok_or_else(ApiError::unauthorized)?
}

async fn fetch(bots: &Bots, url: &str) -> Result<Upload, ApiError> {
    let failed = || ApiError::bad("wrong file identifier/HTTP URL specified");
    let resp = bots.http.get(url).send().await.map_err(|_| failed())?;
    if !resp.status().is_success() {
        return Err(failed());
    }
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let filename = url.rsplit('/').next().map(str::to_string);
    let bytes = resp.bytes().await.map_err(|_| failed())?;
    Ok(Upload {
        bytes: bytes.to_vec(),
        filename,
        content_type,
    })
}

async fn download(
    State(bots): State<Arc<Bots>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    let token = match token_of(&bots, &bot) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let found = bots
        .with_bot(&token, |b| {
            b.files
                .values()
                .find(|f| f.file_path == path)
                .map(|f| f.bytes.clone())
        })
        .flatten();
    match found {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        None => ApiError::not_found().into_response(),
    }
}
