//! The GitHub connector through the API, against the GitHub emulator: enabling, full and
//! incremental syncs through the job queue, every action, signed webhooks into records, and
//! GitHub App deliveries routed by their installation id.

use crate::{both_backends, TestApp};
use patchbay_emulators::github::{self, GithubConfig, GithubEmulator, Permissions};
use patchbay_engine::sync::jobs::RunOutcome;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};

both_backends!(
    enable_and_sync_full_then_incremental,
    actions_change_the_repository,
    webhooks_update_pull_requests_and_branches,
    installation_deliveries_are_routed_by_payload,
    revoked_personal_token_needs_reconnect,
    concurrent_refusals_tell_the_owner_once,
    oauth_connect_through_githubs_own_flow,
    signals_data_and_proxy_through_the_api,
    comments_route_to_bindings_and_replies_are_comments,
);

const TOKEN: &str = "ghp_patchbay_test_token_0001";
const HOOK_SECRET: &str = "github-hook-secret-0123456789";
const INSTALLATION: u64 = 4242;

/// An emulator with octo's repository `octo/app` (issues, a pull request, commits on
/// `main`) and the org repository `acme/site` (default branch `develop`) octo may push to.
async fn emulator() -> GithubEmulator {
    let emu = github::spawn(GithubConfig {
        webhook_secret: HOOK_SECRET.into(),
        installation_id: Some(INSTALLATION),
        ..Default::default()
    })
    .await
    .unwrap();
    emu.add_token(TOKEN, "octo");
    emu.add_repo("octo/app", false).unwrap();
    emu.add_org("acme");
    emu.add_repo_with_branch("acme/site", false, "develop")
        .unwrap();
    emu.grant("acme/site", "octo", Permissions::WRITE);
    emu.add_issue("octo/app", "Crash on start", "octo").unwrap();
    emu.add_issue("octo/app", "Typo in README", "octo").unwrap();
    emu.add_pull("octo/app", "Faster start", "fast-start", "octo")
        .unwrap();
    emu.add_commit("octo/app", "main", "Initial import")
        .unwrap();
    emu.add_commit("octo/app", "main", "Add CI").unwrap();
    emu
}

fn body(emu: &GithubEmulator, owner: &str, extra: Value) -> Value {
    let mut config = json!({"base_url": emu.api_url()});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"connector": "github", "owner": {"id": owner}, "config": config,
           "secrets": {"access_token": TOKEN, "webhook_secret": HOOK_SECRET}})
}

/// A connection created as a draft and then enabled; returns its id.
async fn enabled(
    app: &TestApp,
    key: &str,
    emu: &GithubEmulator,
    owner: &str,
    extra: Value,
) -> String {
    let c = app.connection(key, body(emu, owner, extra)).await;
    assert_eq!(c["lifecycle"], "draft", "{c}");
    let id = c["id"].as_str().unwrap().to_string();
    let tests_before = emu.calls("/user");
    let (s, c) = app
        .patch(
            &format!("/v1/connections/{id}"),
            key,
            json!({"lifecycle": "enabled"}),
        )
        .await;
    assert_eq!((s, c["lifecycle"].as_str()), (200, Some("enabled")), "{c}");
    assert_eq!(
        emu.calls("/user") - tests_before,
        1,
        "enabling tests the connection"
    );
    id
}

async fn setup(backend: TestBackend) -> (GithubEmulator, TestApp, String, String) {
    let emu = emulator().await;
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let id = enabled(&app, &key, &emu, "u1", json!({})).await;
    (emu, app, key, id)
}

/// Starts a sync and drains the queue with this test as the worker; returns the run.
async fn sync(app: &TestApp, key: &str, id: &str, mode: &str) -> Value {
    let (s, run) = app
        .post(
            &format!("/v1/connections/{id}/syncs"),
            key,
            json!({"mode": mode}),
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
    run
}

async fn records(app: &TestApp, key: &str, id: &str, entity: &str) -> Vec<Value> {
    let (s, page) = app
        .get(
            &format!("/v1/connections/{id}/records/{entity}?limit=500"),
            key,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

async fn record_ids(app: &TestApp, key: &str, id: &str, entity: &str) -> Vec<String> {
    let mut ids: Vec<String> = records(app, key, id, entity)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn record(app: &TestApp, key: &str, id: &str, entity: &str, record_id: &str) -> Value {
    records(app, key, id, entity)
        .await
        .into_iter()
        .find(|r| r["id"] == record_id)
        .unwrap_or_else(|| panic!("no {entity} record {record_id}"))
}

async fn pr_state(app: &TestApp, key: &str, id: &str) -> Value {
    record(app, key, id, "pull_requests", "octo/app/3").await["data"]["state"].clone()
}

async fn stored_events(app: &TestApp, key: &str, id: &str) -> usize {
    let (s, page) = app
        .get(
            &format!("/v1/connections/{id}/webhook-events?limit=100"),
            key,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    page["data"].as_array().unwrap().len()
}

async fn action(app: &TestApp, key: &str, id: &str, name: &str, input: Value) -> Value {
    let (s, out) = app
        .post(&format!("/v1/connections/{id}/actions/{name}"), key, input)
        .await;
    assert_eq!(s, 200, "{name}: {out}");
    assert_eq!(out["action"], name);
    out["result"].clone()
}

async fn enable_and_sync_full_then_incremental(backend: TestBackend) {
    let (emu, app, key, id) = setup(backend).await;
    let run = sync(&app, &key, &id, "full").await;
    assert!(run["added"].as_i64().unwrap() >= 7, "{run}");
    assert_eq!(
        record_ids(&app, &key, &id, "repositories").await,
        ["acme/site", "octo/app"]
    );
    assert_eq!(
        record_ids(&app, &key, &id, "issues").await,
        ["octo/app/1", "octo/app/2"],
        "pull requests are not issues"
    );
    let pr = record(&app, &key, &id, "pull_requests", "octo/app/3").await;
    assert_eq!(pr["data"]["state"], "open", "{pr}");
    let commits = records(&app, &key, &id, "commits").await;
    let messages: Vec<&str> = commits
        .iter()
        .filter_map(|c| c["data"]["commit"]["message"].as_str())
        .collect();
    for m in ["Initial import", "Add CI"] {
        assert!(messages.contains(&m), "{messages:?}");
    }

    // A new issue appears on GitHub; an incremental run brings it and only what changed.
    let n = emu.add_issue("octo/app", "Dark mode", "mona").unwrap();
    emu.update_item("octo/app", n, |_| {}).unwrap();
    let run = sync(&app, &key, &id, "incremental").await;
    assert_eq!(
        (run["added"].as_i64(), run["deleted"].as_i64()),
        (Some(1), Some(0)),
        "{run}"
    );
    let issue = record(&app, &key, &id, "issues", &format!("octo/app/{n}")).await;
    assert_eq!(issue["data"]["title"], "Dark mode");
    assert_eq!(record_ids(&app, &key, &id, "issues").await.len(), 3);
}

async fn actions_change_the_repository(backend: TestBackend) {
    let (emu, app, key, id) = setup(backend).await;
    let created = action(
        &app,
        &key,
        &id,
        "create_issue",
        json!({"repository": "octo/app", "title": "From patchbay", "body": "Filed by a test"}),
    )
    .await;
    let n = created["number"].as_u64().unwrap();
    let issue = emu.issue("octo/app", n).unwrap();
    assert_eq!(
        (&issue["title"], &issue["state"]),
        (&json!("From patchbay"), &json!("open"))
    );

    action(
        &app,
        &key,
        &id,
        "comment_on_issue",
        json!({"repository": "octo/app", "number": n, "body": "Looking into it"}),
    )
    .await;
    assert_eq!(emu.issue("octo/app", n).unwrap()["comments"], 1);

    // No base given: the repository's default branch (`develop`, not `main`) is used.
    emu.add_branch("acme/site", "redesign");
    let pull = action(
        &app,
        &key,
        &id,
        "create_pull_request",
        json!({"repository": "acme/site", "title": "Redesign", "head": "redesign"}),
    )
    .await;
    assert_eq!(pull["base"]["ref"], "develop", "{pull}");
    let opened = emu
        .issue("acme/site", pull["number"].as_u64().unwrap())
        .unwrap();
    assert_eq!(opened["title"], "Redesign");
    assert!(opened["pull_request"].is_object(), "{opened}");

    let checked = action(
        &app,
        &key,
        &id,
        "validate_repository",
        json!({"url": "git@github.com:acme/site.git"}),
    )
    .await;
    assert_eq!(
        checked,
        json!({"full_name": "acme/site", "default_branch": "develop", "can_push": true, "private": false})
    );
    let (s, err) = app
        .post(
            &format!("/v1/connections/{id}/actions/validate_repository"),
            &key,
            json!({"repository": "acme/missing"}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (404, Some("provider_not_found")),
        "{err}"
    );
}

async fn webhooks_update_pull_requests_and_branches(backend: TestBackend) {
    let (emu, app, key, id) = setup(backend).await;
    let hook = format!("{}/v1/webhooks/github/{id}", app.base);
    emu.set_webhook(&hook, HOOK_SECRET);
    for (action, expected) in [
        ("converted_to_draft", "draft"),
        ("ready_for_review", "open"),
        ("closed", "closed"),
        ("reopened", "open"),
        ("merged", "merged"),
    ] {
        let d = emu.emit_pull_request("octo/app", 3, action).await.unwrap();
        assert_eq!(d.status, Some(202), "{action}");
        assert_eq!(
            app.engine
                .webhooks()
                .process_webhooks_once(100)
                .await
                .unwrap(),
            1
        );
        assert_eq!(pr_state(&app, &key, &id).await, expected, "after {action}");
    }

    let d = emu.emit_push("octo/app", "fast-start", 2).await.unwrap();
    assert_eq!(d.status, Some(202));
    assert_eq!(
        app.engine
            .webhooks()
            .process_webhooks_once(100)
            .await
            .unwrap(),
        1
    );
    let branch = record(&app, &key, &id, "branches", "octo/app/fast-start").await;
    assert_eq!(branch["data"]["pushed_commits"], 2, "{branch}");
    let pushed: Value = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(branch["data"]["head_sha"], pushed["after"]);

    // A delivery signed with another secret is refused and leaves no trace.
    let stored = stored_events(&app, &key, &id).await;
    emu.set_webhook(&hook, "not-the-configured-secret");
    let d = emu
        .emit_pull_request("octo/app", 3, "reopened")
        .await
        .unwrap();
    assert_eq!(d.status, Some(401));
    assert_eq!(stored_events(&app, &key, &id).await, stored);
    assert_eq!(
        app.engine
            .webhooks()
            .process_webhooks_once(100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(pr_state(&app, &key, &id).await, "merged");
}

async fn installation_deliveries_are_routed_by_payload(backend: TestBackend) {
    let (emu, app, key, personal) = setup(backend).await;
    // The installation id arrives as a string here: account ids compare as strings.
    let installed = enabled(
        &app,
        &key,
        &emu,
        "u2",
        json!({"installation_id": INSTALLATION.to_string()}),
    )
    .await;
    let (_, c) = app.get(&format!("/v1/connections/{installed}"), &key).await;
    assert_eq!(c["account_id"], INSTALLATION.to_string());

    emu.set_webhook(&format!("{}/v1/webhooks/github", app.base), HOOK_SECRET);
    let d = emu
        .emit_pull_request("octo/app", 3, "closed")
        .await
        .unwrap();
    assert_eq!(d.status, Some(202));
    assert_eq!(
        app.engine
            .webhooks()
            .process_webhooks_once(100)
            .await
            .unwrap(),
        1
    );
    let pr = record(&app, &key, &installed, "pull_requests", "octo/app/3").await;
    assert_eq!(pr["data"]["state"], "closed");
    assert!(
        records(&app, &key, &personal, "pull_requests")
            .await
            .is_empty(),
        "the personal connection is another account"
    );

    // Another installation's delivery finds no connection.
    let other = github::spawn(GithubConfig {
        webhook_secret: HOOK_SECRET.into(),
        installation_id: Some(INSTALLATION + 1),
        ..Default::default()
    })
    .await
    .unwrap();
    other.add_repo("octo/app", false).unwrap();
    other
        .add_pull("octo/app", "Elsewhere", "x", "octo")
        .unwrap();
    other.set_webhook(&format!("{}/v1/webhooks/github", app.base), HOOK_SECRET);
    let d = other
        .emit_pull_request("octo/app", 1, "closed")
        .await
        .unwrap();
    assert_eq!(d.status, Some(404));
}

/// A personal access token has no refresh token and needs no OAuth app: once GitHub refuses
/// it, the owner must reconnect.
async fn revoked_personal_token_needs_reconnect(backend: TestBackend) {
    let (emu, app, key, id) = setup(backend).await;
    emu.revoke_token(TOKEN);
    let issues = emu.calls("/repos/octo/app/issues");
    let (s, err) = app
        .post(
            &format!("/v1/connections/{id}/actions/create_issue"),
            &key,
            json!({"repository": "octo/app", "title": "After revocation"}),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (409, Some("needs_reconnect")),
        "{err}"
    );
    assert_eq!(
        emu.calls("/repos/octo/app/issues") - issues,
        1,
        "nothing to refresh, so no retry"
    );

    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    assert_eq!(
        (c["lifecycle"].as_str(), c["health"].as_str()),
        (Some("enabled"), Some("needs_reconnect")),
        "{c}"
    );
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    let of_type = |t: &str| -> Vec<Value> {
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == t && e["connection_id"] == id.as_str())
            .cloned()
            .collect()
    };
    assert_eq!(of_type("connection.token_expired").len(), 1, "{events}");
    let failed = of_type("action.failed");
    assert_eq!(failed.len(), 1, "{events}");
    assert_eq!(failed[0]["data"]["action"], "create_issue", "{events}");
    let (_, acts) = app
        .get(&format!("/v1/activity?connection_id={id}"), &key)
        .await;
    assert!(acts.to_string().contains("action.failed"), "{acts}");
    for answer in [&err, &events, &acts] {
        assert!(!answer.to_string().contains(TOKEN), "{answer}");
    }
}

async fn concurrent_refusals_tell_the_owner_once(backend: TestBackend) {
    let (emu, app, key, id) = setup(backend).await;
    emu.revoke_token(TOKEN);
    let path = format!("/v1/connections/{id}/actions/create_issue");
    let calls = (0..8).map(|i| {
        app.post(
            &path,
            &key,
            json!({"repository": "octo/app", "title": format!("Race {i}")}),
        )
    });
    for (s, err) in futures_util::future::join_all(calls).await {
        assert_eq!(
            (s, err["error"]["code"].as_str()),
            (409, Some("needs_reconnect")),
            "{err}"
        );
    }
    let (_, events) = app.get("/v1/events?limit=200", &key).await;
    let count = |t: &str| {
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == t && e["connection_id"] == id.as_str())
            .count()
    };
    assert_eq!(count("connection.token_expired"), 1, "{events}");
    assert_eq!(count("action.failed"), 8, "{events}");
    let (_, acts) = app
        .get(&format!("/v1/activity?connection_id={id}&limit=200"), &key)
        .await;
    let expired = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "connection.token_expired")
        .count();
    assert_eq!(expired, 1, "{acts}");
}

async fn oauth_connect_through_githubs_own_flow(backend: TestBackend) {
    use crate::oauth::{location, query, RETURN};
    let emu = emulator().await;
    let overrides = format!(
        "github: {{authorization_url: '{}', token_url: '{}', userinfo_url: '{}/user', api_base_url: '{}'}}",
        emu.authorize_url(),
        emu.token_url(),
        emu.api_url(),
        emu.api_url()
    );
    let app = TestApp::spawn_with_providers(backend, &overrides).await;
    let (_, key) = app.workspace("acme").await;
    let (s, oauth_app) = app
        .call(
            reqwest::Method::PUT,
            "/v1/oauth-apps/github",
            &key,
            Some(json!({"client_id": "Iv1.0123456789abcdef", "client_secret": "gh-app-secret-0123456789"})),
        )
        .await;
    assert_eq!(s, 200, "{oauth_app}");
    emu.register_oauth_app(
        "Iv1.0123456789abcdef",
        "gh-app-secret-0123456789",
        oauth_app["redirect_uri"].as_str().unwrap(),
    );
    emu.sign_in(Some("octo"));

    // Through GitHub's consent and back: the browser ends at the app with a connection.
    let start = || async {
        let (s, session) = app
            .post(
                "/v1/connect-sessions",
                &key,
                json!({"connector": "github", "owner": {"id": "u1"}, "return_url": RETURN}),
            )
            .await;
        assert_eq!(s, 201, "{session}");
        let (s, to_github) = location(session["authorize_url"].as_str().unwrap()).await;
        assert_eq!(s, 302);
        assert!(to_github.starts_with(&emu.authorize_url()), "{to_github}");
        to_github
    };
    let to_github = start().await;
    let asked = query(&to_github);
    assert_eq!(asked["scope"], "repo read:user read:org");
    assert_eq!(asked["code_challenge_method"], "S256");
    let (s, callback) = location(&to_github).await;
    assert_eq!(s, 302);
    assert!(query(&callback).contains_key("code"), "{callback}");
    let (s, back) = location(&callback).await;
    assert_eq!(s, 302);
    assert!(back.starts_with(RETURN), "{back}");
    let back = query(&back);
    let id = back
        .get("connection_id")
        .unwrap_or_else(|| panic!("{back:?}"))
        .clone();
    let (_, c) = app.get(&format!("/v1/connections/{id}"), &key).await;
    let octo = emu.add_user("octo");
    assert_eq!(
        (
            c["lifecycle"].as_str(),
            c["health"].as_str(),
            c["account_id"].as_str()
        ),
        (
            Some("enabled"),
            Some("healthy"),
            Some(octo["id"].to_string().as_str())
        ),
        "{c}"
    );
    // GitHub grants scopes comma-joined; they are read as three scopes.
    assert_eq!(
        c["granted_scopes"],
        json!(["repo", "read:user", "read:org"]),
        "{c}"
    );

    // The issued token works: an action creates the issue as octo.
    let (s, created) = app
        .post(
            &format!("/v1/connections/{id}/actions/create_issue"),
            &key,
            json!({"repository": "octo/app", "title": "Opened through OAuth"}),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let issue = &created["result"];
    assert_eq!(issue["title"], "Opened through OAuth", "{created}");
    assert_eq!(issue["user"]["login"], "octo", "{created}");
    let token_requests = emu.oauth_token_requests();

    // A code is good once: replaying the callback creates nothing more.
    let (_, again) = location(&callback).await;
    let again = query(&again);
    assert!(again.contains_key("error"), "{again:?}");
    assert!(emu.oauth_token_requests() <= token_requests + 1);

    // The user says no: the app hears access_denied and no connection appears.
    emu.deny_authorization(true);
    let (s, callback) = location(&start().await).await;
    assert_eq!(s, 302);
    let (_, back) = location(&callback).await;
    assert_eq!(
        query(&back).get("error").map(String::as_str),
        Some("access_denied"),
        "{back}"
    );
    let (_, list) = app.get("/v1/connections?connector=github", &key).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert!(!list.to_string().contains("gho_"), "{list}");
}

async fn signals_data_and_proxy_through_the_api(backend: TestBackend) {
    let (emu, app, key, id) = setup(backend).await;
    // Issue 1 is assigned to octo, the pull request (3) awaits octo's review.
    emu.assign("octo/app", 1, "octo").unwrap();
    emu.request_review("octo/app", 3, "octo").unwrap();
    let (s, answer) = app.get("/v1/signals?owner_id=u1", &key).await;
    assert_eq!(s, 200, "{answer}");
    let signals = answer["signals"].as_array().unwrap();
    let ids: Vec<&str> = signals.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["octo/app/1", "octo/app/3"], "{answer}");
    assert_eq!(
        (
            signals[1]["source"].as_str(),
            signals[1]["kind"].as_str(),
            signals[1]["url"].as_str(),
            signals[1]["connection_id"].as_str()
        ),
        (
            Some("github"),
            Some("task"),
            Some("https://github.com/octo/app/pull/3"),
            Some(id.as_str())
        )
    );
    assert_eq!(signals[0]["record"]["title"], "Crash on start", "{answer}");

    // A live data endpoint: the account's rate limit as a gauge, then from the cache.
    let (s, gauge) = app
        .get(&format!("/v1/connections/{id}/data/rate_limit"), &key)
        .await;
    assert_eq!(s, 200, "{gauge}");
    assert_eq!(
        (
            gauge["shape"].as_str(),
            gauge["cached"].as_bool(),
            gauge["data"]["max"].as_u64()
        ),
        (Some("gauge"), Some(false), Some(5000)),
        "{gauge}"
    );
    let (_, again) = app
        .get(&format!("/v1/connections/{id}/data/rate_limit"), &key)
        .await;
    assert_eq!(again["cached"], true, "{again}");

    // The proxy: GitHub sees the connection's token and the caller's own GitHub headers, the
    // caller sees GitHub's answer and its rate-limit headers.
    let resp = app
        .client
        .get(format!(
            "{}/v1/connections/{id}/proxy/repos/octo/app/issues?state=open&per_page=1",
            app.base
        ))
        .bearer_auth(&key)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("rel=\"next\""), "{link}");
    let page: Value = resp.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 1, "{page}");
    // Without the connection's token GitHub would have answered 401: the token was sent,
    // and the caller's patchbay key was not (GitHub would have refused it).
    let (s, me) = app
        .get(&format!("/v1/connections/{id}/proxy/user"), &key)
        .await;
    assert_eq!((s, me["login"].as_str()), (200, Some("octo")), "{me}");
    assert!(!me.to_string().contains(TOKEN));
}

/// A comment on a bound issue reaches the binding's target; the reply is a comment there.
async fn comments_route_to_bindings_and_replies_are_comments(backend: TestBackend) {
    let (emu, app, key, id) = setup(backend).await;
    emu.set_webhook(
        &format!("{}/v1/webhooks/github/{id}", app.base),
        HOOK_SECRET,
    );
    let created = action(
        &app,
        &key,
        &id,
        "create_issue",
        json!({"repository": "octo/app", "title": "Bound issue"}),
    )
    .await;
    let n = created["number"].as_u64().unwrap();
    let (s, binding) = app
        .post(
            "/v1/bindings",
            &key,
            json!({"channel_type": "github", "connection_id": id,
            "channel_id": "octo/app", "thread": n.to_string(), "target": "sess_issue"}),
        )
        .await;
    assert_eq!(s, 201, "{binding}");
    let before = emu.issue("octo/app", n).unwrap()["comments"]
        .as_u64()
        .unwrap();
    let d = emu
        .emit_issue_comment("octo/app", n, "mona", "Can you look at this?")
        .await
        .unwrap();
    assert_eq!(d.status, Some(202));
    while app
        .engine
        .webhooks()
        .process_webhooks_once(50)
        .await
        .unwrap()
        > 0
    {}
    let (_, outbox) = app.get("/v1/events?limit=500", &key).await;
    let routed: Vec<&Value> = outbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.routed")
        .collect();
    assert_eq!(routed.len(), 1, "{outbox}");
    let data = &routed[0]["data"];
    assert_eq!(data["target"], "sess_issue");
    assert_eq!(data["messages"][0]["text"], "Can you look at this?");
    assert_eq!(data["messages"][0]["author"]["login"], "mona");
    let bid = binding["id"].as_str().unwrap();
    let (s, reply) = app
        .post(
            &format!("/v1/bindings/{bid}/reply"),
            &key,
            json!({"text": "On it."}),
        )
        .await;
    assert_eq!(s, 200, "{reply}");
    assert_eq!(reply["action"], "comment_on_issue");
    let after = emu.issue("octo/app", n).unwrap()["comments"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before + 2, "the comment and the reply");
}
