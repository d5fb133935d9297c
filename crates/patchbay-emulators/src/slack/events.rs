//! Events API deliveries as Slack sends them: the `event_callback` envelope (`team_id`,
//! `api_app_id`, `event_id`, `event_time`, `authorizations`), posted as JSON to the app's
//! Request URL with `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex
//! HMAC-SHA256(secret, "v0:{ts}:{body}")>`; a redelivery is the same body signed anew with
//! `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`.

use super::{Slack, Workspace, APP_ID, BOT_USER, SIGNING_SECRET, TEAM_ID};
use crate::github::hmac_sha256;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What happened to one delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_id: String,
    /// The receiver's status, or `None` when it could not be reached (or no URL is set).
    pub status: Option<u16>,
    pub body: Vec<u8>,
    pub answer: Vec<u8>,
}

pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> BTreeMap<String, String> {
    let mac = hmac_sha256(
        secret.as_bytes(),
        &[b"v0:", timestamp.to_string().as_bytes(), b":", body].concat(),
    );
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    BTreeMap::from([
        (
            "X-Slack-Request-Timestamp".to_string(),
            timestamp.to_string(),
        ),
        ("X-Slack-Signature".to_string(), format!("v0={hex}")),
    ])
}

pub fn envelope(ws: &mut Workspace, event: Value) -> Value {
    ws.next_event += 1;
    let now = chrono::Utc::now().timestamp();
    json!({
        "token": "emulated-verification-token", "team_id": TEAM_ID, "api_app_id": APP_ID,
        "event": event, "type": "event_callback",
        "event_id": format!("Ev0{:09}", ws.next_event), "event_time": now,
        "authorizations": [{"enterprise_id": null, "team_id": TEAM_ID, "user_id": BOT_USER,
                            "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false,
        "event_context": format!("4-emulated-{}", ws.next_event)
    })
}

pub async fn deliver(slack: &Slack, body: &Value, secret: &str, retry: u32) -> Delivery {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let event_id = body["event_id"].as_str().unwrap_or_default().to_string();
    let url = slack.ws().event_url.clone();
    let Some(url) = url else {
        return Delivery {
            event_id,
            status: None,
            body: bytes,
            answer: Vec::new(),
        };
    };
    let mut req = slack
        .http
        .post(&url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)");
    for (k, v) in sign(secret, chrono::Utc::now().timestamp(), &bytes) {
        req = req.header(k, v);
    }
    if retry > 0 {
        req = req
            .header("X-Slack-Retry-Num", retry.to_string())
            .header("X-Slack-Retry-Reason", "http_timeout");
    }
    match req.body(bytes.clone()).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let answer = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            Delivery {
                event_id,
                status: Some(status),
                body: bytes,
                answer,
            }
        }
        Err(_) => Delivery {
            event_id,
            status: None,
            body: bytes,
            answer: Vec::new(),
        },
    }
}

/// Envelopes of the events a user's message sets off: `message`, and `app_mention` when it
/// mentions the app's bot.
fn message_events(ws: &mut Workspace, channel: &str, m: &Value) -> Vec<Value> {
    let kind = ws.channel(channel).map(|c| {
        if c["is_im"] == true {
            "im"
        } else if c["is_private"] == true {
            "group"
        } else {
            "channel"
        }
    });
    let mut event = m.clone();
    event["channel"] = json!(channel);
    event["event_ts"] = m["ts"].clone();
    event["channel_type"] = json!(kind.unwrap_or("channel"));
    let mut out = vec![envelope(ws, event.clone())];
    if m["text"]
        .as_str()
        .is_some_and(|t| t.contains(&format!("<@{BOT_USER}>")))
    {
        event["type"] = json!("app_mention");
        if let Some(o) = event.as_object_mut() {
            o.remove("channel_type");
        }
        out.push(envelope(ws, event));
    }
    out
}

pub async fn say(
    slack: &Slack,
    channel: &str,
    user: &str,
    text: &str,
    thread_ts: Option<&str>,
) -> (Value, Vec<Delivery>) {
    let (m, envelopes) = {
        let mut ws = slack.ws();
        let m = ws.post(channel, user, json!({"text": text}), thread_ts);
        let envs = message_events(&mut ws, channel, &m);
        (m, envs)
    };
    let mut out = Vec::new();
    for e in &envelopes {
        out.push(deliver(slack, e, SIGNING_SECRET, 0).await);
    }
    (m, out)
}

pub async fn create_channel(slack: &Slack, name: &str, user: &str) -> (Value, Vec<Delivery>) {
    let (c, env) = {
        let mut ws = slack.ws();
        let id = ws.id("C1");
        let mut c = super::channel(&id, name, false, chrono::Utc::now().timestamp());
        c["creator"] = json!(user);
        ws.channels.push(c.clone());
        ws.members.insert(id.clone(), vec![user.to_string()]);
        let event = json!({"type": "channel_created", "channel": {"id": id, "name": name,
            "created": c["created"], "creator": user}, "event_ts": ws.ts()});
        let env = envelope(&mut ws, event);
        (c, env)
    };
    let d = deliver(slack, &env, SIGNING_SECRET, 0).await;
    (c, vec![d])
}

/// `POST /_emulator/say {"channel", "user", "text", "thread_ts"?}`: a person posts, and the
/// events go to the Request URL (set it with `"event_url"` in the same body, once).
pub async fn dev_say(State(slack): State<Arc<Slack>>, Json(body): Json<Value>) -> Response {
    if let Some(url) = body["event_url"].as_str() {
        slack.ws().event_url = Some(url.to_string());
    }
    let (Some(channel), Some(text)) = (body["channel"].as_str(), body["text"].as_str()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"ok": false, "error": "channel and text are required"})),
        )
            .into_response();
    };
    if slack.ws().channel(channel).is_none() {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error": "channel_not_found"})),
        )
            .into_response();
    }
    let user = body["user"].as_str().unwrap_or(super::INSTALLER);
    let (m, deliveries) = say(&slack, channel, user, text, body["thread_ts"].as_str()).await;
    let statuses: Vec<Value> = deliveries
        .iter()
        .map(|d| json!({"event_id": d.event_id, "status": d.status}))
        .collect();
    Json(json!({"ok": true, "message": m, "deliveries": statuses})).into_response()
}
