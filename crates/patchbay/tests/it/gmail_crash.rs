//! A Gmail sync whose worker is killed with SIGKILL mid-run: another worker resumes from the
//! last committed page, every message is stored once, and the mail context counts every
//! message once per person however often a page was fetched.

use crate::crash;
use crate::process::{self, Server};
use patchbay_emulators::gmail::{self, GmailConfig};
use patchbay_emulators::oauth2::{self, ClientAuth, OAuthConfig};
use patchbay_store::testing::{new_database, TestBackend};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const MESSAGES: usize = 1000;

async fn redirect(url: &str) -> String {
    oauth2::redirect_location(url)
        .await
        .unwrap_or_else(|e| panic!("{url} did not redirect: {e}"))
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
    let env = crash::env(
        &db.url,
        &master,
        &[("PATCHBAY_PROVIDERS_FILE", providers.as_str())],
    );
    let (mut api, key) = crash::api_with_workspace(&dir, &env).await;
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

    let mut first = Server::start_worker(&dir, &crash::refs(&env)).await;
    crash::wait_for_pages(&mut api, &key, &run_path, 3).await;
    first.kill();
    let (_, at_kill) = api.call("GET", &run_path, &key, None).await;
    assert_eq!(at_kill["status"], "running", "{at_kill}");
    let pages = MESSAGES as i64 / 100;
    assert!(at_kill["pages"].as_i64().unwrap() < pages, "{at_kill}");

    mail.set_latency(Duration::ZERO);
    let mut second = Server::start_worker(&dir, &crash::refs(&env)).await;
    let done = crash::wait_for_end(&mut api, &key, &run_path).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["added"], MESSAGES, "each message counted once: {done}");

    let messages = crash::all_records(&mut api, &key, &id, "messages").await;
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
    let people = crash::all_records(&mut api, &key, &id, "people").await;
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
