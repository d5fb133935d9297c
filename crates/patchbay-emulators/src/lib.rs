//! Local stand-ins for the provider APIs behind the built-in connectors, used by tests,
//! benchmarks and the demo. Each emulator serves the partner's API from in-memory data on a
//! loopback port, checks credentials like the real partner, and lets its owner inject faults
//! (errors, rate limits, truncated answers, latency) and change data while it runs.
//! [`records`] is a generic paginated JSON API sized for large sync runs; [`todoist`] serves
//! Todoist's API v1; [`github`] follows GitHub's public REST API and its webhooks;
//! [`gmail`] and [`gcal`] serve Google's Gmail API v1 and Calendar API v3, sharing Google's
//! token check, quota faults and error shape; [`telegram`] serves the Telegram Bot API and
//! pushes updates to a bot's webhook; [`slack`] serves Slack's Web API, OAuth v2 and signed
//! Events API deliveries; [`openai_compat`] is an OpenAI-compatible LLM API (models and chat
//! completions).

mod faults;
pub mod gcal;
pub mod github;
pub mod gmail;
mod google;
pub mod oauth2;
pub mod openai_compat;
mod paging;
pub mod printing_partner;
pub mod records;
pub mod slack;
pub mod telegram;
pub mod todoist;
mod tokens;
pub mod venue_ops;

use axum::Router;
use faults::Faults;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use gcal::{GcalConfig, GcalEmulator};
pub use github::{GithubConfig, GithubEmulator};
pub use gmail::{GmailConfig, GmailEmulator};
pub use oauth2::{OAuthConfig, OAuthEmulator};
pub use openai_compat::{OpenAiConfig, OpenAiEmulator};
pub use printing_partner::{PrintingConfig, PrintingEmulator};
pub use records::{RecordsConfig, RecordsEmulator};
pub use slack::{SlackConfig, SlackEmulator};
pub use telegram::{TelegramConfig, TelegramEmulator};
pub use todoist::{TaskSeed, TodoistConfig, TodoistEmulator};
pub use venue_ops::{VenueConfig, VenueEmulator};

/// Header a partner sends its callback secret in.
pub const SHARED_SECRET_HEADER: &str = "X-Patchbay-Integration-Secret";

/// A running emulator. Dropping it (or calling [`EmulatorHandle::shutdown`]) stops the server.
/// `S` is the partner's state; partner modules add methods to read and change it.
pub struct EmulatorHandle<S> {
    /// `http://127.0.0.1:<port>`, the value for a connection's `api_base_url`.
    pub base_url: String,
    pub addr: SocketAddr,
    faults: Arc<Faults>,
    state: Arc<S>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl<S> EmulatorHandle<S> {
    /// Answers the next `n` requests with 500.
    pub fn fail_next(&self, n: u32) {
        self.faults.update(|f| f.fail = n);
    }

    /// Answers the next `n` requests with 429 and `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.faults.update(|f| f.rate_limit = n);
    }

    /// Cuts the body of the next `n` answers in half, leaving invalid JSON.
    pub fn truncate_next(&self, n: u32) {
        self.faults.update(|f| f.truncate = n);
    }

    /// Delays every answer by `latency` (zero turns it off).
    pub fn set_latency(&self, latency: Duration) {
        self.faults.update(|f| f.latency = latency);
    }

    /// Clears every injected fault.
    pub fn clear_faults(&self) {
        self.faults.update(|f| *f = Default::default());
    }

    /// Requests received so far, including those answered with a fault.
    pub fn request_count(&self) -> u64 {
        self.faults.request_count()
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl<S> Drop for EmulatorHandle<S> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `bind` and serves `router` in a task; returns once the listener is bound, so
/// requests can be sent right away.
async fn serve<S>(
    bind: SocketAddr,
    router: Router,
    faults: Arc<Faults>,
    state: Arc<S>,
) -> std::io::Result<EmulatorHandle<S>> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(EmulatorHandle {
        base_url: format!("http://{addr}"),
        addr,
        faults,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

/// An inbound callback as a partner would send it: headers and raw body.
#[derive(Debug, Clone)]
pub struct SignedCallback {
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl SignedCallback {
    fn new(secret: &str, body: &serde_json::Value) -> Self {
        let headers = [
            (SHARED_SECRET_HEADER.to_string(), secret.to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ]
        .into();
        SignedCallback {
            headers,
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// Emulator time: seeded records sit in the past; every change is later than anything
/// before it, even within one clock tick, so "changed since" filters are exact.
struct Clock {
    last: chrono::DateTime<chrono::Utc>,
}

impl Clock {
    fn new() -> Self {
        Clock {
            last: chrono::DateTime::UNIX_EPOCH,
        }
    }

    /// The `n`th seeded timestamp: minutes after 2024-01-01.
    fn seeded(&mut self, n: usize) -> chrono::DateTime<chrono::Utc> {
        let base = chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default();
        let t = base + chrono::Duration::minutes(n as i64);
        self.last = self.last.max(t);
        t
    }

    fn tick(&mut self) -> chrono::DateTime<chrono::Utc> {
        let now = chrono::Utc::now();
        let now = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        self.last = now.max(self.last + chrono::Duration::milliseconds(1));
        self.last
    }
}

/// Locks `m`, also after a panic elsewhere poisoned it: the emulators' state stays usable.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
