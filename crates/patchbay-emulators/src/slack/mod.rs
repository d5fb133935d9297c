//! Slack as `slack.com` serves it, from Slack's public API reference: Web API methods at
//! `/api/{method}` taking query strings, form or JSON bodies and `Authorization: Bearer`
//! (or a `token` argument), answering `{"ok": true, …}` or HTTP 200 with `{"ok": false,
//! "error": "…"}`, cursor paging through `response_metadata.next_cursor`, and 429 with
//! `Retry-After` when a method's tier is exceeded or a test injects it (`methods.rs`,
//! `routes.rs`); OAuth v2 (`/oauth/v2/authorize`, `oauth.v2.access` with a bot token and,
//! with user scopes, a user token under `authed_user`) (`oauth.rs`); and Events API
//! deliveries signed as Slack signs them, redelivered with `X-Slack-Retry-Num` (`events.rs`).
//! A dev route lets a person post as a user with curl (`/_emulator/say`).

mod events;
mod methods;
mod oauth;
mod routes;

pub use events::Delivery;

use crate::faults::Faults;
use crate::{lock, EmulatorHandle};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub const TEAM_ID: &str = "T0PATCHBAY";
pub const TEAM_NAME: &str = "Patchbay Demo";
pub const APP_ID: &str = "A0PATCHBAY";
pub const BOT_USER: &str = "U0BOT";
pub const CLIENT_ID: &str = "1000000001.2000000002";
pub const CLIENT_SECRET: &str = "emulated-slack-client-secret-0001";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99emulated01";
/// Every scope the emulator checks, for tokens made outside the OAuth flow.
pub const ALL_SCOPES: &str = "channels:read,channels:history,groups:read,groups:history,im:read,im:history,im:write,mpim:read,mpim:history,chat:write,reactions:write,users:read,users:read.email";
/// The user who approves authorization requests (the "installer").
pub const INSTALLER: &str = "U0ADA";

#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub bind: SocketAddr,
    /// Members added after the seeded ones, for paging (`U1000`, `U1001`, …).
    pub extra_users: usize,
    /// Messages seeded in #general besides its thread.
    pub seeded_messages: usize,
    /// Enforce each method's tier per token and minute (429 with `Retry-After` past it).
    pub enforce_tiers: bool,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            extra_users: 0,
            seeded_messages: 3,
            enforce_tiers: false,
        }
    }
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Token {
    pub user: String,
    pub scopes: Vec<String>,
    pub is_bot: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
struct Code {
    redirect_uri: Option<String>,
    scope: String,
    user_scope: String,
}

/// The workspace, its members, conversations and messages, and the installed app.
pub struct Workspace {
    pub users: Vec<Value>,
    pub channels: Vec<Value>,
    /// Members of each conversation.
    pub members: HashMap<String, Vec<String>>,
    /// Messages per conversation, oldest first (thread replies included).
    pub messages: HashMap<String, Vec<Value>>,
    pub tokens: HashMap<String, Token>,
    codes: HashMap<String, Code>,
    /// Where Events API deliveries go (the app's Request URL).
    pub event_url: Option<String>,
    /// Method names called, in order.
    pub calls: Vec<String>,
    /// Injected 429s per method: (remaining, retry_after).
    ratelimits: HashMap<String, (u32, u64)>,
    /// Calls per (token, method) in the current minute, when tiers are enforced.
    window: HashMap<(String, String), (u64, u32)>,
    enforce_tiers: bool,
    last_ts: (i64, u32),
    next_id: u64,
    next_event: u64,
    pub deny_next: bool,
}

impl Workspace {
    /// A fresh message timestamp, later than any before it.
    fn ts(&mut self) -> String {
        let secs = chrono::Utc::now().timestamp();
        self.last_ts = if secs > self.last_ts.0 {
            (secs, 1)
        } else {
            (self.last_ts.0, self.last_ts.1 + 1)
        };
        format!("{}.{:06}", self.last_ts.0, self.last_ts.1)
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:06}", self.next_id)
    }

    pub fn channel(&self, id: &str) -> Option<&Value> {
        self.channels.iter().find(|c| c["id"] == id)
    }

    fn is_member(&self, channel: &str, user: &str) -> bool {
        self.members
            .get(channel)
            .is_some_and(|m| m.iter().any(|u| u == user))
    }

    /// Stores a message from `user` (a reply when `thread_ts` is set) and returns it.
    fn post(&mut self, channel: &str, user: &str, fields: Value, thread_ts: Option<&str>) -> Value {
        let ts = self.ts();
        let mut m = json!({"type": "message", "user": user, "ts": ts, "team": TEAM_ID});
        if let (Some(o), Value::Object(f)) = (m.as_object_mut(), fields) {
            o.extend(f);
        }
        if user == BOT_USER {
            m["bot_id"] = json!("B0PATCHBAY");
            m["app_id"] = json!(APP_ID);
        }
        if let Some(parent) = thread_ts {
            m["thread_ts"] = json!(parent);
            if let Some(p) = self
                .messages
                .get_mut(channel)
                .and_then(|ms| ms.iter_mut().find(|m| m["ts"] == parent))
            {
                p["thread_ts"] = json!(parent);
                p["reply_count"] = json!(p["reply_count"].as_u64().unwrap_or(0) + 1);
                p["latest_reply"] = json!(ts);
                let mut users: Vec<Value> =
                    p["reply_users"].as_array().cloned().unwrap_or_default();
                if !users.contains(&json!(user)) {
                    users.push(json!(user));
                }
                p["reply_users_count"] = json!(users.len());
                p["reply_users"] = Value::Array(users);
            }
        }
        self.messages
            .entry(channel.to_string())
            .or_default()
            .push(m.clone());
        m
    }
}

fn user(id: &str, name: &str, real: &str, email: &str) -> Value {
    json!({"id": id, "team_id": TEAM_ID, "name": name, "real_name": real, "deleted": false,
           "is_bot": false, "is_admin": false, "tz": "Europe/London", "updated": 1_700_000_000,
           "profile": {"real_name": real, "display_name": name, "email": email}})
}

fn channel(id: &str, name: &str, private: bool, created: i64) -> Value {
    json!({"id": id, "name": name, "is_channel": !private, "is_group": false, "is_im": false,
           "is_mpim": false, "is_private": private, "is_archived": false, "is_general": name == "general",
           "created": created, "creator": INSTALLER, "name_normalized": name,
           "topic": {"value": "", "creator": "", "last_set": 0},
           "purpose": {"value": format!("The #{name} channel"), "creator": "", "last_set": 0}})
}

fn seed(config: &SlackConfig) -> Workspace {
    let mut users = vec![
        user("U0ADA", "ada", "Ada Lovelace", "ada@example.com"),
        user("U0GRACE", "grace", "Grace Hopper", "grace@example.com"),
        user("U0LINUS", "linus", "Linus Torvalds", "linus@example.com"),
    ];
    let mut bot = user(BOT_USER, "patchbay", "patchbay", "");
    bot["is_bot"] = json!(true);
    bot["profile"] = json!({"real_name": "patchbay", "bot_id": "B0PATCHBAY", "api_app_id": APP_ID});
    users.push(bot);
    for i in 0..config.extra_users {
        users.push(user(
            &format!("U{}", 1000 + i),
            &format!("member{i}"),
            &format!("Member {i}"),
            &format!("member{i}@example.com"),
        ));
    }
    let created = chrono::Utc::now().timestamp() - 30 * 86_400;
    let channels = vec![
        channel("C0GENERAL", "general", false, created),
        channel("C0RANDOM", "random", false, created),
        channel("C0SECRET", "secret-plans", true, created),
        channel("C0ANNOUNCE", "announcements", false, created),
    ];
    let everyone: Vec<String> = ["U0ADA", "U0GRACE", "U0LINUS", BOT_USER]
        .map(String::from)
        .into();
    let members = HashMap::from([
        ("C0GENERAL".into(), everyone.clone()),
        ("C0RANDOM".into(), everyone.clone()),
        ("C0SECRET".into(), vec!["U0ADA".into(), BOT_USER.into()]),
        ("C0ANNOUNCE".into(), vec!["U0ADA".into(), "U0GRACE".into()]),
    ]);
    let mut ws = Workspace {
        users,
        channels,
        members,
        messages: HashMap::new(),
        tokens: HashMap::new(),
        codes: HashMap::new(),
        event_url: None,
        calls: Vec::new(),
        ratelimits: HashMap::new(),
        window: HashMap::new(),
        enforce_tiers: config.enforce_tiers,
        // Seeded messages are a day old.
        last_ts: (chrono::Utc::now().timestamp() - 86_400, 0),
        next_id: 0,
        next_event: 0,
        deny_next: false,
    };
    let authors = ["U0ADA", "U0GRACE", "U0LINUS"];
    for i in 0..config.seeded_messages {
        ws.post(
            "C0GENERAL",
            authors[i % 3],
            json!({"text": format!("seeded message {i}")}),
            None,
        );
    }
    let parent = ws.post(
        "C0GENERAL",
        "U0GRACE",
        json!({"text": "a thread to start"}),
        None,
    );
    let parent_ts = parent["ts"].as_str().unwrap_or_default().to_string();
    ws.post(
        "C0GENERAL",
        "U0ADA",
        json!({"text": "first reply"}),
        Some(&parent_ts),
    );
    ws.post(
        "C0RANDOM",
        "U0LINUS",
        json!({"text": "random thoughts"}),
        None,
    );
    ws
}

pub struct Slack {
    ws: Mutex<Workspace>,
    http: reqwest::Client,
}

impl Slack {
    fn ws(&self) -> std::sync::MutexGuard<'_, Workspace> {
        lock(&self.ws)
    }
}

pub type SlackEmulator = EmulatorHandle<Slack>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: SlackConfig) -> std::io::Result<SlackEmulator> {
    let state = Arc::new(Slack {
        ws: Mutex::new(seed(&config)),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?,
    });
    let faults = Faults::new(routes::fault_body);
    let router = routes::router(state.clone(), faults.clone());
    crate::serve(config.bind, router, faults, state).await
}

impl EmulatorHandle<Slack> {
    /// The Web API base (`…/api`), the value for the catalog's `api_base_url`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base_url)
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/v2/authorize", self.base_url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/api/oauth.v2.access", self.base_url)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/api/auth.revoke", self.base_url)
    }

    /// Issues a token directly (as an install would), with comma-separated `scopes`.
    pub fn issue_token(&self, user: &str, scopes: &str) -> String {
        oauth::issue(&mut self.state.ws(), user, scopes)
    }

    /// Registers a token chosen by the caller (a check run from outside the process).
    pub fn add_token(&self, token: &str, user: &str, scopes: &str) {
        self.state.ws().tokens.insert(
            token.to_string(),
            Token {
                user: user.into(),
                scopes: scopes.split(',').map(|s| s.trim().to_string()).collect(),
                is_bot: user == BOT_USER,
                revoked: false,
            },
        );
    }

    pub fn revoke_token(&self, token: &str) {
        if let Some(t) = self.state.ws().tokens.get_mut(token) {
            t.revoked = true;
        }
    }

    /// Every token issued so far (to check none is stored or shown in plaintext).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.ws().tokens.keys().cloned().collect()
    }

    /// The direct conversation of `a` and `b` (opened if need be), without an event.
    pub fn open_dm(&self, a: &str, b: &str) -> String {
        let mut ws = self.state.ws();
        let found = ws.channels.iter().find(|c| {
            c["is_im"] == true && {
                let id = c["id"].as_str().unwrap_or_default();
                ws.is_member(id, a) && ws.is_member(id, b)
            }
        });
        if let Some(c) = found {
            return c["id"].as_str().unwrap_or_default().to_string();
        }
        let id = ws.id("D0");
        ws.channels.push(
            json!({"id": id, "is_im": true, "user": b, "is_org_shared": false,
            "created": chrono::Utc::now().timestamp(), "is_user_deleted": false}),
        );
        ws.members
            .insert(id.clone(), vec![a.to_string(), b.to_string()]);
        id
    }

    /// Whether `token` was issued and not revoked.
    pub fn token_valid(&self, token: &str) -> bool {
        self.state
            .ws()
            .tokens
            .get(token)
            .is_some_and(|t| !t.revoked)
    }

    /// Answers the next `n` calls of `method` with 429, `Retry-After: retry_after` and
    /// `{"ok": false, "error": "ratelimited"}`.
    pub fn rate_limit_method(&self, method: &str, n: u32, retry_after: u64) {
        self.state
            .ws()
            .ratelimits
            .insert(method.to_string(), (n, retry_after));
    }

    /// The next authorization request is refused (`error=access_denied`).
    pub fn deny_next(&self) {
        self.state.ws().deny_next = true;
    }

    /// Method names called, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.ws().calls.clone()
    }

    /// Messages of a conversation, oldest first (replies included).
    pub fn messages(&self, channel: &str) -> Vec<Value> {
        self.state
            .ws()
            .messages
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }

    /// Sets the app's Events API Request URL.
    pub fn set_event_url(&self, url: Option<&str>) {
        self.state.ws().event_url = url.map(str::to_string);
    }

    /// Adds a conversation (an event is not sent; see [`Self::create_channel`]).
    pub fn add_member(&self, channel: &str, user: &str) {
        self.state
            .ws()
            .members
            .entry(channel.to_string())
            .or_default()
            .push(user.to_string());
    }

    /// A user posts in a conversation (a reply with `thread_ts`); the `message` event and,
    /// when the text mentions the app's bot, an `app_mention` go to the Request URL if set.
    pub async fn say(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> (Value, Vec<Delivery>) {
        events::say(&self.state, channel, user, text, thread_ts).await
    }

    /// A channel is created by `user`; `channel_created` goes to the Request URL if set.
    pub async fn create_channel(&self, name: &str, user: &str) -> (Value, Vec<Delivery>) {
        events::create_channel(&self.state, name, user).await
    }

    /// The envelope of an event, as the Events API wraps it (not sent).
    pub fn envelope(&self, event: Value) -> Value {
        events::envelope(&mut self.state.ws(), event)
    }

    /// Sends `body` to the Request URL signed with `secret` (the app's by default), as
    /// attempt `retry` (0: first; later ones carry `X-Slack-Retry-Num`).
    pub async fn deliver(&self, body: &Value, secret: Option<&str>, retry: u32) -> Delivery {
        events::deliver(&self.state, body, secret.unwrap_or(SIGNING_SECRET), retry).await
    }
}

/// The headers Slack signs a delivery with at `timestamp` (seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> BTreeMap<String, String> {
    events::sign(secret, timestamp, body)
}
