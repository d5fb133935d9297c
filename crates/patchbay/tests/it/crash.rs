//! What the crash tests share: the environment of API and worker processes on one database, an
//! API process with a workspace, and waiting on a sync run from outside.

use crate::process::{self, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// API and workers on `db_url`: loopback calls allowed, a 2 s job lease (a killed worker's job
/// moves on quickly), one job at a time, plus `extra`.
pub fn env(db_url: &str, master: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("PATCHBAY_DATABASE_URL", db_url),
        ("PATCHBAY_MASTER_KEY", master),
        ("PATCHBAY_ADMIN_KEY", process::ADMIN),
        ("PATCHBAY_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8"),
        ("PATCHBAY_JOB_LEASE_SECONDS", "2"),
        ("PATCHBAY_WORKER_CONCURRENCY", "1"),
        ("PATCHBAY_LOG_LEVEL", "warn"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

pub fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `patchbay serve --no-worker` and a new workspace's secret key.
pub async fn api_with_workspace(dir: &Path, env: &[(String, String)]) -> (Server, String) {
    let mut api = Server::start(
        dir,
        &["serve", "--no-worker", "--bind", "127.0.0.1:0"],
        &refs(env),
    )
    .await;
    let (_, ws) = api
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "crash"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    (api, key)
}

/// Waits until the run at `run_path` has committed `pages` pages.
pub async fn wait_for_pages(api: &mut Server, key: &str, run_path: &str, pages: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = api.call("GET", run_path, key, None).await;
        if r["pages"].as_i64().unwrap_or(0) >= pages {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the worker made no progress: {r}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the run at `run_path` to end; returns it.
pub async fn wait_for_end(api: &mut Server, key: &str, run_path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, r) = api.call("GET", run_path, key, None).await;
        if r["status"] != "running" && r["status"] != "pending" {
            return r;
        }
        assert!(Instant::now() < deadline, "never finished: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every stored record of `entity`, page by page.
pub async fn all_records(api: &mut Server, key: &str, id: &str, entity: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = api
            .call(
                "GET",
                &format!("/v1/connections/{id}/records/{entity}?limit=500{cursor}"),
                key,
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}
