//! The one-shot commands.

use crate::config::Config;
use crate::runtime::{self, AnyResult};
use patchbay_store::WorkspaceStore;
use std::time::Duration;

pub async fn worker(cfg: Config) -> AnyResult {
    let store = runtime::open_store(&cfg).await?;
    store.ping().await?;
    println!("nothing to do: no background job kinds are defined yet");
    Ok(())
}

pub async fn migrate(cfg: Config) -> AnyResult {
    if cfg.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&cfg.data_dir)?;
    }
    let store = patchbay_store::Store::open(&cfg.database_url).await?;
    let applied = store.migrate().await?;
    if applied.is_empty() {
        println!(
            "database is up to date (version {})",
            patchbay_store::Store::latest_migration()
        );
    } else {
        println!("applied migrations: {applied:?}");
    }
    Ok(())
}

pub async fn workspace_create(cfg: Config, name: &str) -> AnyResult {
    let engine = runtime::engine(&cfg).await?;
    let created = engine
        .create_workspace(name, "cli")
        .await
        .map_err(|e| e.to_string())?;
    println!("workspace:  {}", created.workspace.id);
    println!("name:       {}", created.workspace.name);
    println!("secret key: {}", created.secret_key);
    println!("(the secret key is shown only now; store it safely)");
    Ok(())
}

pub async fn workspace_list(cfg: Config) -> AnyResult {
    let store = runtime::open_store(&cfg).await?;
    let mut after: Option<String> = None;
    println!("{:<40} {:<24} NAME", "ID", "CREATED");
    loop {
        let rows = store.list_workspaces(after.as_deref(), 200).await?;
        for w in &rows {
            println!(
                "{:<40} {:<24} {}",
                w.id,
                patchbay_core::ms_to_rfc3339(w.created_at),
                w.name
            );
        }
        match rows.last() {
            Some(last) if rows.len() == 200 => after = Some(last.id.clone()),
            _ => break,
        }
    }
    Ok(())
}

pub async fn keys_rotate(cfg: Config, settle_seconds: u64) -> AnyResult {
    let engine = runtime::engine(&cfg).await?;
    let before = engine.vault().active_key_id();
    eprintln!("rotating data key (active key: {before:?})");
    let mut last = 0;
    // Servers must have re-read the keyring before the last sweep.
    let settle = settle_seconds.max(2 * cfg.keyring_refresh_seconds);
    let report = engine
        .vault()
        .rotate(Duration::from_secs(settle), |done, total| {
            if done != last || done == 0 {
                eprintln!("  re-encrypted {done}/{total}");
                last = done;
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "new active key: {}; re-encrypted {} secrets ({} retried after concurrent writes)",
        report.new_key_id, report.resealed, report.retried
    );
    if !report.unopenable.is_empty() {
        return Err(format!(
            "{} credentials do not open and keep their old key (tampered or moved rows): {}",
            report.unopenable.len(),
            report.unopenable.join(", ")
        )
        .into());
    }
    Ok(())
}

pub fn connectors_list(cfg: Config) -> AnyResult {
    let (_, _, registry) = runtime::connectors(&cfg)?;
    println!("{:<20} {:<24} {:<10} CAPABILITIES", "KEY", "NAME", "AUTH");
    for spec in registry.specs() {
        let caps: Vec<&str> = spec.capabilities.iter().map(|c| c.as_str()).collect();
        let auth = serde_json::to_value(spec.auth)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        println!(
            "{:<20} {:<24} {:<10} {}",
            spec.key,
            spec.name,
            auth,
            caps.join(",")
        );
    }
    Ok(())
}
