//! The GitHub connector against the GitHub emulator.

use crate::support::{ctx, distinct_sorted, has, http, secrets, sync_all, validate, webhook};
use patchbay_connectors::Github;
use patchbay_core::{
    Capability, Connector, ConnectorContext, ConnectorError, DataShape, SignalKind, SyncMode,
    SyncRequest,
};
use patchbay_emulators::github::{self, GithubConfig, GithubEmulator, Permissions};
use serde_json::{json, Value};

const TOKEN: &str = "gho_emulator_token_0001";
const HOOK_SECRET: &str = "github-webhook-secret-0001";

async fn setup_with(config: GithubConfig) -> (GithubEmulator, Github, ConnectorContext) {
    let emu = github::spawn(GithubConfig {
        webhook_secret: HOOK_SECRET.into(),
        ..config
    })
    .await
    .unwrap();
    emu.add_token(TOKEN, "octo");
    emu.add_repo("octo/app", false).unwrap();
    emu.add_repo("octo/lib", false).unwrap();
    emu.add_repo("octo/notes", true).unwrap();
    emu.add_repo("mona/shared", true).unwrap();
    emu.grant("mona/shared", "octo", Permissions::WRITE);
    emu.add_org("acme");
    emu.add_repo_with_branch("acme/site", false, "develop")
        .unwrap();
    emu.grant("acme/site", "octo", Permissions::READ);
    for i in 1..=5 {
        emu.add_issue("octo/app", &format!("Bug {i}"), "octo")
            .unwrap();
        emu.add_commit("octo/app", "main", &format!("Commit {i}"))
            .unwrap();
    }
    emu.add_pull("octo/app", "Feature A", "feature-a", "octo")
        .unwrap();
    emu.add_pull("octo/app", "Feature B", "feature-b", "octo")
        .unwrap();
    emu.add_issue("octo/lib", "Lib bug", "octo").unwrap();
    let c = connection(&emu, json!({}));
    (emu, Github::new(http(), None).with_page_size(2), c)
}

async fn setup() -> (GithubEmulator, Github, ConnectorContext) {
    setup_with(GithubConfig::default()).await
}

fn connection(emu: &GithubEmulator, mut config: Value) -> ConnectorContext {
    config["base_url"] = emu.api_url().into();
    ctx(
        config,
        secrets(&[("access_token", TOKEN), ("webhook_secret", HOOK_SECRET)]),
    )
}

fn only(emu: &GithubEmulator, repos: &[&str]) -> ConnectorContext {
    connection(emu, json!({"repositories": repos}))
}

#[test]
fn spec_and_validation() {
    let c = Github::new(http(), None);
    let spec = c.spec();
    for cap in [
        Capability::Sync,
        Capability::Webhooks,
        Capability::Actions,
        Capability::Proxy,
        Capability::Signals,
        Capability::Data,
    ] {
        assert!(spec.supports(cap), "{cap:?}");
    }
    assert_eq!(spec.account_field.as_deref(), Some("installation_id"));
    assert_eq!(spec.webhook_secret_field.as_deref(), Some("webhook_secret"));
    let s = secrets(&[("access_token", "ghp_x")]);
    assert!(validate(&c, json!({"base_url": "https://ghe.example.com/api/v3", "repositories": ["o/r"], "installation_id": 7}), &s).is_empty());
    // Account ids are compared as strings, so the installation id may come as either.
    assert!(validate(&c, json!({"installation_id": "7"}), &s).is_empty());
    for bad in [json!(0), json!("07"), json!("seven"), json!(true)] {
        assert!(
            !validate(&c, json!({"installation_id": bad}), &s).is_empty(),
            "{bad}"
        );
    }
    let errors = validate(
        &c,
        json!({"base_url": "http://ghe.example.com", "repositories": ["not a repo"]}),
        &s,
    );
    assert!(
        has(&errors, "config.base_url", "insecure_url"),
        "{errors:?}"
    );
    assert!(
        has(&errors, "config.repositories.0", "pattern"),
        "{errors:?}"
    );
    assert!(has(
        &validate(&c, json!({}), &secrets(&[])),
        "secrets.access_token",
        "required"
    ));
}

#[tokio::test]
async fn test_connection_names_the_account() {
    let (emu, c, conn) = setup().await;
    let outcome = c.test_connection(&conn).await.unwrap();
    let id = emu.add_user("octo")["id"].to_string();
    assert_eq!(outcome.account, Some(id));
    assert!(outcome.message.contains("octo"));
    let bad = ctx(
        json!({"base_url": emu.api_url()}),
        secrets(&[("access_token", "wrong")]),
    );
    assert!(matches!(
        c.test_connection(&bad).await,
        Err(ConnectorError::Unauthorized { status: 401, .. })
    ));
}

#[tokio::test]
async fn repositories_sync_every_page_then_revalidates_with_etags() {
    let (emu, c, conn) = setup().await;
    let run = sync_all(&c, &conn, "repositories", None).await;
    assert_eq!(
        distinct_sorted(run.ids()),
        [
            "acme/site",
            "mona/shared",
            "octo/app",
            "octo/lib",
            "octo/notes"
        ]
    );
    assert_eq!(run.pages, 3);
    assert!(run.records[0].data["permissions"].is_object());
    assert_eq!(emu.not_modified_count(), 0);
    let used = emu.rate_limit_used();
    let again = sync_all(&c, &conn, "repositories", None).await;
    assert_eq!(again.ids(), run.ids());
    assert_eq!(emu.not_modified_count(), 3, "every page answered 304");
    assert_eq!(emu.rate_limit_used(), used, "304s are free");
    // A configured list narrows the records.
    let some = sync_all(&c, &only(&emu, &["octo/lib"]), "repositories", None).await;
    assert_eq!(some.ids(), ["octo/lib"]);
}

#[tokio::test]
async fn issues_sync_across_repositories_then_incrementally() {
    let (emu, c, _) = setup().await;
    let conn = only(&emu, &["octo/app", "octo/lib"]);
    let run = sync_all(&c, &conn, "issues", None).await;
    let mut expected: Vec<String> = (1..=5).map(|n| format!("octo/app/{n}")).collect();
    expected.push("octo/lib/1".into());
    assert_eq!(
        distinct_sorted(run.ids()),
        expected,
        "pull requests are left out"
    );
    assert!(run.pages >= 4);
    let checkpoint = run.checkpoint.clone().expect("checkpoint");

    emu.update_item("octo/app", 2, |v| v["title"] = "Bug 2, again".into())
        .unwrap();
    let new = c
        .run_action(
            &conn,
            "create_issue",
            json!({"repository": "octo/lib", "title": "Fresh"}),
        )
        .await
        .unwrap();
    assert_eq!(new["number"], 2);
    let delta = sync_all(&c, &conn, "issues", Some(checkpoint)).await;
    assert_eq!(distinct_sorted(delta.ids()), ["octo/app/2", "octo/lib/2"]);
    assert!(delta.checkpoint.is_some());
}

#[tokio::test]
async fn a_run_resumes_from_its_cursor() {
    let (emu, c, _) = setup().await;
    let conn = only(&emu, &["octo/app", "octo/lib"]);
    let req = |cursor: Option<String>| SyncRequest {
        entity: "issues".into(),
        mode: SyncMode::Full,
        page_cursor: cursor,
        since: None,
    };
    let first = c.sync(&conn, req(None)).await.unwrap();
    let cursor = first.next_page_cursor.clone().expect("more pages");
    assert!(first.checkpoint.is_none());
    // The same cursor twice (a retry after a crash) gives the same page.
    let a = c.sync(&conn, req(Some(cursor.clone()))).await.unwrap();
    let b = c.sync(&conn, req(Some(cursor))).await.unwrap();
    assert_eq!(a.records, b.records);
    let forged = json!({"started": "2024-01-01T00:00:00Z", "repos": ["octo/app"], "next": "http://evil.example/steal"});
    assert!(matches!(
        c.sync(&conn, req(Some(forged.to_string()))).await,
        Err(ConnectorError::Config(_))
    ));
}

#[tokio::test]
async fn pull_requests_sync_with_normalized_states() {
    let (emu, c, _) = setup().await;
    let conn = only(&emu, &["octo/app"]);
    emu.add_pull("octo/app", "Feature C", "feature-c", "octo")
        .unwrap();
    let run = sync_all(&c, &conn, "pull_requests", None).await;
    assert_eq!(
        distinct_sorted(run.ids()),
        ["octo/app/6", "octo/app/7", "octo/app/8"]
    );
    assert_eq!(run.pages, 2);
    assert!(run.records.iter().all(|r| r.data["state"] == "open"));

    let checkpoint = run.checkpoint.unwrap();
    emu.pull_request_event("octo/app", 7, "merged").unwrap();
    emu.pull_request_event("octo/app", 8, "converted_to_draft")
        .unwrap();
    let delta = sync_all(&c, &conn, "pull_requests", Some(checkpoint)).await;
    let states: Vec<(String, Value)> = delta
        .records
        .iter()
        .map(|r| (r.id.clone(), r.data["state"].clone()))
        .collect();
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states.contains(&("octo/app/7".into(), json!("merged"))));
    assert!(states.contains(&("octo/app/8".into(), json!("draft"))));
}

#[tokio::test]
async fn commits_sync_skips_empty_repositories_and_reads_since() {
    let (emu, c, _) = setup().await;
    let conn = only(&emu, &["octo/lib", "octo/app"]);
    let run = sync_all(&c, &conn, "commits", None).await;
    assert_eq!(run.records.len(), 5);
    assert!(run.ids().iter().all(|id| id.starts_with("octo/app/")));
    assert!(run.records[0].data["commit"]["message"].is_string());
    let checkpoint = run.checkpoint.unwrap();
    let sha = emu.push_commit("octo/app", "main", "Later").unwrap();
    let delta = sync_all(&c, &conn, "commits", Some(checkpoint)).await;
    assert_eq!(delta.ids(), [format!("octo/app/{sha}")]);
}

#[tokio::test]
async fn default_repositories_are_the_users() {
    let (emu, c, conn) = setup().await;
    let conn_max = connection(&emu, json!({"max_repositories": 1}));
    emu.push_commit("octo/lib", "main", "Newest push").unwrap();
    let run = sync_all(&c, &conn_max, "issues", None).await;
    assert_eq!(
        run.ids(),
        ["octo/lib/1"],
        "the most recently pushed repository"
    );
    let all = sync_all(&c, &conn, "issues", None).await;
    assert_eq!(all.records.len(), 6);
}

#[tokio::test]
async fn fetches_each_kind() {
    let (_emu, c, conn) = setup().await;
    let repo = c
        .fetch_entity(&conn, "repository", "octo/app")
        .await
        .unwrap();
    assert_eq!(
        (repo.entity.as_str(), repo.id.as_str()),
        ("repositories", "octo/app")
    );
    let issue = c.fetch_entity(&conn, "issue", "octo/app/3").await.unwrap();
    assert_eq!(issue.id, "octo/app/3");
    assert_eq!(issue.data["title"], "Bug 3");
    let pr = c
        .fetch_entity(&conn, "pull_request", "octo/app/6")
        .await
        .unwrap();
    assert_eq!(pr.data["head"]["ref"], "feature-a");
    assert_eq!(pr.data["state"], "open");
    assert!(matches!(
        c.fetch_entity(&conn, "pull_request", "octo/app/99").await,
        Err(ConnectorError::NotFound(_))
    ));
    assert!(c.fetch_entity(&conn, "issue", "octo/app").await.is_err());
}

#[tokio::test]
async fn actions_create_and_check() {
    let (emu, c, conn) = setup().await;
    let comment = c
        .run_action(
            &conn,
            "comment_on_issue",
            json!({"repository": "octo/app", "number": 1, "body": "On it"}),
        )
        .await
        .unwrap();
    assert_eq!(comment["body"], "On it");
    assert_eq!(emu.issue("octo/app", 1).unwrap()["comments"], 1);

    emu.add_branch("acme/site", "fix");
    emu.grant("acme/site", "octo", Permissions::WRITE);
    let before = emu.calls("/repos/acme/site");
    let pr = c
        .run_action(
            &conn,
            "create_pull_request",
            json!({"repository": "acme/site", "title": "Fix", "head": "fix"}),
        )
        .await
        .unwrap();
    assert_eq!(pr["base"]["ref"], "develop", "the default branch, fetched");
    assert_eq!(emu.calls("/repos/acme/site") - before, 2);

    let err = c
        .run_action(
            &conn,
            "create_pull_request",
            json!({"repository": "acme/site", "title": "Nope", "head": "missing"}),
        )
        .await
        .unwrap_err();
    match err {
        ConnectorError::InvalidInput(errors) => {
            assert!(
                errors[0].message.contains("Validation Failed")
                    && errors[0].message.contains("head invalid"),
                "{errors:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !crate::support::input_errors(&c, "create_issue", &json!({"repository": "octo/app"}))
            .is_empty(),
        "an issue needs a title"
    );

    let check = |input: Value| c.run_action(&conn, "validate_repository", input);
    let mine = check(json!({"url": "https://github.com/mona/shared.git"}))
        .await
        .unwrap();
    assert_eq!(
        mine,
        json!({"full_name": "mona/shared", "default_branch": "main", "can_push": true, "private": true})
    );
    let owned = check(json!({"repository": "octo/app"})).await.unwrap();
    assert_eq!(owned["can_push"], true);
    emu.add_repo("someone/else", false).unwrap();
    let foreign = check(json!({"repository": "someone/else"})).await.unwrap();
    assert_eq!(foreign["can_push"], false);
    match check(json!({"repository": "someone/hidden"})).await {
        Err(ConnectorError::NotFound(m)) => assert!(m.contains("someone/hidden"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn signals_and_data_endpoints() {
    let (emu, c, conn) = setup().await;
    emu.assign("octo/app", 2, "octo").unwrap();
    emu.assign("octo/app", 3, "mona").unwrap();
    emu.request_review("octo/app", 7, "octo").unwrap();
    let signals = c.signals(&conn).await.unwrap();
    let ids: Vec<&str> = signals.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["octo/app/2", "octo/app/7"]);
    assert!(signals
        .iter()
        .all(|s| s.kind == SignalKind::Task && s.due.is_none()));
    assert_eq!(
        signals[1].url.as_deref(),
        Some("https://github.com/octo/app/pull/7")
    );
    // Pull requests assigned to the account count too; one that is also awaiting its
    // review appears once.
    emu.assign("octo/app", 6, "octo").unwrap();
    emu.assign("octo/app", 7, "octo").unwrap();
    let signals = c.signals(&conn).await.unwrap();
    let ids: Vec<&str> = signals.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["octo/app/2", "octo/app/7", "octo/app/6"]);
    assert_eq!(
        signals[2].url.as_deref(),
        Some("https://github.com/octo/app/pull/6")
    );
    assert!(signals[0].title.contains("Bug 2") && signals[0].title.contains("octo/app#2"));

    let rate = c.fetch_data(&conn, "rate_limit").await.unwrap();
    assert_eq!(rate.shape, DataShape::Gauge);
    assert_eq!(rate.data["max"], 5000);
    let open = c
        .fetch_data(&only(&emu, &["octo/app"]), "open_pull_requests")
        .await
        .unwrap();
    assert_eq!(
        (open.shape, open.data["value"].clone()),
        (DataShape::Stat, json!(2))
    );
    let reviews = c.fetch_data(&conn, "review_requests").await.unwrap();
    assert_eq!(reviews.shape, DataShape::List);
    assert_eq!(reviews.data["items"][0]["subtitle"], "octo/app");
    let keys: Vec<String> = c
        .data_endpoints_for(&json!({}))
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(
        keys,
        ["open_pull_requests", "rate_limit", "review_requests"]
    );
}

#[tokio::test]
async fn rate_limits_become_retry_hints() {
    let (emu, c, conn) = setup().await;
    emu.secondary_rate_limit_next(1, 17);
    assert!(matches!(
        c.test_connection(&conn).await,
        Err(ConnectorError::RateLimited {
            retry_after_secs: Some(17)
        })
    ));
    emu.exhaust_rate_limit();
    match c.test_connection(&conn).await {
        Err(ConnectorError::RateLimited {
            retry_after_secs: Some(s),
        }) => {
            assert!((3590..=3600).contains(&s), "{s}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn enterprise_base_url_with_a_path_prefix() {
    let (emu, c, conn) = setup_with(GithubConfig {
        path_prefix: "/api/v3".into(),
        ..Default::default()
    })
    .await;
    assert!(c.test_connection(&conn).await.is_ok());
    let run = sync_all(&c, &conn, "repositories", None).await;
    assert_eq!(run.records.len(), 5);
    assert_eq!(emu.calls("/user/repos"), 3);
    let target = c.proxy_target(&conn).unwrap();
    assert_eq!(target.base_url, emu.api_url());
    assert_eq!(target.headers[0].0, "Authorization");
    assert_eq!(target.headers[0].1.expose(), format!("Bearer {TOKEN}"));
}

async fn outcome(
    c: &Github,
    conn: &ConnectorContext,
    cb: patchbay_emulators::SignedCallback,
) -> patchbay_core::WebhookOutcome {
    c.handle_webhook(conn, &webhook(cb)).await.unwrap()
}

#[tokio::test]
async fn pull_request_webhooks_carry_the_state() {
    let (emu, c, conn) = setup().await;
    for (number, action, state) in [
        (6, "converted_to_draft", "draft"),
        (6, "ready_for_review", "open"),
        (6, "closed", "closed"),
        (6, "reopened", "open"),
        (7, "merged", "merged"),
    ] {
        let o = outcome(
            &c,
            &conn,
            emu.pull_request_event("octo/app", number, action).unwrap(),
        )
        .await;
        let expected = if action == "merged" { "closed" } else { action };
        assert_eq!(o.event_type, format!("pull_request.{expected}"));
        assert_eq!(o.upserts.len(), 1);
        assert_eq!(o.upserts[0].entity, "pull_requests");
        assert_eq!(o.upserts[0].id, format!("octo/app/{number}"));
        assert_eq!(o.upserts[0].data["state"], state, "{action}");
        assert!(o.delivery_id.is_some());
    }
}

#[tokio::test]
async fn push_issue_and_comment_webhooks() {
    let (emu, c, conn) = setup().await;
    let o = outcome(
        &c,
        &conn,
        emu.push_event("octo/app", "feature-a", 3).unwrap(),
    )
    .await;
    assert_eq!(o.event_type, "push");
    let commits: Vec<_> = o.upserts.iter().filter(|r| r.entity == "commits").collect();
    assert_eq!(commits.len(), 3);
    assert!(commits.iter().all(|r| r.data["branch"] == "feature-a"));
    let branch = o.upserts.iter().find(|r| r.entity == "branches").unwrap();
    assert_eq!(branch.id, "octo/app/feature-a");
    assert_eq!(branch.data["pushed_commits"], 3);
    assert_eq!(
        branch.data["head_sha"],
        commits[2].id.rsplit('/').next().unwrap()
    );

    let o = outcome(&c, &conn, emu.issue_event("octo/app", 1, "closed").unwrap()).await;
    assert_eq!(o.event_type, "issues.closed");
    assert_eq!(
        (o.upserts[0].id.as_str(), o.upserts[0].data["state"].clone()),
        ("octo/app/1", json!("closed"))
    );
    let o = outcome(
        &c,
        &conn,
        emu.issue_event("octo/app", 2, "deleted").unwrap(),
    )
    .await;
    assert_eq!(
        o.deletions,
        [("issues".to_string(), "octo/app/2".to_string())]
    );

    let o = outcome(
        &c,
        &conn,
        emu.issue_comment_event("octo/app", 3, "mona", "Looks good")
            .unwrap(),
    )
    .await;
    assert_eq!(o.event_type, "issue_comment.created");
    assert_eq!(o.upserts[0].entity, "comments");
    assert_eq!(o.upserts[0].data["issue_number"], 3);
    assert!(o.upserts[0].id.starts_with("octo/app/"));
    // A new comment is chat on the issue for channel bindings.
    assert_eq!(o.messages.len(), 1);
    let m = &o.messages[0];
    assert_eq!(
        (m.channel_type.as_str(), m.channel_id.as_str()),
        ("github", "octo/app")
    );
    assert_eq!(m.thread.as_deref(), Some("3"));
    assert_eq!(m.text, "Looks good");
    assert_eq!(m.author["login"], "mona");
    assert_eq!(m.message_id, o.upserts[0].id);

    for event in ["ping", "star"] {
        let o = outcome(
            &c,
            &conn,
            emu.event(event, &json!({"zen": "Keep it logically awesome."})),
        )
        .await;
        assert_eq!(o.event_type, event);
        assert!(o.upserts.is_empty() && o.deletions.is_empty());
    }
}

#[tokio::test]
async fn webhooks_with_bad_signatures_or_other_installations_change_nothing() {
    let (emu, c, conn) = setup_with(GithubConfig {
        installation_id: Some(7),
        ..Default::default()
    })
    .await;
    let mut cb = emu.pull_request_event("octo/app", 6, "closed").unwrap();
    cb.body.push(b' ');
    assert!(matches!(
        c.handle_webhook(&conn, &webhook(cb)).await,
        Err(ConnectorError::Verification(_))
    ));
    let other = connection(&emu, json!({"installation_id": 8}));
    let o = outcome(
        &c,
        &other,
        emu.pull_request_event("octo/app", 6, "reopened").unwrap(),
    )
    .await;
    assert!(o.upserts.is_empty());
    let same = connection(&emu, json!({"installation_id": 7}));
    let o = outcome(
        &c,
        &same,
        emu.pull_request_event("octo/app", 6, "closed").unwrap(),
    )
    .await;
    assert_eq!(o.upserts.len(), 1);
    let other = connection(&emu, json!({"installation_id": "8"}));
    let o = outcome(
        &c,
        &other,
        emu.pull_request_event("octo/app", 6, "closed").unwrap(),
    )
    .await;
    assert!(o.upserts.is_empty());
    let same = connection(&emu, json!({"installation_id": "7"}));
    let o = outcome(
        &c,
        &same,
        emu.pull_request_event("octo/app", 6, "closed").unwrap(),
    )
    .await;
    assert_eq!(o.upserts.len(), 1);
}
