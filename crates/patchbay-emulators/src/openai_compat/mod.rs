//! An OpenAI-compatible API, as self-hosted model servers and gateways offer it: `GET
//! /v1/models`, `GET /v1/models/{id}` and `POST /v1/chat/completions`, with Bearer keys and
//! OpenAI's error shape. Completions are deterministic: the assistant echoes the last user
//! message, so tests can assert on the answer.

mod routes;

use crate::faults::Faults;
use crate::EmulatorHandle;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The key dev mode prints for registering the emulator.
pub const DEMO_KEY: &str = "sk-patchbay-emulator-0001";

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The only API key accepted.
    pub api_key: String,
    /// Model ids served, in list order.
    pub models: Vec<String>,
    pub owned_by: String,
    pub bind: SocketAddr,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            api_key: DEMO_KEY.into(),
            models: vec!["echo-1".into(), "echo-1-mini".into()],
            owned_by: "patchbay-emulator".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// The state behind a running emulator.
pub struct Api {
    config: OpenAiConfig,
    /// Answers left to replace with a 200 that is not JSON at all.
    garbage: AtomicU32,
    completions: AtomicU64,
}

impl Api {
    fn take_garbage(&self) -> bool {
        self.garbage
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

pub type OpenAiEmulator = EmulatorHandle<Api>;

/// Starts the emulator on `config.bind`; returns once it accepts connections. The API root
/// for clients is `{base_url}/v1`.
pub async fn spawn(config: OpenAiConfig) -> std::io::Result<OpenAiEmulator> {
    let bind = config.bind;
    let api = std::sync::Arc::new(Api {
        config,
        garbage: AtomicU32::new(0),
        completions: AtomicU64::new(0),
    });
    let faults = Faults::new(routes::error_body);
    let router = routes::router(api.clone(), faults.clone());
    crate::serve(bind, router, faults, api).await
}

impl EmulatorHandle<Api> {
    pub fn config(&self) -> &OpenAiConfig {
        &self.state.config
    }

    /// The base URL OpenAI clients take (`…/v1`).
    pub fn api_url(&self) -> String {
        format!("{}/v1", self.base_url)
    }

    /// Answers the next `n` requests with 200 and an HTML page instead of JSON, as a
    /// misconfigured gateway or a login page would.
    pub fn garbage_next(&self, n: u32) {
        self.state.garbage.store(n, Ordering::SeqCst);
    }

    /// Chat completions answered so far.
    pub fn completion_count(&self) -> u64 {
        self.state.completions.load(Ordering::SeqCst)
    }
}
