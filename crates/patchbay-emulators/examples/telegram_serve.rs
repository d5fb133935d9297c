//! Serves the Telegram Bot API emulator with the demo bot on `127.0.0.1:$PORT` (default 8087),
//! its token in `TELEGRAM_TOKEN` when set, until interrupted. Used by `tests/official/run.sh`
//! to check python-telegram-bot against the emulator.

use patchbay_emulators::telegram::{self, BotSeed, TelegramConfig};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8087);
    let mut config = TelegramConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        ..Default::default()
    };
    if let Ok(token) = std::env::var("TELEGRAM_TOKEN") {
        let id = token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(7_000_000_002);
        config.bots.push(BotSeed {
            token,
            ..BotSeed::new(id, "official_check_bot")
        });
    }
    let emulator = telegram::spawn(config).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emulator.shutdown().await;
    Ok(())
}
