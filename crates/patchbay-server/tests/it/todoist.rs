//! The Todoist connector through the API: connected with OAuth against the OAuth2 emulator,
//! calling the Todoist emulator (which honours that server's tokens): sync, closing a task, and
//! a token Todoist refuses even after a refresh.

use crate::{both_backends, TestApp};
use patchbay_emulators::oauth2::{self, OAuthConfig, OAuthEmulator};
use patchbay_emulators::todoist::{self, TodoistConfig, TodoistEmulator};
use patchbay_engine::sync::jobs::RunOutcome;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

both_backends!(
    connect_sync_and_close_a_task,
    refused_after_refresh_needs_reconnect,
    revoked_imported_token_needs_reconnect
);

const RETURN: &str = "https://app.example/connected";

struct Setup {
    oauth: Arc<OAuthEmulator>,
    todo: TodoistEmulator,
    /// While false, Todoist refuses every token, as when the user removes the app's access.
    todoist_accepts: Arc<AtomicBool>,
    app: TestApp,
    key: String,
    id: String,
}

/// Points the catalog's Todoist entry at the emulators and connects one account.
async fn connected(backend: TestBackend) -> Setup {
    // Todoist's scope names are not the emulator's defaults: accept any.
    let oauth = Arc::new(
        oauth2::spawn(OAuthConfig {
            scopes_supported: vec![],
            ..Default::default()
        })
        .await
        .unwrap(),
    );
    let todo = todoist::spawn(TodoistConfig {
        projects: 2,
        tasks: 5,
        ..Default::default()
    })
    .await
    .unwrap();
    let todoist_accepts = Arc::new(AtomicBool::new(true));
    let (server, accepts) = (oauth.clone(), todoist_accepts.clone());
    todo.accept_tokens_with(move |t| {
        accepts.load(Ordering::SeqCst) && server.access_token_valid(t)
    });
    let overrides = format!(
        "todoist: {{authorization_url: '{}', token_url: '{}', revocation_url: '{}', \
         userinfo_url: '{}/api/v1/user', api_base_url: '{}', pkce: true, client_auth: basic}}",
        oauth.authorize_url(),
        oauth.token_url(),
        oauth.revoke_url(),
        todo.base_url,
        todo.base_url,
    );
    let app = TestApp::spawn_with_providers(backend, &overrides).await;
    let (_, key) = app.workspace("acme").await;
    let (s, body) = app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/todoist",
            &key,
            Some(json!({"client_id": oauth.config().client_id, "client_secret": oauth.config().client_secret})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let id = crate::oauth_connect(&app, &key, &oauth, "todoist", RETURN).await;
    Setup {
        oauth,
        todo,
        todoist_accepts,
        app,
        key,
        id,
    }
}

async fn full_sync(app: &TestApp, key: &str, id: &str) {
    let (s, run) = app
        .post(
            &format!("/v1/connections/{id}/syncs"),
            key,
            json!({"mode": "full"}),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    while let RunOutcome::Ran { .. } = app.engine.syncs().try_run_one("test-worker").await.unwrap()
    {
    }
    let run_id = run["id"].as_str().unwrap();
    let (_, run) = app
        .get(&format!("/v1/connections/{id}/syncs/{run_id}"), key)
        .await;
    assert_eq!(run["status"], "completed", "{run}");
}

async fn record_ids(app: &TestApp, key: &str, id: &str, entity: &str) -> Vec<String> {
    let (s, page) = app
        .get(
            &format!("/v1/connections/{id}/records/{entity}?limit=500"),
            key,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let mut ids: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

async fn connect_sync_and_close_a_task(backend: TestBackend) {
    let Setup {
        todo, app, key, id, ..
    } = connected(backend).await;
    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(
        (&c["lifecycle"], &c["health"], &c["account_id"]),
        (
            &json!("enabled"),
            &json!("healthy"),
            &json!(todo.config().user_id)
        ),
        "the account is the Todoist user: {c}"
    );

    full_sync(&app, &key, &id).await;
    assert_eq!(
        record_ids(&app, &key, &id, "tasks").await,
        sorted(todo.active_task_ids())
    );
    assert_eq!(
        record_ids(&app, &key, &id, "projects").await,
        sorted(todo.project_ids())
    );
    assert_eq!(todo.project_ids().len(), 3, "the inbox and two projects");

    let task = todo.active_task_ids()[1].clone();
    let (s, out) = app
        .post(
            &format!("/v1/connections/{id}/actions/close_task"),
            &key,
            json!({"task_id": task}),
        )
        .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(todo.task(&task).unwrap()["checked"], true);
    assert!(!todo.active_task_ids().contains(&task));
    // The next full sync no longer finds it among the open tasks.
    full_sync(&app, &key, &id).await;
    let open = record_ids(&app, &key, &id, "tasks").await;
    assert_eq!(open.len(), 4);
    assert!(!open.contains(&task));
}

async fn refused_after_refresh_needs_reconnect(backend: TestBackend) {
    let Setup {
        oauth,
        todo,
        todoist_accepts,
        app,
        key,
        id,
    } = connected(backend).await;
    let task = todo.active_task_ids()[0].clone();
    todoist_accepts.store(false, Ordering::SeqCst);
    let refreshes = oauth.token_requests("refresh_token");
    let closes = todo.calls(&format!("/api/v1/tasks/{task}/close"));

    let (s, err) = app
        .post(
            &format!("/v1/connections/{id}/actions/close_task"),
            &key,
            json!({"task_id": task}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("needs_reconnect")),
        "{err}"
    );
    assert_eq!(
        oauth.token_requests("refresh_token") - refreshes,
        1,
        "one forced refresh"
    );
    assert_eq!(
        todo.calls(&format!("/api/v1/tasks/{task}/close")) - closes,
        2,
        "one call and one retry with the fresh token"
    );
    assert_eq!(todo.task(&task).unwrap()["checked"], false);

    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(c["health"], "needs_reconnect", "{c}");
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    let expired: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "connection.token_expired")
        .collect();
    assert_eq!(expired.len(), 1, "{events}");
    assert_eq!(expired[0]["connection_id"], id.as_str());
    assert_eq!(events_of(&events, "action.failed", &id), 1, "{events}");
}

/// How many events of `kind` the page holds for connection `id`.
fn events_of(page: &Value, kind: &str, id: &str) -> usize {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind && e["connection_id"] == id)
        .count()
}

/// A token imported as a secret, with no OAuth app in the workspace: once Todoist refuses it,
/// the owner must reconnect, and the failed run is on record.
async fn revoked_imported_token_needs_reconnect(backend: TestBackend) {
    let todo = todoist::spawn(TodoistConfig {
        projects: 1,
        tasks: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let token = todo.config().tokens[0].clone();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let c = app
        .connection(
            &key,
            json!({"connector": "todoist", "owner": {"id": "ada"}, "enable": true,
                   "config": {"base_url": todo.base_url.replace("127.0.0.1", "localhost")},
                   "secrets": {"access_token": token}}),
        )
        .await;
    assert_eq!(c["lifecycle"], "enabled", "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let task = todo.active_task_ids()[0].clone();
    todo.revoke_token(&token);

    let (s, err) = app
        .post(
            &format!("/v1/connections/{id}/actions/close_task"),
            &key,
            json!({"task_id": task}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("needs_reconnect")),
        "{err}"
    );
    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(c["health"], "needs_reconnect", "{c}");
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    assert_eq!(
        events_of(&events, "connection.token_expired", &id),
        1,
        "{events}"
    );
    assert_eq!(events_of(&events, "action.failed", &id), 1, "{events}");
    assert!(!events.to_string().contains(&token), "{events}");
}
