//! The binary as an operator runs it: dev mode, refusing to start without a master key, the
//! CLI commands, key rotation while a server runs, and a planted secret that must appear
//! nowhere in the database files, a PostgreSQL dump or the logs.

mod crash;
mod gmail_crash;
mod process;

use patchbay_store::testing::{new_database, TestBackend};
use process::{patchbay, Server};
use serde_json::{json, Value};

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(patchbay_store::testing::TestBackend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name(patchbay_store::testing::TestBackend::Postgres).await }
        })*
    };
}

both_backends!(planted_secret_appears_nowhere, keys_rotate_while_serving);

#[tokio::test]
async fn dev_mode_starts_with_nothing_set_up() {
    let dir = process::temp_dir("dev");
    let mut server = Server::start(&dir, &["serve", "--dev", "--bind", "127.0.0.1:0"], &[]).await;
    let out = server.stdout();
    assert!(out.contains("NOT A PRODUCTION SETUP"), "{out}");
    let admin = std::fs::read_to_string(dir.join("patchbay-data/admin.key")).unwrap();
    assert!(out.contains(admin.trim()), "the admin key is printed");
    assert!(dir.join("patchbay-data/master.key").exists());
    let (s, ws) = server
        .call(
            "POST",
            "/v1/admin/workspaces",
            admin.trim(),
            Some(json!({"name": "dev"})),
        )
        .await;
    assert_eq!(s, 201, "{ws}");
    assert!(dir.join("patchbay-data/patchbay.db").exists());
    assert!(
        dir.join("patchbay-data/patchbay.db-wal").exists(),
        "SQLite runs in WAL mode"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("patchbay-data/master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key files are private");
    }
    // SIGTERM stops it cleanly.
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(server.stderr().contains("shutdown requested"));
    // A second start reuses the same keys and data.
    let mut again = Server::start(&dir, &["serve", "--dev", "--bind", "127.0.0.1:0"], &[]).await;
    let (s, list) = again
        .call("GET", "/v1/admin/workspaces", admin.trim(), None)
        .await;
    assert_eq!((s, list["data"].as_array().unwrap().len()), (200, 1));
    again.terminate().await;
}

#[test]
fn refuses_to_start_without_a_master_key() {
    let dir = process::temp_dir("nokey");
    let out = patchbay(&dir, &["serve", "--bind", "127.0.0.1:0"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no master key")
            && err.contains("PATCHBAY_MASTER_KEY")
            && err.contains("--dev"),
        "{err}"
    );
    let out = patchbay(&dir, &["serve"], &[("PATCHBAY_MASTER_KEY", "not-base64!")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("base64"));
}

#[test]
fn configuration_errors_and_warnings() {
    let dir = process::temp_dir("config");
    let out = patchbay(&dir, &["config", "default"], &[]);
    assert!(out.status.success());
    std::fs::write(dir.join("patchbay.toml"), &out.stdout).unwrap();
    let out = patchbay(&dir, &["migrate"], &[("PATCHBAY_UNHEARD_OF", "1")]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PATCHBAY_UNHEARD_OF"),
        "unknown variables are warned about"
    );
    let out = patchbay(&dir, &["migrate"], &[("PATCHBAY_BIND", "nowhere")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bind"));
    std::fs::write(dir.join("patchbay.toml"), "bnd = \"x\"\n").unwrap();
    let out = patchbay(&dir, &["migrate"], &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bnd"),
        "unknown file keys are errors"
    );
}

#[test]
fn cli_commands() {
    let dir = process::temp_dir("cli");
    let key = patchbay_vault::MasterKey::generate_base64();
    let env = [("PATCHBAY_MASTER_KEY", key.as_str())];
    let text = |args: &[&str]| {
        let out = patchbay(&dir, args, &env);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let migrated = text(&["migrate"]);
    let applied: Vec<i64> = migrated
        .split_once("applied migrations: [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.split(", ").map(|n| n.parse().unwrap()).collect())
        .unwrap_or_default();
    // All of them, in order; a number may be missing while the branch that adds it lands.
    assert!(
        applied.starts_with(&[1, 2, 3, 4, 5, 6, 7, 8])
            && applied.windows(2).all(|w| w[0] < w[1])
            && applied.last() == Some(&13),
        "{migrated}"
    );
    assert!(text(&["migrate"]).contains("up to date"));
    let created = text(&["workspaces", "create", "Acme Events"]);
    assert!(created.contains("secret key: pbk_"), "{created}");
    let id = created
        .lines()
        .find_map(|l| l.strip_prefix("workspace:"))
        .unwrap()
        .trim()
        .to_string();
    assert!(text(&["workspaces", "list"]).contains(&id));
    let connectors = text(&["connectors", "list"]);
    assert!(connectors.contains("printing_partner") && connectors.contains("venue_ops"));
    let rotated = text(&["keys", "rotate", "--settle-seconds", "0"]);
    assert!(rotated.contains("new active key: 2"), "{rotated}");
    let generated = text(&["keys", "generate"]);
    assert!(patchbay_vault::MasterKey::from_base64(generated.trim()).is_ok());
}

/// Starts a real server on `backend` with debug JSON logs and the given extra environment.
async fn start_on(
    backend: TestBackend,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
) -> (Server, patchbay_store::testing::TestDatabase, String) {
    let db = new_database(backend);
    db.open().await.unwrap().close().await;
    let master = patchbay_vault::MasterKey::generate_base64();
    let mut env = vec![
        ("PATCHBAY_DATABASE_URL", db.url.clone()),
        ("PATCHBAY_MASTER_KEY", master.clone()),
        ("PATCHBAY_ADMIN_KEY", process::ADMIN.to_string()),
        ("PATCHBAY_LOG_LEVEL", "debug".to_string()),
        ("PATCHBAY_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(
        dir,
        &["serve", "--bind", "127.0.0.1:0", "--log-format", "json"],
        &env_ref,
    )
    .await;
    (server, db, master)
}

async fn planted_secret_appears_nowhere(backend: TestBackend) {
    let emulator =
        patchbay_emulators::printing_partner::spawn(patchbay_emulators::PrintingConfig {
            api_key: "pp_test_PLANTED_7f3a9c1e5b2d".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let dir = process::temp_dir("planted");
    let (mut server, db, _) = start_on(backend, &dir, &[]).await;
    let planted = [
        "pp_test_PLANTED_7f3a9c1e5b2d",
        "PLANTED-callback-secret-91c2e0d4a8",
        "pp_live_PLANTED_rotated_5e6f7a",
        "PLANTED-oauth-client-secret-3b8e",
    ];
    let (_, ws) = server
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "scan"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    let mut responses: Vec<Value> = vec![ws.clone()];
    let (s, app) = server
        .call(
            "PUT",
            "/v1/oauth-apps/todoist",
            &key,
            Some(json!({"client_id": "cid", "client_secret": planted[3]})),
        )
        .await;
    assert_eq!(s, 200, "{app}");
    responses.push(app);
    responses.push(server.call("GET", "/v1/oauth-apps", &key, None).await.1);
    let body = json!({
        "connector": "printing_partner",
        "owner": {"id": "u1"},
        "config": {"shop_id": "demo-shop", "api_base_url": emulator.base_url},
        "secrets": {"api_key": planted[0], "callback_secret": planted[1]},
        "enable": true
    });
    let (s, c) = server
        .call("POST", "/v1/connections", &key, Some(body))
        .await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    responses.push(c);
    let (_, t) = server
        .call("POST", &format!("/v1/connections/{id}/test"), &key, None)
        .await;
    assert_eq!(
        t["ok"], true,
        "the planted key really reached the partner: {t}"
    );
    responses.push(t);
    let (s, p) = server
        .call(
            "PATCH",
            &format!("/v1/connections/{id}"),
            &key,
            Some(json!({"secrets": {"api_key": planted[2]}})),
        )
        .await;
    assert_eq!(s, 200);
    responses.push(p);
    // A failing test with the rotated key, so error paths are logged too.
    responses.push(
        server
            .call("POST", &format!("/v1/connections/{id}/test"), &key, None)
            .await
            .1,
    );
    responses.push(server.call("POST", "/v1/connections", &key, Some(json!({"connector": "printing_partner", "owner": {"id": "u2"}, "secrets": {"api_key": planted[0], "nope": planted[1]}}))).await.1);
    for path in [
        "/v1/connections",
        "/v1/activity?limit=500",
        "/v1/events?limit=500",
        &format!("/v1/connections/{id}"),
    ] {
        responses.push(server.call("GET", path, &key, None).await.1);
    }
    server.terminate().await;

    let mut haystacks: Vec<(String, Vec<u8>)> = vec![
        ("responses".into(), serde_json::to_vec(&responses).unwrap()),
        ("stdout".into(), server.stdout().into_bytes()),
        (
            "stderr (debug JSON logs)".into(),
            server.stderr().into_bytes(),
        ),
    ];
    assert!(
        server.stderr().contains("\"level\":\"DEBUG\""),
        "debug logging was on"
    );
    match backend {
        TestBackend::Sqlite => {
            let path = db.sqlite_path.clone().unwrap();
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{}{suffix}", path.display());
                if let Ok(bytes) = std::fs::read(&file) {
                    haystacks.push((file, bytes));
                }
            }
            assert!(haystacks
                .iter()
                .any(|(n, b)| n.ends_with(".db") && b.len() > 4096));
        }
        TestBackend::Postgres => {
            let schema = db.postgres_schema.clone().unwrap();
            let out = std::process::Command::new("pg_dump")
                .arg("--schema")
                .arg(&schema)
                .arg(patchbay_store::testing::postgres_url())
                .output()
                .expect("pg_dump runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dump = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(
                dump.contains("printing_partner") && dump.contains("COPY"),
                "the dump holds the data"
            );
            haystacks.push(("pg_dump".into(), out.stdout));
        }
    }
    for (name, bytes) in &haystacks {
        for secret in planted {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} found in {name}"
            );
        }
    }
}

async fn keys_rotate_while_serving(backend: TestBackend) {
    let dir = process::temp_dir("rotate");
    let (mut server, db, master) =
        start_on(backend, &dir, &[("PATCHBAY_KEYRING_REFRESH_SECONDS", "1")]).await;
    let (_, ws) = server
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "rot"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for i in 0..30 {
        let body = json!({"connector": "printing_partner", "owner": {"id": format!("u{i}")},
            "config": {"shop_id": format!("shop-{i}"), "api_base_url": "https://print.example"},
            "secrets": {"api_key": format!("pp_live_first_{i:04}_abcdef"), "callback_secret": "callback-secret-0123456789abcdef"}});
        let (s, c) = server
            .call("POST", "/v1/connections", &key, Some(body))
            .await;
        assert_eq!(s, 201);
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    // Writers keep rotating secrets through the running server while the CLI rotates the keyring.
    let base = server.base.clone();
    let writer_ids = ids.clone();
    let writer_key = key.clone();
    let writers = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut last = std::collections::HashMap::new();
        for round in 0..8 {
            for (i, id) in writer_ids.iter().enumerate() {
                let value = format!("pp_live_round{round}_{i:04}_abcdef");
                let r = client
                    .patch(format!("{base}/v1/connections/{id}"))
                    .bearer_auth(&writer_key)
                    .json(&json!({"secrets": {"api_key": value}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                last.insert(id.clone(), value);
            }
        }
        last
    });
    let (url, mk, dir2) = (db.url.clone(), master.clone(), dir.clone());
    let out = tokio::task::spawn_blocking(move || {
        patchbay(
            &dir2,
            &["keys", "rotate", "--settle-seconds", "3"],
            &[
                ("PATCHBAY_DATABASE_URL", &url),
                ("PATCHBAY_MASTER_KEY", &mk),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = writers.await.unwrap();
    // Every secret still opens (a GET opens them all) and the server kept serving.
    for id in &ids {
        let (s, c) = server
            .call("GET", &format!("/v1/connections/{id}"), &key, None)
            .await;
        assert_eq!(s, 200, "{c}");
        assert_eq!(c["validation_errors"], json!([]));
        let want = &last[id];
        assert_eq!(
            c["redacted_secrets"]["api_key"],
            format!("••••{}", &want[want.len() - 4..])
        );
    }
    server.terminate().await;
    // All rows sealed with the new key, and each holds the last value written.
    let store = db.open().await.unwrap();
    let vault = patchbay_engine::Vault::load(
        store.clone(),
        patchbay_vault::MasterKey::from_base64(&master).unwrap(),
    )
    .await
    .unwrap();
    let active = vault.active_key_id().unwrap();
    assert_eq!(active, 2);

    let stale = store
        .count_credentials_not_on_key(i64::from(active))
        .await
        .unwrap();
    assert_eq!(
        stale, 0,
        "servers picked up the new key before the last sweep"
    );
    for id in &ids {
        let creds = store.list_credentials("connection", id).await.unwrap();
        let api = creds.iter().find(|c| c.field == "api_key").unwrap();
        assert_eq!(vault.open_credential(api).await.unwrap().expose(), last[id]);
    }
}

/// Two `patchbay serve` processes on one PostgreSQL database hammer one OAuth connection whose
/// token lives two seconds (refreshed one second ahead). The provider rotates refresh tokens, so
/// two refreshes of one expiry would make the second fail with invalid_grant: every refresh must
/// succeed, and there may be about one per second, not one per process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_refresh_once_per_expiry() {
    use patchbay_emulators::oauth2::{self, OAuthConfig};
    let em = oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        rotate_refresh_tokens: true,
        access_token_ttl: Some(std::time::Duration::from_secs(2)),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = process::temp_dir("two-proc");
    let providers = dir.join("providers.yaml");
    std::fs::write(
        &providers,
        format!(
            "todoist: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', userinfo_url: '{}', pkce: true, client_auth: basic, refresh_ahead_seconds: 1}}\n",
            em.authorize_url(),
            em.token_url(),
            em.revoke_url(),
            em.userinfo_url()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let public = format!("http://127.0.0.1:{port}");
    let db = new_database(TestBackend::Postgres);
    db.open().await.unwrap().close().await;
    let master = patchbay_vault::MasterKey::generate_base64();
    let providers_path = providers.display().to_string();
    let env: Vec<(&str, &str)> = vec![
        ("PATCHBAY_DATABASE_URL", &db.url),
        ("PATCHBAY_MASTER_KEY", &master),
        ("PATCHBAY_ADMIN_KEY", process::ADMIN),
        ("PATCHBAY_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8"),
        ("PATCHBAY_PROVIDERS_FILE", &providers_path),
        ("PATCHBAY_PUBLIC_URL", &public),
        ("PATCHBAY_LOG_LEVEL", "warn"),
    ];
    let bind_a = format!("127.0.0.1:{port}");
    let mut a = Server::start(&dir, &["serve", "--bind", &bind_a], &env).await;
    let mut b = Server::start(&dir, &["serve", "--bind", "127.0.0.1:0"], &env).await;
    let (_, ws) = a
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "two"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    let app =
        json!({"client_id": em.config().client_id, "client_secret": em.config().client_secret});
    assert_eq!(
        a.call("PUT", "/v1/oauth-apps/todoist", &key, Some(app))
            .await
            .0,
        200
    );
    let (_, session) = b
        .call("POST", "/v1/connect-sessions", &key, Some(json!({"connector": "todoist", "owner": {"id": "u1"}, "return_url": "https://app.example/done"})))
        .await;
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let loc = |r: reqwest::Response| r.headers()["location"].to_str().unwrap().to_string();
    let to_provider = loc(no_redirect
        .get(session["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap());
    let callback = em.approve(&to_provider).await.unwrap();
    let back = loc(no_redirect.get(&callback).send().await.unwrap());
    let id = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "connection_id")
        .map(|(_, v)| v.to_string())
        .expect(&back);

    let started = std::time::Instant::now();
    let run_for = std::time::Duration::from_secs(6);
    let mut tasks = Vec::new();
    for base in [a.base.clone(), b.base.clone()] {
        for _ in 0..6 {
            let (base, key, id) = (base.clone(), key.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut calls, mut failures) = (0u32, 0u32);
                while started.elapsed() < run_for {
                    let r: Value = client
                        .post(format!("{base}/v1/connections/{id}/test"))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    calls += 1;
                    if r["ok"] != true {
                        if failures == 0 {
                            eprintln!("first failure: {r}");
                        }
                        failures += 1;
                    }
                }
                (calls, failures)
            }));
        }
    }
    let (mut calls, mut failures) = (0, 0);
    for t in tasks {
        let (c, f) = t.await.unwrap();
        calls += c;
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let refreshes = em.token_requests("refresh_token");
    let granted = em.tokens_issued("refresh_token");
    eprintln!(
        "two processes, {calls} token uses in {elapsed:.1} s: {refreshes} refresh requests, {granted} granted, {failures} failed calls (token lifetime 2 s, refreshed 1 s ahead)"
    );
    assert_eq!(failures, 0, "every call had a valid token");
    assert_eq!(
        refreshes, granted,
        "no refresh was refused: none raced another on a rotated token"
    );
    assert!(
        refreshes >= 3,
        "tokens were refreshed as they expired ({refreshes})"
    );
    assert!(
        refreshes as f64 <= elapsed + 2.0,
        "about one refresh per expiry, not one per process ({refreshes} in {elapsed:.1} s)"
    );
    let (_, c) = a
        .call("GET", &format!("/v1/connections/{id}"), &key, None)
        .await;
    assert_eq!(c["health"], "healthy");
    a.terminate().await;
    b.terminate().await;
}

both_backends!(killed_worker_is_resumed_by_another);

use gmail_crash::killed_gmail_sync_resumes_without_duplicates;
both_backends!(killed_gmail_sync_resumes_without_duplicates);

/// A real `patchbay worker` is killed mid-sync; another worker takes the job over when the lease
/// expires, resumes from the last committed page, and the stored set equals the source exactly.
async fn killed_worker_is_resumed_by_another(backend: TestBackend) {
    use patchbay_emulators::records::{self, RecordsConfig};
    let em = records::spawn(RecordsConfig {
        count: 3000,
        record_bytes: 400,
        ..Default::default()
    })
    .await
    .unwrap();
    em.set_latency(std::time::Duration::from_millis(60));
    let dir = process::temp_dir("kill");
    let db = new_database(backend);
    db.open().await.unwrap().close().await;
    let master = patchbay_vault::MasterKey::generate_base64();
    let env = crash::env(&db.url, &master, &[]);
    let (mut api, key) = crash::api_with_workspace(&dir, &env).await;
    let body = json!({"connector": "http_json", "owner": {"id": "u1"}, "enable": true,
        "config": {"base_url": em.base_url, "list_path": "/v1/records", "page_size": 100},
        "secrets": {"api_key": em.config().api_key}});
    let (s, c) = api.call("POST", "/v1/connections", &key, Some(body)).await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let (s, run) = api
        .call(
            "POST",
            &format!("/v1/connections/{id}/syncs"),
            &key,
            Some(json!({"mode": "full"})),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    let run_path = format!("/v1/connections/{id}/syncs/{}", run["id"].as_str().unwrap());

    let mut first = Server::start_worker(&dir, &crash::refs(&env)).await;
    crash::wait_for_pages(&mut api, &key, &run_path, 5).await;
    first.kill();
    let (_, at_kill) = api.call("GET", &run_path, &key, None).await;
    assert_eq!(at_kill["status"], "running");
    let pages_at_kill = at_kill["pages"].as_i64().unwrap();
    assert!(
        pages_at_kill < 30,
        "killed mid-run ({pages_at_kill} of 30 pages)"
    );

    let mut second = Server::start_worker(&dir, &crash::refs(&env)).await;
    let done = crash::wait_for_end(&mut api, &key, &run_path).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["added"], 3000, "every record counted once: {done}");
    // The stored set is exactly the source: no gaps, no duplicates.
    let stored = crash::all_records(&mut api, &key, &id, "records").await;
    let mut ids = Vec::new();
    for r in &stored {
        ids.push(r["id"].as_str().unwrap().to_string());
        if ids.len() % 250 == 0 {
            let index: usize = r["id"].as_str().unwrap()[4..].parse().unwrap();
            assert_eq!(r["data"], em.record_json(index));
        }
    }
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((total, ids.len()), (3000, 3000));
    assert_eq!(ids, em.live_ids());
    second.terminate().await;
    api.terminate().await;
}

both_backends!(cli_sync_run_summarises);

async fn cli_sync_run_summarises(backend: TestBackend) {
    let em = patchbay_emulators::printing_partner::spawn(Default::default())
        .await
        .unwrap();
    let dir = process::temp_dir("cli-sync");
    let (mut server, db, master) =
        start_on(backend, &dir, &[("PATCHBAY_WORKER_CONCURRENCY", "1")]).await;
    let (_, ws) = server
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "cli"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    let body = json!({"connector": "printing_partner", "owner": {"id": "u1"}, "enable": true,
        "config": {"shop_id": "demo-shop", "api_base_url": em.base_url},
        "secrets": {"api_key": em.config().api_key, "callback_secret": "callback-secret-0123456789abcdef"}});
    let (s, c) = server
        .call("POST", "/v1/connections", &key, Some(body))
        .await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    server.terminate().await;
    let env = [
        ("PATCHBAY_DATABASE_URL", db.url.as_str()),
        ("PATCHBAY_MASTER_KEY", master.as_str()),
        ("PATCHBAY_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8"),
    ];
    let (dir2, id2) = (dir.clone(), id.clone());
    let env_owned: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let run = move |args: Vec<&'static str>| {
        let (dir, id, env) = (dir2.clone(), id2.clone(), env_owned.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let mut full: Vec<&str> = vec!["sync", "run", &id];
                full.extend(args);
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                patchbay(&dir, &full, &env)
            })
            .await
            .unwrap()
        }
    };
    let out = run(vec!["--full"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("completed") && text.contains("30 records") && text.contains("30 added"),
        "{text}"
    );
    let out = run(vec![]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // Incremental: no order changed since the checkpoint; products have no checkpoint.
    assert!(text.contains("0 added, 0 updated, 5 unchanged"), "{text}");
    // Unknown connections are a clear error.
    let out = patchbay(
        &dir,
        &["sync", "run", "conn_00000000000000000000000000000000"],
        &env,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

both_backends!(acknowledged_webhooks_survive_a_crash);

/// A load generator posts signed webhooks while the server is killed with SIGKILL: every
/// delivery that got a 2xx must be in the store after a restart.
async fn acknowledged_webhooks_survive_a_crash(backend: TestBackend) {
    let secret = "callback-secret-0123456789abcdef";
    let em = patchbay_emulators::printing_partner::spawn(patchbay_emulators::PrintingConfig {
        callback_secret: secret.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = process::temp_dir("crash");
    let (mut server, db, _master) =
        start_on(backend, &dir, &[("PATCHBAY_LOG_LEVEL", "warn")]).await;
    let (_, ws) = server
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "crash"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    let body = json!({"connector": "printing_partner", "owner": {"id": "u1"}, "enable": true,
        "config": {"shop_id": "demo-shop", "api_base_url": em.base_url},
        "secrets": {"api_key": em.config().api_key, "callback_secret": secret}});
    let (s, c) = server
        .call("POST", "/v1/connections", &key, Some(body))
        .await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let url = format!("{}/v1/webhooks/printing_partner/{id}", server.base);
    let order = em.order_ids()[0].clone();
    let payload = em.order_event("order.updated", &order).unwrap().body;
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for t in 0..16 {
        let (url, payload, acked, stop) =
            (url.clone(), payload.clone(), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let delivery = format!("d-{t}-{n}");
                n += 1;
                let sent = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .header("X-Patchbay-Integration-Secret", secret)
                    .header("X-Patchbay-Delivery-Id", &delivery)
                    .body(payload.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(delivery),
                    Ok(r) => panic!("unexpected {}", r.status()),
                    Err(_) => {} // the server died under us: not acknowledged, nothing promised
                }
            }
        }));
    }
    // Kill it mid-load.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while acked.lock().unwrap().len() < 300 {
        assert!(std::time::Instant::now() < deadline, "no load got through");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    server.kill();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    // Everything acknowledged is stored.
    let store = db.open().await.unwrap();
    let mut stored = std::collections::HashSet::new();
    let mut before: Option<String> = None;
    loop {
        let page = store
            .list_webhook_events(&id, before.as_deref(), 500)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id.clone());
        stored.extend(page.into_iter().map(|e| e.delivery_id));
    }
    let missing: Vec<&String> = acked.iter().filter(|d| !stored.contains(*d)).collect();
    eprintln!(
        "{} acknowledged before the kill, {} stored, {} missing",
        acked.len(),
        stored.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "acknowledged but lost: {:?}",
        &missing[..missing.len().min(5)]
    );
    assert!(acked.len() >= 300);
}
