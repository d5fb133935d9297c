//! Calls to Slack's Web API: `POST {base}/{method}` with `Authorization: Bearer`, form-encoded
//! or JSON bodies, answers `{"ok": true, …}`. Slack reports failures with HTTP 200 and
//! `{"ok": false, "error": "…"}`, so every answer is checked for `ok` whatever its status.
//!
//! Rate limits: each method belongs to one of Slack's tiers (1–4, per method, per workspace
//! and app); a bucket per connection and tier keeps patchbay under the tier's budget, and a
//! 429's `Retry-After` holds that method until it passes instead of calling again.

use crate::common::{credential_header, endpoint};
use crate::http::HttpClient;
use crate::providers::Provider;
use patchbay_core::{ConnectorContext, ConnectorError, Secret};
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use reqwest::Method;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// Slack's Web API when neither the connection nor the catalog names one.
pub const DEFAULT_API_BASE: &str = "https://slack.com/api";

/// The bot token (`xoxb-`), granted by `oauth.v2.access`.
pub const BOT_TOKEN: &str = "access_token";
/// The user token (`xoxp-`), when user scopes were granted.
pub const USER_TOKEN: &str = "user_token";

/// Calls a minute each tier allows (Slack's documented floors: 1+, 20+, 50+, 100+).
fn tier_per_minute(tier: u8) -> f64 {
    match tier {
        1 => 1.0,
        2 => 20.0,
        3 => 50.0,
        _ => 100.0,
    }
}

/// The tier Slack documents for each method patchbay calls; `chat.*` writes are "special"
/// (about one a second per channel), counted here as tier 4 with Slack's 429s as the guard.
pub fn tier(method: &str) -> u8 {
    match method {
        "users.list" | "conversations.list" | "oauth.v2.access" => 2,
        "conversations.history"
        | "conversations.replies"
        | "conversations.info"
        | "conversations.open"
        | "reactions.add"
        | "chat.update"
        | "chat.delete" => 3,
        "users.info" | "auth.test" => 4,
        _ => 4,
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per connection: a bucket per tier, and the instant before which a method may not be called
/// (a 429's `Retry-After`).
#[derive(Default)]
pub struct Limits {
    buckets: Mutex<HashMap<(String, u8), Bucket>>,
    holds: Mutex<HashMap<(String, String), Instant>>,
}

impl Limits {
    fn check(&self, conn: &str, method: &str) -> Result<(), ConnectorError> {
        let now = Instant::now();
        {
            let holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(until) = holds.get(&(conn.to_string(), method.to_string())) {
                if *until > now {
                    return Err(ConnectorError::RateLimited {
                        retry_after_secs: Some(
                            until.saturating_duration_since(now).as_secs_f64().ceil() as u64,
                        ),
                    });
                }
            }
        }
        let tier = tier(method);
        let per_minute = tier_per_minute(tier);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry((conn.to_string(), tier)).or_insert(Bucket {
            tokens: per_minute,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * per_minute / 60.0;
        b.tokens = (b.tokens + refill).min(per_minute);
        b.at = now;
        if b.tokens < 1.0 {
            let wait = ((1.0 - b.tokens) * 60.0 / per_minute).ceil() as u64;
            return Err(ConnectorError::RateLimited {
                retry_after_secs: Some(wait.max(1)),
            });
        }
        b.tokens -= 1.0;
        Ok(())
    }

    fn hold(&self, conn: &str, method: &str, secs: u64) {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        holds.retain(|_, t| *t > now);
        holds.insert(
            (conn.to_string(), method.to_string()),
            now + Duration::from_secs(secs),
        );
    }
}

/// What an `ok: false` error means to patchbay.
pub fn map_error(error: &str, status: u16, retry_after: Option<u64>) -> ConnectorError {
    let message = format!("Slack answered {error}");
    match error {
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive"
        | "no_permission" | "org_login_required" | "ekm_access_denied" => {
            ConnectorError::Unauthorized {
                status: 401,
                message,
            }
        }
        "ratelimited" | "rate_limited" => ConnectorError::RateLimited {
            retry_after_secs: retry_after,
        },
        "channel_not_found" | "user_not_found" | "message_not_found" | "thread_not_found"
        | "users_not_found" | "no_reaction" | "method_not_found" | "unknown_method" => {
            ConnectorError::NotFound(message)
        }
        "already_reacted" | "already_in_channel" | "name_taken" => ConnectorError::Provider {
            status: 409,
            message,
        },
        "missing_scope"
        | "not_in_channel"
        | "is_archived"
        | "cant_update_message"
        | "cant_delete_message"
        | "edit_window_closed"
        | "restricted_action"
        | "channel_is_archived"
        | "not_allowed_token_type" => ConnectorError::Provider {
            status: 403,
            message,
        },
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => {
            ConnectorError::Provider {
                status: 503,
                message,
            }
        }
        _ if status >= 500 => ConnectorError::Provider { status, message },
        _ => ConnectorError::Provider {
            status: 400,
            message,
        },
    }
}

pub struct Api<'a> {
    http: &'a HttpClient,
    base: Url,
    token: &'a Secret,
    connection: &'a str,
    limits: &'a Limits,
}

impl<'a> Api<'a> {
    /// An API over the bot token (`user: false`) or, when the connection has one, the user
    /// token (`user: true`, falling back to the bot token).
    pub fn new(
        http: &'a HttpClient,
        ctx: &'a ConnectorContext,
        provider: Option<&Provider>,
        limits: &'a Limits,
        user: bool,
    ) -> Result<Self, ConnectorError> {
        let base = crate::common::provider_api_base(ctx, provider, DEFAULT_API_BASE, "Slack")?;
        let token = match (user, ctx.secrets.get(USER_TOKEN)) {
            (true, Some(t)) => t,
            _ => ctx.secret(BOT_TOKEN)?,
        };
        Ok(Api {
            http,
            base,
            token,
            connection: &ctx.connection_id,
            limits,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Calls `method` with a form body (read methods take arguments as a form).
    pub async fn form(&self, method: &str, args: &[(&str, &str)]) -> Result<Value, ConnectorError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(args.iter().copied())
            .finish();
        let req = self
            .http
            .request_url(Method::POST, endpoint(&self.base, &[method]))?
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(method, req).await
    }

    /// Calls `method` with a JSON body (writes whose arguments nest, such as `blocks`).
    pub async fn json(
        &self,
        method: &str,
        args: &Map<String, Value>,
    ) -> Result<Value, ConnectorError> {
        let req = self
            .http
            .request_url(Method::POST, endpoint(&self.base, &[method]))?
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(Value::Object(args.clone()).to_string());
        self.send(method, req).await
    }

    async fn send(
        &self,
        method: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<Value, ConnectorError> {
        self.limits.check(self.connection, method)?;
        let auth = credential_header(&format!("Bearer {}", self.token.expose()))?;
        let (status, headers, body) = self.http.send_raw(req.header(AUTHORIZATION, auth)).await?;
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if status == 429 {
            let wait = retry_after.unwrap_or(1);
            self.limits.hold(self.connection, method, wait);
            return Err(ConnectorError::RateLimited {
                retry_after_secs: Some(wait),
            });
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|_| {
            ConnectorError::BadResponse(format!("Slack answered {status} to {method} without JSON"))
        })?;
        if answer["ok"] == true {
            return Ok(answer);
        }
        let error = answer["error"].as_str().unwrap_or("unknown_error");
        if error == "ratelimited" {
            self.limits
                .hold(self.connection, method, retry_after.unwrap_or(1));
        }
        let mut e = map_error(error, status, retry_after);
        // `missing_scope` names what is needed; say it.
        if let (ConnectorError::Provider { message, .. }, Some(needed)) =
            (&mut e, answer["needed"].as_str())
        {
            message.push_str(&format!(" (needs {needed})"));
        }
        Err(e)
    }

    /// Every item of a cursor-paged list, following `response_metadata.next_cursor` up to
    /// `max_pages`.
    pub async fn all(
        &self,
        method: &str,
        field: &str,
        args: &[(&str, &str)],
        max_pages: usize,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..max_pages {
            let mut a = args.to_vec();
            if let Some(c) = cursor.as_deref() {
                a.push(("cursor", c));
            }
            let page = self.form(method, &a).await?;
            out.extend(page[field].as_array().cloned().unwrap_or_default());
            match next_cursor(&page) {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }
}

/// `response_metadata.next_cursor`, when there is another page.
pub fn next_cursor(answer: &Value) -> Option<String> {
    answer
        .pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_what_they_mean() {
        for e in ["invalid_auth", "token_revoked", "account_inactive"] {
            assert!(matches!(
                map_error(e, 200, None),
                ConnectorError::Unauthorized { .. }
            ));
        }
        assert!(matches!(
            map_error("ratelimited", 429, Some(7)),
            ConnectorError::RateLimited {
                retry_after_secs: Some(7)
            }
        ));
        assert!(matches!(
            map_error("channel_not_found", 200, None),
            ConnectorError::NotFound(_)
        ));
        assert!(matches!(
            map_error("invalid_blocks", 200, None),
            ConnectorError::Provider { status: 400, .. }
        ));
    }

    #[test]
    fn a_tier_bucket_runs_dry_and_a_hold_blocks_its_method_only() {
        let limits = Limits::default();
        for _ in 0..20 {
            limits.check("c", "users.list").unwrap();
        }
        assert!(matches!(
            limits.check("c", "users.list"),
            Err(ConnectorError::RateLimited { .. })
        ));
        // Another connection has its own budget.
        limits.check("d", "users.list").unwrap();
        limits.hold("c", "chat.postMessage", 30);
        assert!(limits.check("c", "chat.postMessage").is_err());
        limits.check("c", "auth.test").unwrap();
    }
}
