//! Telegram's Bot API as `api.telegram.org` serves it: methods at `/bot{token}/{method}`
//! taking query strings, form, JSON or multipart bodies, `{"ok": …}` answers and errors with
//! `error_code` and `description`, file downloads at `/file/bot{token}/{file_path}`, and the
//! bot's side of webhooks: the handle pushes updates (text, commands, media, edits, button
//! presses) to the URL `setWebhook` registered, with its secret token. HTML messages are
//! checked the way Telegram parses them (`html.rs`). A dev route lets a person push updates
//! with curl (`/_emulator/bot{token}/push`).

mod html;
mod methods;
mod routes;
mod updates;

pub use html::{parse_html, Entity};
pub use updates::{Delivery, Push};

use crate::faults::Faults;
use crate::{lock, EmulatorHandle};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// A bot the emulator knows, by its token.
#[derive(Debug, Clone)]
pub struct BotSeed {
    /// `{id}:{secret part}`, as BotFather hands it out.
    pub token: String,
    pub id: i64,
    pub username: String,
    pub first_name: String,
}

impl BotSeed {
    /// A bot whose token starts with `id`.
    pub fn new(id: i64, username: &str) -> Self {
        BotSeed {
            token: format!("{id}:AAH-emulated-{username}"),
            id,
            username: username.into(),
            first_name: username.trim_end_matches("_bot").replace('_', " "),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub bots: Vec<BotSeed>,
    pub bind: SocketAddr,
}

/// The demo bot's token (dev mode and the README).
pub const DEMO_TOKEN: &str = "7000000001:AAH-patchbay-demo-bot-token-0000000";

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            bots: vec![BotSeed {
                token: DEMO_TOKEN.into(),
                id: 7_000_000_001,
                username: "patchbay_demo_bot".into(),
                first_name: "Patchbay Demo".into(),
            }],
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// What `setWebhook` registered.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub allowed_updates: Option<Vec<String>>,
    pub max_connections: u32,
    pub last_error: Option<String>,
}

/// A stored file: uploaded by the bot or sent by a user.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub file_id: String,
    pub file_unique_id: String,
    pub file_path: String,
    pub bytes: Vec<u8>,
}

/// One bot's state.
#[derive(Debug)]
pub struct Bot {
    pub seed: BotSeed,
    pub webhook: Option<Webhook>,
    pub commands: Vec<Value>,
    /// Messages the bot sent or edited, by `(chat_id, message_id)`.
    pub messages: BTreeMap<(i64, i64), Value>,
    pub answered_callbacks: Vec<Value>,
    /// Callback query ids pushed and not answered yet.
    pub callbacks: std::collections::BTreeSet<String>,
    pub files: BTreeMap<String, StoredFile>,
    /// Method names in the order they were called (successful or not).
    pub calls: Vec<String>,
    next_message_id: i64,
    next_update_id: i64,
    next_file: u64,
}

impl Bot {
    fn new(seed: BotSeed) -> Self {
        Bot {
            seed,
            webhook: None,
            commands: Vec::new(),
            messages: BTreeMap::new(),
            answered_callbacks: Vec::new(),
            callbacks: Default::default(),
            files: BTreeMap::new(),
            calls: Vec::new(),
            next_message_id: 1,
            next_update_id: 500_000_001,
            next_file: 1,
        }
    }

    fn user(&self) -> Value {
        json!({
            "id": self.seed.id, "is_bot": true, "first_name": self.seed.first_name,
            "username": self.seed.username, "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false
        })
    }

    fn message_id(&mut self) -> i64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }

    fn update_id(&mut self) -> i64 {
        let id = self.next_update_id;
        self.next_update_id += 1;
        id
    }

    /// Stores `bytes` under a new file id; `dir` is Telegram's folder (`photos`, `voice`, …).
    fn store_file(&mut self, dir: &str, ext: &str, bytes: Vec<u8>) -> StoredFile {
        let n = self.next_file;
        self.next_file += 1;
        let unique = format!("AQAD{n:04}{:08x}", self.seed.id as u64 & 0xffff_ffff);
        let file = StoredFile {
            file_id: format!(
                "{unique}-{}",
                "BAACAgIAAxkBAAI".to_string() + &n.to_string()
            ),
            file_unique_id: unique,
            file_path: format!("{dir}/file_{n}.{ext}"),
            bytes,
        };
        self.files.insert(file.file_id.clone(), file.clone());
        file
    }
}

/// A 429 to answer with: how many more and the wait it names.
#[derive(Debug, Default)]
struct Flood {
    remaining: u32,
    retry_after: u64,
}

/// Every bot behind a running emulator.
pub struct Bots {
    bots: Mutex<BTreeMap<String, Bot>>,
    flood: Mutex<Flood>,
    http: reqwest::Client,
}

impl Bots {
    fn all(&self) -> MutexGuard<'_, BTreeMap<String, Bot>> {
        lock(&self.bots)
    }

    /// Runs `f` on the bot with `token`, if there is one.
    fn with_bot<T>(&self, token: &str, f: impl FnOnce(&mut Bot) -> T) -> Option<T> {
        self.all().get_mut(token).map(f)
    }

    /// Takes one injected 429, returning the wait it names.
    fn take_flood(&self) -> Option<u64> {
        let mut flood = lock(&self.flood);
        (flood.remaining > 0).then(|| {
            flood.remaining -= 1;
            flood.retry_after
        })
    }
}

pub type TelegramEmulator = EmulatorHandle<Bots>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: TelegramConfig) -> std::io::Result<TelegramEmulator> {
    let bots = config
        .bots
        .iter()
        .map(|seed| (seed.token.clone(), Bot::new(seed.clone())))
        .collect();
    let state = Arc::new(Bots {
        bots: Mutex::new(bots),
        flood: Mutex::default(),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?,
    });
    let faults = Faults::new(routes::fault_body);
    let router = routes::router(state.clone(), faults.clone());
    crate::serve(config.bind, router, faults, state).await
}

impl EmulatorHandle<Bots> {
    /// Adds a bot (a token BotFather just issued).
    pub fn add_bot(&self, seed: BotSeed) {
        self.state.all().insert(seed.token.clone(), Bot::new(seed));
    }

    /// Answers the next `n` Bot API calls with 429 and `parameters.retry_after`.
    pub fn flood_next(&self, n: u32, retry_after: u64) {
        *lock(&self.state.flood) = Flood {
            remaining: n,
            retry_after,
        };
    }

    /// Reads a bot's state.
    pub fn bot<T>(&self, token: &str, f: impl FnOnce(&Bot) -> T) -> Option<T> {
        self.state.with_bot(token, |b| f(b))
    }

    pub fn webhook(&self, token: &str) -> Option<Webhook> {
        self.bot(token, |b| b.webhook.clone()).flatten()
    }

    /// The `commands` of `setMyCommands`, as sent.
    pub fn commands(&self, token: &str) -> Vec<Value> {
        self.bot(token, |b| b.commands.clone()).unwrap_or_default()
    }

    /// Method names the bot called, in order.
    pub fn calls(&self, token: &str) -> Vec<String> {
        self.bot(token, |b| b.calls.clone()).unwrap_or_default()
    }

    /// Messages the bot sent (as last edited), oldest first.
    pub fn sent(&self, token: &str) -> Vec<Value> {
        self.bot(token, |b| b.messages.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Callback queries the bot answered (the parameters it gave).
    pub fn answered_callbacks(&self, token: &str) -> Vec<Value> {
        self.bot(token, |b| b.answered_callbacks.clone())
            .unwrap_or_default()
    }

    /// The bytes behind a file id.
    pub fn file_bytes(&self, token: &str, file_id: &str) -> Option<Vec<u8>> {
        self.bot(token, |b| b.files.get(file_id).map(|f| f.bytes.clone()))
            .flatten()
    }

    /// Pushes an update to the bot's webhook, as Telegram would, and reports the answer.
    pub async fn push(&self, token: &str, push: Push) -> Result<Delivery, String> {
        updates::deliver(&self.state, token, push).await
    }

    /// Sends the update JSON `update` to the bot's webhook as is (replays, odd payloads).
    pub async fn push_raw(
        &self,
        token: &str,
        update: &Value,
        secret_token: Option<&str>,
    ) -> Result<u16, String> {
        updates::post_raw(&self.state, token, update, secret_token).await
    }
}
