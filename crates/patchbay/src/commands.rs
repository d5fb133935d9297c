//! The one-shot commands.

use crate::config::Config;
use crate::runtime::{self, AnyResult};
use std::time::Duration;

/// Runs workers and the scheduler only, until SIGTERM.
pub async fn worker(cfg: Config) -> AnyResult {
    let engine = runtime::engine(&cfg).await?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let refresher = engine.vault().spawn_refresher(
        Duration::from_secs(cfg.keyring_refresh_seconds),
        cancel_rx.clone(),
    );
    let tasks = runtime::start_background(&engine, &cfg, "worker", cancel_rx);
    println!("patchbay worker running");
    runtime::shutdown_signal().await;
    let _ = cancel_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let _ = refresher.await;
    engine.store().close().await;
    Ok(())
}

pub async fn migrate(cfg: Config) -> AnyResult {
    if cfg.database_url.is_sqlite() {
        std::fs::create_dir_all(&cfg.data_dir)?;
    }
    let store = patchbay_store::Store::open(cfg.database_url.expose()).await?;
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
        .workspaces()
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

pub async fn sync_run(cfg: Config, connection_id: &str, full: bool) -> AnyResult {
    let engine = runtime::engine(&cfg).await?;
    let mode = if full {
        patchbay_core::SyncMode::Full
    } else {
        patchbay_core::SyncMode::Incremental
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = std::time::Instant::now();
    let run = engine
        .syncs()
        .run_sync_in_foreground(connection_id, mode, |r| {
            let records = r.added + r.updated + r.unchanged;
            let rate = records as f64 / started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} · pages {} · records {records} · {rate:.0}/s",
                r.status, r.pages
            ));
        })
        .await
        .map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let records = run.added + run.updated + run.unchanged;
    println!(
        "sync {} {} in {secs:.1} s: {} pages, {records} records ({:.0}/s): {} added, {} updated, {} unchanged, {} deleted",
        run.id,
        run.status,
        run.pages,
        records as f64 / secs.max(0.001),
        run.added,
        run.updated,
        run.unchanged,
        run.deleted
    );
    match run.error {
        Some(e) => Err(format!("the sync failed: {e}").into()),
        None if run.status == "completed" => Ok(()),
        None => Err(format!("the sync ended {}", run.status).into()),
    }
}
