//! Serves the Gmail emulator with the demo mailbox on `127.0.0.1:$PORT` (default 8085),
//! accepting the token in `GMAIL_TOKEN`, until interrupted. `GMAIL_GENERATED` adds that many
//! generated messages. Used by `tests/official/run.sh` to check Google's own client against
//! the emulator.

use patchbay_emulators::gmail::{self, GmailConfig};
use std::net::SocketAddr;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = env_or("PORT", 8085);
    let token: String = env_or("GMAIL_TOKEN", "gmail-emulator-token-0001".to_string());
    let config = GmailConfig {
        seed_demo: true,
        generated: env_or("GMAIL_GENERATED", 0),
        tokens: vec![token],
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        ..Default::default()
    };
    let emulator = gmail::spawn(config).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emulator.shutdown().await;
    Ok(())
}
