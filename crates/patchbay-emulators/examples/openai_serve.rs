//! Serves the OpenAI-compatible emulator on `127.0.0.1:$PORT` (default 8087), its key in
//! `OPENAI_KEY` when set, until interrupted. Used by `tests/official/run.sh` to check the
//! official `openai` Python client against the emulator.

use patchbay_emulators::openai_compat::{self, OpenAiConfig};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8087);
    let mut config = OpenAiConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        ..Default::default()
    };
    if let Ok(key) = std::env::var("OPENAI_KEY") {
        config.api_key = key;
    }
    let emulator = openai_compat::spawn(config).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emulator.shutdown().await;
    Ok(())
}
