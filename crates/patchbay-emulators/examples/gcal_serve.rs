//! Serves the Calendar emulator with the demo calendars on `127.0.0.1:$PORT` (default 8086),
//! accepting the token in `GCAL_TOKEN`, until interrupted. `GCAL_GENERATED` adds that many
//! generated events; `GCAL_NOW` (RFC 3339) fixes the emulator's "now", which the demo week
//! is placed around. `SIGUSR1` expires every sync token issued so far. Used by
//! `tests/official/run.sh` to check Google's own client against the emulator.

use patchbay_emulators::gcal::{self, GcalConfig};
use std::net::SocketAddr;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = env_or("PORT", 8086);
    let token: String = env_or("GCAL_TOKEN", "gcal-emulator-token-0001".to_string());
    let now = std::env::var("GCAL_NOW")
        .ok()
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.to_utc());
    let config = GcalConfig {
        seed_demo: true,
        generated: env_or("GCAL_GENERATED", 0),
        tokens: vec![token],
        now,
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        ..Default::default()
    };
    let emulator = gcal::spawn(config).await?;
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut expire = signal(SignalKind::user_defined1())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = expire.recv() => emulator.expire_sync_tokens(),
        }
    }
    emulator.shutdown().await;
    Ok(())
}
