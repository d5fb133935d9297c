//! A Gmail sync whose worker is killed with SIGKILL mid-run: another worker resumes from the
//! last committed page, every message is stored once, and the mail context counts every
//! message once per person however often a page was fetched.

use crate::process::{self, Server};
use patchbay_emulators::gmail::{self, GmailConfig};
use patchbay_emulators::oauth2::{self, ClientAuth, OAuthConfig};
use patchbay_store::testing::{new_database, TestBackend};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const MESSAGES: usize = 1000;

/// Follows one redirect without fetching its target.
async fn redirect(url: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302, "{url}");
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// Every stored record of `entity`, page by page.
async fn all_records(api: &mut Server, key: &str, id: &str, entity: &str) -> Vec<Value> {
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

pub async fn killed_gmail_sync_resumes_without_duplicates(backend: TestBackend) {
    let oauth = oauth2::spawn(OAuthConfig {
        scopes_supported: vec![],
        client_auth: ClientAuth::Body,
        require_pkce: true,
        userinfo: json!({"sub": "109876543210", "email": "ada@example.com"}),
        ..Default::default()
    })
    .await
    .unwrap();
    let mail = gmail::spawn(GmailConfig {
        generated: MESSAGES,
        ..Default::default()
    })
    .await
    .unwrap();
    mail.accept_oauth_tokens(&oauth);
    // Slow enough that the kill lands mid-run.
    mail.set_latency(Duration::from_millis(15));
    let dir = process::temp_dir("gmail-kill");
    let providers = dir.join("providers.yaml");
    std::fs::write(
        &providers,
        format!(
            "google-mail: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', \
             userinfo_url: '{}', api_base_url: '{}', connection_requests_per_second: 10000}}\n",
            oauth.authorize_url(),
            oauth.token_url(),
            oauth.revoke_url(),
            oauth.userinfo_url(),
            mail.base_url
        ),
    )
    .unwrap();
    let db = new_database(backend);
    db.open().await.unwrap().close().await;
    let master = patchbay_vault::MasterKey::generate_base64();
    let providers = providers.display().to_string();
    let env: Vec<(&str, &str)> = vec![
        ("PATCHBAY_DATABASE_URL", &db.url),
        ("PATCHBAY_MASTER_KEY", &master),
        ("PATCHBAY_ADMIN_KEY", process::ADMIN),
        ("PATCHBAY_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8"),
        ("PATCHBAY_PROVIDERS_FILE", &providers),
        ("PATCHBAY_JOB_LEASE_SECONDS", "2"),
        ("PATCHBAY_WORKER_CONCURRENCY", "1"),
        ("PATCHBAY_LOG_LEVEL", "warn"),
    ];
    let mut api = Server::start(
        &dir,
        &["serve", "--no-worker", "--bind", "127.0.0.1:0"],
        &env,
    )
    .await;
    let (_, ws) = api
        .call(
            "POST",
            "/v1/admin/workspaces",
            process::ADMIN,
            Some(json!({"name": "mail"})),
        )
        .await;
    let key = ws["secret_key"].as_str().unwrap().to_string();
    let (status, body) = api
        .call(
            "PUT",
            "/v1/oauth-apps/google-mail",
            &key,
            Some(json!({"client_id": oauth.config().client_id,
                        "client_secret": oauth.config().client_secret})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, session) = api
        .call(
            "POST",
            "/v1/connect-sessions",
            &key,
            Some(json!({"connector": "google-mail", "owner": {"id": "ada"},
                        "return_url": "https://app.example/back"})),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    // Bound to port 0, the server names itself that way; reach it where it listens.
    let here = |u: &str| u.replace("http://127.0.0.1:0", &api.base);
    let to_google = redirect(&here(session["authorize_url"].as_str().unwrap())).await;
    let callback = oauth.approve(&to_google).await.unwrap();
    let back = url::Url::parse(&redirect(&here(&callback)).await).unwrap();
    let id = back
        .query_pairs()
        .find(|(k, _)| k == "connection_id")
        .expect("connected")
        .1
        .into_owned();
    // One message fetched at a time, so pages take a while each.
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/v1/connections/{id}"),
            &key,
            Some(json!({"config": {"fetch_concurrency": 1}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, run) = api
        .call(
            "POST",
            &format!("/v1/connections/{id}/syncs"),
            &key,
            Some(json!({"mode": "full", "entities": ["messages"]})),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let run_path = format!("/v1/connections/{id}/syncs/{}", run["id"].as_str().unwrap());

    let mut first = Server::start_worker(&dir, &env).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, r) = api.call("GET", &run_path, &key, None).await;
        if r["pages"].as_i64().unwrap_or(0) >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let (_, at_kill) = api.call("GET", &run_path, &key, None).await;
    assert_eq!(at_kill["status"], "running", "{at_kill}");
    let pages = MESSAGES as i64 / 100;
    assert!(at_kill["pages"].as_i64().unwrap() < pages, "{at_kill}");

    mail.set_latency(Duration::ZERO);
    let mut second = Server::start_worker(&dir, &env).await;
    let done = loop {
        let (_, r) = api.call("GET", &run_path, &key, None).await;
        if r["status"] != "running" && r["status"] != "pending" {
            break r;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(120),
            "never finished: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["added"], MESSAGES, "each message counted once: {done}");

    let messages = all_records(&mut api, &key, &id, "messages").await;
    let ids: BTreeSet<String> = messages
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!((messages.len(), ids.len()), (MESSAGES, MESSAGES));
    let expected_ids: BTreeSet<String> = mail.message_ids().into_iter().collect();
    assert_eq!(ids, expected_ids);

    // Each person's count is the number of messages naming them, whatever was fetched twice.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for m in &messages {
        let mut named = BTreeSet::new();
        for field in ["from", "to", "cc", "reply_to"] {
            for a in m["data"][field].as_array().into_iter().flatten() {
                if let Some(address) = a["address"].as_str() {
                    named.insert(address.to_ascii_lowercase());
                }
            }
        }
        for address in named {
            *expected.entry(address).or_default() += 1;
        }
    }
    let people = all_records(&mut api, &key, &id, "people").await;
    let counted: BTreeMap<String, i64> = people
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["data"]["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(!counted.is_empty());
    assert_eq!(counted, expected);
    second.terminate().await;
    api.terminate().await;
}
