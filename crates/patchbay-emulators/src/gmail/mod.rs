//! Google's Gmail API v1 (`/gmail/v1/users/{userId}/…`) for one account: messages (list with
//! Gmail's search syntax, get in the `full`, `metadata`, `minimal` and `raw` formats, send,
//! insert, import, modify, trash, delete, attachments), threads, labels with counts, drafts,
//! the history log with expiry, the profile, and `watch`/`stop`. The media upload forms
//! (`/upload/gmail/v1/…`, `uploadType=media|multipart`) are served too.
//!
//! While a watch is live, each history change it covers is pushed as a Cloud Pub/Sub message
//! to the push subscriptions of its topic (created through Pub/Sub's `/v1/projects/…/
//! subscriptions/…` routes), with an RS256 OIDC token that the JWKS at `/oauth2/v3/certs`
//! verifies; refused pushes are retried with backoff (`pubsub.rs`).
//!
//! Messages are stored as RFC 822 bytes built with `mail-builder` and read with `mail-parser`
//! into Gmail's `MessagePart` tree; ids sort by time like Gmail's. Every change moves the
//! mailbox `historyId` and writes a history record. Bearer tokens, quota faults as Gmail sends
//! them (429 `rateLimitExceeded`, 403 `userRateLimitExceeded`), request counting and Google's
//! error shape come from the crate's `google` module; `routes.rs` adds Gmail's `{userId}`
//! check and wording.
//!
//! `seed_demo` fills the mailbox with hand-written mail (`demo.rs`, `demo_invites.rs`,
//! `demo_more.rs`); `generated` adds synthetic mail that is stored as an index only and
//! rebuilt from it whenever read (`synth.rs`), so 100,000 messages seed in about a second.

mod blobs;
mod calendar;
mod compose;
mod demo;
mod demo_invites;
mod demo_more;
mod drafts;
mod history;
mod labels;
mod messages;
mod parse;
mod pubsub;
mod query;
mod request;
mod routes;
mod sending;
mod store;
mod synth;
mod threads;

use crate::faults::Faults;
use crate::google::{self, Gate};
use crate::{lock, EmulatorHandle};
pub use compose::{Attachment, Mail};
use pubsub::PubSub;
pub use pubsub::Push;
/// The modulus (base64url) of the key the emulator signs push tokens with; its exponent is
/// `AQAB`.
pub use pubsub::N as PUSH_KEY_N;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use store::Store;
use synth::Synth;

#[derive(Debug, Clone)]
pub struct GmailConfig {
    /// The account's address (`emailAddress` of the profile, accepted as `{userId}`).
    pub email: String,
    pub name: String,
    /// Access tokens accepted from the start; [`GmailEmulator::add_token`] adds more.
    pub tokens: Vec<String>,
    /// Seeds the hand-written demo mailbox.
    pub seed_demo: bool,
    /// Seeds this many generated messages besides.
    pub generated: usize,
    /// The moment seeded mail is dated back from; now when `None`.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    pub bind: SocketAddr,
}

impl Default for GmailConfig {
    fn default() -> Self {
        GmailConfig {
            email: "ada@example.com".into(),
            name: "Ada Lovelace".into(),
            tokens: vec!["gmail-emulator-token-0001".into()],
            seed_demo: false,
            generated: 0,
            now: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

pub use crate::tokens::TokenCheck;

/// The last `users.watch` request.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchRequest {
    pub topic_name: String,
    pub label_ids: Vec<String>,
    pub label_filter_behavior: Option<String>,
    /// The mailbox historyId when the watch started.
    pub history_id: u64,
    /// Epoch milliseconds, seven days after the request.
    pub expiration: i64,
}

/// Mail to deliver: raw bytes or a [`Mail`], and the labels it arrives with (`INBOX` and
/// `UNREAD` unless changed).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub raw: Vec<u8>,
    pub labels: Vec<String>,
}

impl Delivery {
    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.labels = labels.iter().map(|l| l.to_string()).collect();
        self
    }
}

impl From<Vec<u8>> for Delivery {
    fn from(raw: Vec<u8>) -> Self {
        let labels = vec!["INBOX".into(), "UNREAD".into()];
        Delivery { raw, labels }
    }
}

impl From<&[u8]> for Delivery {
    fn from(raw: &[u8]) -> Self {
        raw.to_vec().into()
    }
}

impl From<Mail> for Delivery {
    fn from(mail: Mail) -> Self {
        mail.to_raw().into()
    }
}

/// The mailbox behind a running Gmail emulator.
pub struct Mailbox {
    config: GmailConfig,
    store: Mutex<Store>,
    gate: Gate,
    pubsub: Arc<PubSub>,
}

impl Mailbox {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

pub type GmailEmulator = EmulatorHandle<Mailbox>;

/// Starts the emulator on `config.bind`; returns once it accepts connections.
pub async fn spawn(config: GmailConfig) -> std::io::Result<GmailEmulator> {
    let bind = config.bind;
    let anchor = config.now.unwrap_or_else(chrono::Utc::now);
    let synth = Synth {
        email: config.email.clone(),
        name: config.name.clone(),
        anchor_ms: anchor.timestamp_millis(),
        count: u32::try_from(config.generated).unwrap_or(u32::MAX),
    };
    let mut store = Store::new(config.email.clone(), synth);
    seed_generated(&mut store);
    if config.seed_demo {
        demo::seed(&mut store, &config, anchor);
    }
    let pubsub = Arc::new(PubSub::new(config.email.clone()));
    store.outbox = Some(pubsub::start(pubsub.clone()));
    let mailbox = Arc::new(Mailbox {
        gate: Gate::new(&config.tokens),
        config,
        store: Mutex::new(store),
        pubsub,
    });
    let faults = Faults::new(google::errors::fault_body::<Mailbox>);
    let router = routes::router(mailbox.clone(), faults.clone());
    crate::serve(bind, router, faults, mailbox).await
}

/// Oldest first, so replies find the thread of the message they answer.
fn seed_generated(store: &mut Store) {
    let count = store.synth.count;
    let mut threads: Vec<String> = vec![String::new(); count as usize];
    for index in (0..count).rev() {
        let parent = store.synth.parent(index);
        let thread = parent.map(|p| threads[p as usize].clone());
        let labels = store.synth.labels(index);
        let date = store.synth.date_ms(index);
        let source = store::Source::Generated(index);
        threads[index as usize] = store.insert(source, labels, date, thread, false).1;
    }
}

impl EmulatorHandle<Mailbox> {
    pub fn config(&self) -> &GmailConfig {
        &self.state.config
    }

    /// Delivers mail as if it arrived from outside: threaded by its References and subject,
    /// dated by its `Date` header. Returns `(id, threadId)`.
    pub fn deliver(&self, mail: impl Into<Delivery>) -> (String, String) {
        let delivery = mail.into();
        let mut store = self.state.store();
        let id = store.insert_raw(delivery.raw, delivery.labels, None);
        let thread = store.messages.get(&id).map(|m| m.thread_id.clone());
        (id, thread.unwrap_or_default())
    }

    /// Deletes a message for good, as another client would; `false` for unknown ids.
    pub fn delete_message(&self, id: &str) -> bool {
        self.state.store().delete(id).is_some()
    }

    /// Replaces a message's labels, writing history as a client's change would.
    pub fn set_labels(&self, id: &str, labels: &[&str]) -> bool {
        let mut store = self.state.store();
        let Some(current) = store.messages.get(id).map(|m| m.labels.clone()) else {
            return false;
        };
        let wanted: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let remove: Vec<String> = current
            .into_iter()
            .filter(|l| !wanted.contains(l))
            .collect();
        store.modify(id, &wanted, &remove).is_some()
    }

    /// A message's label ids; `None` for unknown ids.
    pub fn labels_of(&self, id: &str) -> Option<Vec<String>> {
        self.state
            .store()
            .messages
            .get(id)
            .map(|m| m.labels.clone())
    }

    /// A message as `messages.get` renders it in the `full` format.
    pub fn message(&self, id: &str) -> Option<Value> {
        let store = self.state.store();
        let m = store.messages.get(id)?;
        Some(messages::render(&store, m, messages::Format::Full, &[]))
    }

    /// Every message id, newest first.
    pub fn message_ids(&self) -> Vec<String> {
        self.state.store().messages.keys().rev().cloned().collect()
    }

    pub fn history_id(&self) -> u64 {
        self.state.store().history_id
    }

    /// Forgets all history so far: `history.list` from any earlier id answers 404.
    pub fn expire_history(&self) {
        self.state.store().expire_history();
    }

    /// Raw RFC 822 bytes of every message sent through the API, in order, as stored.
    pub fn sent_messages(&self) -> Vec<Vec<u8>> {
        self.state.store().sent.clone()
    }

    /// The last `watch` request, until `stop`.
    pub fn watch(&self) -> Option<WatchRequest> {
        self.state.store().watch.clone()
    }
}
