//! Calls to the Bot API: `{base}/bot{token}/{method}` with JSON or multipart bodies, answers
//! `{"ok": true, "result": …}`, errors `{"ok": false, "error_code", "description",
//! "parameters": {"retry_after"}}`; files at `{base}/file/bot{token}/{file_path}`.
//!
//! The token is part of every URL, so no error leaving this module may carry a URL: messages
//! are scrubbed of the token, and a bot told to wait (429) is not called again before then.

use crate::common::endpoint;
use crate::http::HttpClient;
use crate::providers::Provider;
use futures_util::StreamExt;
use patchbay_core::{ConnectorContext, ConnectorError, Secret};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// The Bot API's address when neither the connection nor the catalog names one.
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

/// The secret holding the bot token.
pub const TOKEN_FIELD: &str = "bot_token";

/// Per bot, the instant before which Telegram asked not to be called (429 `retry_after`).
/// Keyed by the bot id (the token's public prefix), shared by every connection of that bot.
#[derive(Default)]
pub struct Holds(Mutex<HashMap<String, Instant>>);

impl Holds {
    fn check(&self, bot: &str) -> Result<(), ConnectorError> {
        let holds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match holds.get(bot) {
            Some(until) if *until > Instant::now() => Err(ConnectorError::RateLimited {
                retry_after_secs: Some(
                    until
                        .saturating_duration_since(Instant::now())
                        .as_secs_f64()
                        .ceil() as u64,
                ),
            }),
            _ => Ok(()),
        }
    }

    fn hold(&self, bot: &str, secs: u64) {
        let until = Instant::now() + Duration::from_secs(secs);
        let mut holds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        holds.retain(|_, t| *t > Instant::now());
        holds.insert(bot.to_string(), until);
    }
}

pub struct Api<'a> {
    http: &'a HttpClient,
    base: Url,
    token: &'a Secret,
    holds: &'a Holds,
}

impl<'a> Api<'a> {
    pub fn new(
        http: &'a HttpClient,
        ctx: &'a ConnectorContext,
        provider: Option<&Provider>,
        holds: &'a Holds,
    ) -> Result<Self, ConnectorError> {
        let base = crate::common::provider_api_base(ctx, provider, DEFAULT_API_BASE, "Telegram")?;
        let token = ctx.secret(TOKEN_FIELD)?;
        if !token_shape_ok(token.expose()) {
            return Err(ConnectorError::Config(
                "the bot token is not of the form <bot id>:<secret>".into(),
            ));
        }
        Ok(Api {
            http,
            base,
            token,
            holds,
        })
    }

    /// The bot's id: the token's part before the colon, which Telegram shows publicly.
    pub fn bot_id(&self) -> &str {
        self.token.expose().split(':').next().unwrap_or_default()
    }

    fn url(&self, prefix: Option<&str>, rest: &[&str]) -> Url {
        let bot = format!("bot{}", self.token.expose());
        let mut segments: Vec<&str> = prefix.into_iter().collect();
        segments.push(&bot);
        segments.extend_from_slice(rest);
        endpoint(&self.base, &segments)
    }

    /// Replaces the token in a message (reqwest names the URL in its errors).
    fn scrub(&self, e: ConnectorError) -> ConnectorError {
        let t = self.token.expose();
        let s = |m: String| m.replace(t, "[redacted]");
        match e {
            ConnectorError::Network(m) => ConnectorError::Network(s(m)),
            ConnectorError::BadResponse(m) => ConnectorError::BadResponse(s(m)),
            ConnectorError::Config(m) => ConnectorError::Config(s(m)),
            ConnectorError::NotFound(m) => ConnectorError::NotFound(s(m)),
            ConnectorError::Provider { status, message } => ConnectorError::Provider {
                status,
                message: s(message),
            },
            ConnectorError::Unauthorized { status, message } => ConnectorError::Unauthorized {
                status,
                message: s(message),
            },
            other => other,
        }
    }

    /// Calls `method` with JSON `params`; the answer's `result`.
    pub async fn call(&self, method: &str, params: &Value) -> Result<Value, ConnectorError> {
        let req = self
            .http
            .request_url(Method::POST, self.url(None, &[method]))?
            .json(params);
        self.send(req).await
    }

    /// Calls `method` with a multipart body (file uploads).
    pub async fn call_multipart(
        &self,
        method: &str,
        form: reqwest::multipart::Form,
    ) -> Result<Value, ConnectorError> {
        let req = self
            .http
            .request_url(Method::POST, self.url(None, &[method]))?
            .multipart(form);
        self.send(req).await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ConnectorError> {
        let bot = self.bot_id().to_string();
        self.holds.check(&bot)?;
        let (status, headers, body) = self.http.send_raw(req).await.map_err(|e| self.scrub(e))?;
        let answer: Value = serde_json::from_slice(&body).map_err(|_| {
            ConnectorError::BadResponse(format!("the Bot API answered {status} without JSON"))
        })?;
        if answer["ok"] == true {
            return Ok(answer.get("result").cloned().unwrap_or(Value::Null));
        }
        let code = answer["error_code"]
            .as_u64()
            .map(|c| c as u16)
            .unwrap_or(status);
        let message = answer["description"]
            .as_str()
            .unwrap_or("the Bot API refused the call")
            .to_string();
        let error = match code {
            429 => {
                let wait = answer
                    .pointer("/parameters/retry_after")
                    .and_then(Value::as_u64)
                    .or_else(|| {
                        headers
                            .get(reqwest::header::RETRY_AFTER)?
                            .to_str()
                            .ok()?
                            .parse()
                            .ok()
                    });
                self.holds.hold(&bot, wait.unwrap_or(1));
                ConnectorError::RateLimited {
                    retry_after_secs: wait,
                }
            }
            401 => ConnectorError::Unauthorized {
                status: code,
                message,
            },
            404 => ConnectorError::NotFound(message),
            _ => ConnectorError::Provider {
                status: code,
                message,
            },
        };
        Err(self.scrub(error))
    }

    /// Downloads a file `getFile` named, refusing more than `limit` bytes.
    pub async fn download(&self, file_path: &str, limit: u64) -> Result<Vec<u8>, ConnectorError> {
        let bot = self.bot_id().to_string();
        self.holds.check(&bot)?;
        let parts: Vec<&str> = file_path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.contains(&"..") {
            return Err(ConnectorError::BadResponse(
                "a file path leaves the bot's files".into(),
            ));
        }
        let req = self
            .http
            .request_url(Method::GET, self.url(Some("file"), &parts))?;
        let resp = self.http.send(req).await.map_err(|e| self.scrub(e))?;
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                self.scrub(ConnectorError::Network(format!(
                    "reading a file: {}",
                    e.without_url()
                )))
            })?;
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(ConnectorError::BadResponse(format!(
                    "the file is larger than {limit} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// `<digits>:<A-Za-z0-9_->`, as BotFather issues tokens.
pub fn token_shape_ok(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}
