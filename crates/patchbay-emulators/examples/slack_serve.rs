//! Serves the Slack emulator on `127.0.0.1:$PORT` (default 8088) with a bot token
//! `SLACK_TOKEN` holding every scope, until interrupted. Used by `tests/official/run.sh` to
//! check Slack's Python SDK (slack_sdk) against the emulator.

use patchbay_emulators::slack::{self, SlackConfig, ALL_SCOPES, BOT_USER};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8088);
    let emulator = slack::spawn(SlackConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        seeded_messages: 5,
        ..Default::default()
    })
    .await?;
    let token = std::env::var("SLACK_TOKEN").unwrap_or_else(|_| "xoxb-official-check".into());
    emulator.add_token(&token, BOT_USER, ALL_SCOPES);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emulator.shutdown().await;
    Ok(())
}
