//! Push notifications: `events.watch` opens a `web_hook` channel on a calendar's events,
//! `channels.stop` closes it. A `sync` message follows the watch at once; each change to
//! the calendar's events sends `exists`, and a removed calendar `not_exists`. Messages are
//! empty POSTs whose `X-Goog-*` headers carry the channel, sent by a background task
//! (never under the store's lock) and retried with backoff while the endpoint refuses them.

use super::request::{json_body, no_content, ok};
use super::routes::{Answer, ApiError, App};
use super::{lock, Calendars};
use crate::EmulatorHandle;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Google retries refused notifications with backoff; bounded here so tests finish.
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const DEFAULT_TTL_SECONDS: i64 = 7 * 86_400;
const MAX_TTL_SECONDS: i64 = 30 * 86_400;
const USER_AGENT: &str =
    "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)";

/// A live notification channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    /// Identifies the watched resource (a calendar's events); the same for every channel on it.
    pub resource_id: String,
    pub resource_uri: String,
    pub token: Option<String>,
    pub address: String,
    /// Epoch milliseconds.
    pub expiration: i64,
    /// The calendar's id (`primary` resolved).
    pub calendar_id: String,
    /// The number of the last message sent on it.
    pub message_number: u64,
}

/// One delivery attempt, as the endpoint answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub channel_id: String,
    pub address: String,
    /// `sync`, `exists` or `not_exists`.
    pub state: String,
    pub message_number: u64,
    /// `None` when the endpoint could not be reached.
    pub status: Option<u16>,
}

/// What the store and the routes ask the delivery task to send.
pub enum Announce {
    /// The calendar's events changed.
    Changed(String),
    /// A channel was just opened.
    Sync(String),
    /// The calendar is gone; its channels close.
    Removed(String),
}

pub type Outbox = mpsc::UnboundedSender<Announce>;

pub struct Push {
    channels: Mutex<BTreeMap<String, Channel>>,
    notifications: Mutex<Vec<Notification>>,
    pub watch_calls: AtomicUsize,
    pub stop_calls: AtomicUsize,
    client: reqwest::Client,
}

impl Default for Push {
    fn default() -> Self {
        // Google writes header names in title case; some receivers compare them so.
        let client = reqwest::Client::builder()
            .http1_title_case_headers()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        Push {
            channels: Mutex::default(),
            notifications: Mutex::default(),
            watch_calls: AtomicUsize::new(0),
            stop_calls: AtomicUsize::new(0),
            client,
        }
    }
}

impl Push {
    /// Numbers the messages for `announce` under the channel lock, then sends each on its own
    /// task.
    fn dispatch(self: &Arc<Self>, announce: Announce) {
        let now = chrono::Utc::now().timestamp_millis();
        let mut channels = lock(&self.channels);
        channels.retain(|_, c| c.expiration > now);
        let (state, targets): (&str, Vec<&mut Channel>) = match &announce {
            Announce::Sync(id) => (
                "sync",
                channels.values_mut().filter(|c| &c.id == id).collect(),
            ),
            Announce::Changed(cal) => (
                "exists",
                channels
                    .values_mut()
                    .filter(|c| &c.calendar_id == cal)
                    .collect(),
            ),
            Announce::Removed(cal) => (
                "not_exists",
                channels
                    .values_mut()
                    .filter(|c| &c.calendar_id == cal)
                    .collect(),
            ),
        };
        for channel in targets {
            channel.message_number += 1;
            tokio::spawn(self.clone().deliver(channel.clone(), state));
        }
        if let Announce::Removed(cal) = &announce {
            channels.retain(|_, c| &c.calendar_id != cal);
        }
    }

    /// POSTs until acknowledged or out of attempts, recording each attempt.
    async fn deliver(self: Arc<Self>, channel: Channel, state: &'static str) {
        let expiration = chrono::DateTime::from_timestamp_millis(channel.expiration)
            .unwrap_or_default()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let mut request = self
                .client
                .post(&channel.address)
                .header(header::USER_AGENT, USER_AGENT)
                .header(header::CONTENT_LENGTH, "0")
                .header("X-Goog-Channel-ID", &channel.id)
                .header("X-Goog-Channel-Expiration", &expiration)
                .header("X-Goog-Resource-ID", &channel.resource_id)
                .header("X-Goog-Resource-URI", &channel.resource_uri)
                .header("X-Goog-Resource-State", state)
                .header("X-Goog-Message-Number", channel.message_number.to_string());
            if let Some(token) = &channel.token {
                request = request.header("X-Goog-Channel-Token", token);
            }
            let status = request.send().await.ok().map(|r| r.status().as_u16());
            lock(&self.notifications).push(Notification {
                channel_id: channel.id.clone(),
                address: channel.address.clone(),
                state: state.to_string(),
                message_number: channel.message_number,
                status,
            });
            if status.is_some_and(|s| [102, 200, 201, 202, 204].contains(&s)) || attempt == ATTEMPTS
            {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

/// Starts the task that sends what the store announces; it ends with the store.
pub fn start(push: Arc<Push>) -> Outbox {
    let (outbox, mut announced) = mpsc::unbounded_channel::<Announce>();
    tokio::spawn(async move {
        while let Some(announce) = announced.recv().await {
            push.dispatch(announce);
        }
    });
    outbox
}

/// Stable per calendar, like Google's opaque resource ids.
fn resource_id(calendar: &str) -> String {
    let digest = Sha256::digest(format!("events:{calendar}").as_bytes());
    URL_SAFE_NO_PAD
        .encode(&digest[..18])
        .replace(['-', '_'], "x")
}

fn address_valid(address: &str) -> bool {
    reqwest::Url::parse(address)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// `POST /calendars/{calendarId}/events/watch`. Plain `http` addresses are accepted too, so
/// tests can listen on loopback.
pub async fn watch(State(app): App, Path(calendar): Path<String>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let text = |name: &str| {
        body[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let id = text("id").ok_or_else(|| ApiError::required("Required channel id."))?;
    let kind = text("type").unwrap_or_default();
    if kind != "web_hook" && kind != "webhook" {
        return Err(ApiError::invalid(format!(
            "Invalid value for: type: {kind}"
        )));
    }
    let address = text("address").ok_or_else(|| ApiError::required("Required address."))?;
    if !address_valid(&address) {
        return Err(ApiError::invalid(format!("Invalid address: {address}")));
    }
    let ttl = &body["params"]["ttl"];
    let ttl = if ttl.is_null() {
        DEFAULT_TTL_SECONDS
    } else {
        let seconds = ttl
            .as_i64()
            .or_else(|| ttl.as_str().and_then(|s| s.parse().ok()));
        let seconds = seconds.filter(|s| *s > 0);
        seconds
            .ok_or_else(|| ApiError::invalid("Invalid ttl value."))?
            .min(MAX_TTL_SECONDS)
    };
    let calendar_id = app.store().calendar(&calendar)?.id.clone();
    let channel = Channel {
        id: id.clone(),
        resource_id: resource_id(&calendar_id),
        resource_uri: format!(
            "https://www.googleapis.com/calendar/v3/calendars/{calendar}/events?alt=json"
        ),
        token: text("token"),
        address,
        expiration: chrono::Utc::now().timestamp_millis() + ttl * 1000,
        calendar_id,
        message_number: 0,
    };
    {
        let mut channels = lock(&app.push.channels);
        if channels.contains_key(&id) {
            let message = format!("Channel id {id} not unique");
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "channelIdNotUnique",
                message,
            ));
        }
        channels.insert(id.clone(), channel.clone());
    }
    app.push.watch_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(outbox) = &app.store().outbox {
        let _ = outbox.send(Announce::Sync(id));
    }
    ok(render(&channel))
}

fn render(channel: &Channel) -> Value {
    let mut out = json!({
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": channel.resource_uri,
        "expiration": channel.expiration.to_string(),
    });
    if let Some(token) = &channel.token {
        out["token"] = token.as_str().into();
    }
    out
}

/// `POST /channels/stop`.
pub async fn stop(State(app): App, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let id = body["id"].as_str().unwrap_or_default();
    let resource = body["resourceId"].as_str();
    let mut channels = lock(&app.push.channels);
    let known = channels
        .get(id)
        .is_some_and(|c| resource.is_none_or(|r| r == c.resource_id));
    if !known {
        let message = format!("Channel '{id}' not found for project 'patchbay-emulator'");
        return Err(ApiError::new(StatusCode::NOT_FOUND, "notFound", message));
    }
    channels.remove(id);
    app.push.stop_calls.fetch_add(1, Ordering::SeqCst);
    no_content()
}

impl EmulatorHandle<Calendars> {
    /// Live channels, by id.
    pub fn channels(&self) -> Vec<Channel> {
        lock(&self.state.push.channels).values().cloned().collect()
    }

    /// Every delivery attempt so far, in the order the endpoints answered.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.state.push.notifications).clone()
    }

    /// Accepted `events.watch` requests.
    pub fn watch_calls(&self) -> usize {
        self.state.push.watch_calls.load(Ordering::SeqCst)
    }

    /// Accepted `channels.stop` requests.
    pub fn stop_calls(&self) -> usize {
        self.state.push.stop_calls.load(Ordering::SeqCst)
    }

    /// Moves a channel's expiration (epoch milliseconds); a past one closes it.
    pub fn set_channel_expiration(&self, id: &str, expiration_ms: i64) {
        if let Some(channel) = lock(&self.state.push.channels).get_mut(id) {
            channel.expiration = expiration_ms;
        }
    }
}
