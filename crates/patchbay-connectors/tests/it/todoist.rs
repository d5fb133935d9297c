//! The Todoist connector against the Todoist emulator.

use crate::support::{ctx, distinct_sorted, has, http, secrets, sync_all, validate};
use chrono::NaiveDate;
use patchbay_connectors::providers::Catalog;
use patchbay_connectors::todoist::{self, Todoist};
use patchbay_core::{
    Capability, Connector, ConnectorContext, ConnectorError, DataShape, SignalKind, SyncMode,
    SyncRequest,
};
use patchbay_emulators::oauth2::{self, OAuthConfig};
use patchbay_emulators::todoist::{spawn, TaskSeed};
use patchbay_emulators::{TodoistConfig, TodoistEmulator};
use serde_json::json;

const TOKEN: &str = "todoist-emulator-token-0001";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn connector(catalog: &Catalog) -> Todoist {
    Todoist::new(http(), catalog.get(todoist::KEY).cloned()).with_page_size(4)
}

fn connection(emu: &TodoistEmulator, token: &str) -> ConnectorContext {
    ctx(
        json!({"base_url": emu.base_url}),
        secrets(&[("access_token", token)]),
    )
}

async fn setup(config: TodoistConfig) -> (TodoistEmulator, Todoist, ConnectorContext) {
    let emu = spawn(config).await.unwrap();
    let c = connection(&emu, TOKEN);
    (emu, connector(&Catalog::load(None).unwrap()), c)
}

/// An emulator on 2026-06-15 with one task of each kind the signals must tell apart.
struct Day {
    emu: TodoistEmulator,
    c: Todoist,
    ctx: ConnectorContext,
    today: String,
    overdue: String,
    future: String,
    done: String,
}

async fn a_day() -> Day {
    let (emu, c, ctx) = setup(TodoistConfig::default()).await;
    emu.set_today(day("2026-06-15"));
    let work = emu.add_project("Work");
    let today = emu.add_task(
        TaskSeed::new("Send invoice")
            .due_on(day("2026-06-15"))
            .priority(4)
            .project(&work),
    );
    let overdue = emu.add_task(
        TaskSeed::new("Call the bank")
            .due_on(day("2026-06-12"))
            .priority(2),
    );
    let future = emu.add_task(TaskSeed::new("Book flights").due_on(day("2026-06-20")));
    let done = emu.add_task(TaskSeed::new("Already done").due_on(day("2026-06-15")));
    emu.complete_task(&done);
    emu.add_task(TaskSeed::new("Someday"));
    Day {
        emu,
        c,
        ctx,
        today,
        overdue,
        future,
        done,
    }
}

async fn signal_ids(c: &Todoist, ctx: &ConnectorContext) -> Vec<String> {
    let signals = c.signals(ctx).await.unwrap();
    signals.into_iter().map(|s| s.id).collect()
}

#[test]
fn spec_declares_what_todoist_offers_and_validates_the_base_url() {
    let c = connector(&Catalog::load(None).unwrap());
    let spec = c.spec();
    for cap in [
        Capability::Sync,
        Capability::Actions,
        Capability::Signals,
        Capability::Proxy,
        Capability::Data,
    ] {
        assert!(spec.supports(cap), "{cap:?}");
    }
    let entities: Vec<(&str, bool)> = spec
        .entities
        .iter()
        .map(|e| (e.key.as_str(), e.incremental))
        .collect();
    assert_eq!(entities, [("tasks", false), ("projects", false)]);
    assert_eq!(
        spec.action_keys(),
        ["close_task", "reopen_task", "create_task"]
    );
    let data: Vec<_> = spec
        .data_endpoints
        .iter()
        .map(|d| (d.key.as_str(), d.shape, d.ttl_seconds))
        .collect();
    assert_eq!(
        data,
        [
            ("due_today", DataShape::Stat, 60),
            ("overdue", DataShape::Alert, 60)
        ]
    );
    assert_eq!(spec.secret_fields(), ["access_token", "refresh_token"]);

    let token = secrets(&[("access_token", "a-token-from-oauth")]);
    assert!(validate(&c, json!({}), &token).is_empty());
    assert!(validate(&c, json!({"base_url": "http://127.0.0.1:9"}), &token).is_empty());
    let errors = validate(
        &c,
        json!({"base_url": "http://todoist.example", "x": 1}),
        &token,
    );
    assert!(
        has(&errors, "config.base_url", "insecure_url"),
        "{errors:?}"
    );
    assert!(
        has(&errors, "config.x", "additionalProperties"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn test_connection_checks_the_token_at_the_base_url_or_the_catalogs_user_endpoint() {
    let (emu, c, ctx) = setup(TodoistConfig::default()).await;
    let outcome = c.test_connection(&ctx).await.unwrap();
    assert_eq!(
        (outcome.ok, outcome.account.as_deref()),
        (true, Some("2671355"))
    );

    let catalog = Catalog::load(Some(&format!(
        "todoist: {{userinfo_url: '{}/api/v1/user'}}",
        emu.base_url
    )))
    .unwrap();
    let bare = crate::support::ctx(json!({}), secrets(&[("access_token", TOKEN)]));
    let outcome = connector(&catalog).test_connection(&bare).await.unwrap();
    assert_eq!(outcome.account.as_deref(), Some("2671355"));
    assert_eq!(emu.calls("/api/v1/user"), 2);
}

#[tokio::test]
async fn full_sync_reads_tasks_and_projects_over_several_pages() {
    let (emu, c, ctx) = setup(TodoistConfig {
        projects: 6,
        tasks: 10,
        ..Default::default()
    })
    .await;
    let tasks = sync_all(&c, &ctx, "tasks", None).await;
    assert_eq!(tasks.pages, 3, "10 tasks in pages of 4");
    assert_eq!(distinct_sorted(tasks.ids()), emu.active_task_ids());
    assert!(tasks
        .records
        .iter()
        .all(|r| r.entity == "tasks" && r.data["content"].is_string()));
    assert_eq!(tasks.checkpoint, None);

    let projects = sync_all(&c, &ctx, "projects", None).await;
    assert_eq!(projects.pages, 2, "inbox and 6 projects in pages of 4");
    assert_eq!(distinct_sorted(projects.ids()), emu.project_ids());

    // An incremental request reads everything: the endpoint has no changed-since filter.
    let again = sync_all(&c, &ctx, "tasks", Some("2026-01-01T00:00:00Z".into())).await;
    assert_eq!(again.ids(), tasks.ids());

    let err = c
        .sync(
            &ctx,
            SyncRequest {
                entity: "labels".into(),
                mode: SyncMode::Full,
                page_cursor: None,
                since: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown { kind: "entity", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn signals_are_the_tasks_due_today_and_overdue() {
    let d = a_day().await;
    let signals = d.c.signals(&d.ctx).await.unwrap();
    let ids: Vec<&str> = signals.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [d.today.as_str(), d.overdue.as_str()],
        "not future, not done, not undated"
    );
    assert!(!ids.contains(&d.future.as_str()) && !ids.contains(&d.done.as_str()));

    let today = &signals[0];
    assert_eq!(
        (today.source.as_str(), today.kind),
        ("todoist", SignalKind::Task)
    );
    assert_eq!(today.title, "Send invoice");
    assert_eq!(
        (today.due.as_deref(), today.priority),
        (Some("2026-06-15"), Some(4))
    );
    assert_eq!(
        today.url,
        Some(format!("https://app.todoist.com/app/task/{}", d.today))
    );
    assert_eq!(today.record, d.emu.task(&d.today).unwrap());
    assert_eq!(
        (signals[1].due.as_deref(), signals[1].priority),
        (Some("2026-06-12"), Some(2))
    );
    assert_eq!(d.emu.calls("/api/v1/tasks/filter"), 1);

    // More than a page of signals: every page is read.
    for i in 0..5 {
        d.emu
            .add_task(TaskSeed::new(format!("late {i}")).due_on(day("2026-06-01")));
    }
    assert_eq!(signal_ids(&d.c, &d.ctx).await.len(), 7);
    assert_eq!(
        d.emu.calls("/api/v1/tasks/filter"),
        3,
        "7 signals in pages of 4"
    );

    // A timed task due later today is a signal, with its due time.
    let at = d.emu.now() + chrono::Duration::hours(3);
    let timed = d.emu.add_task(TaskSeed::new("Dentist").due_at(at));
    let signals = d.c.signals(&d.ctx).await.unwrap();
    let s = signals.iter().find(|s| s.id == timed).unwrap();
    assert_eq!(s.due.as_deref(), Some("2026-06-15T15:00:00.000000Z"));
}

#[tokio::test]
async fn close_task_writes_back_done_and_reopen_undoes_it() {
    let d = a_day().await;
    let out =
        d.c.run_action(&d.ctx, "close_task", json!({"task_id": d.today}))
            .await
            .unwrap();
    assert_eq!(out, json!({"task_id": d.today, "closed": true}));
    assert_eq!(d.emu.task(&d.today).unwrap()["checked"], true);
    assert_eq!(signal_ids(&d.c, &d.ctx).await, [d.overdue.as_str()]);
    assert!(!d.emu.active_task_ids().contains(&d.today));
    let synced = sync_all(&d.c, &d.ctx, "tasks", None).await;
    assert!(!synced.ids().contains(&d.today));

    d.c.run_action(&d.ctx, "reopen_task", json!({"task_id": d.today}))
        .await
        .unwrap();
    assert_eq!(
        signal_ids(&d.c, &d.ctx).await,
        [d.today.clone(), d.overdue.clone()]
    );

    // A recurring task moves on instead of closing, so it leaves today's signals.
    let daily = d.emu.add_task(
        TaskSeed::new("Stand-up")
            .due_on(day("2026-06-15"))
            .every("every day"),
    );
    d.c.run_action(&d.ctx, "close_task", json!({"task_id": daily}))
        .await
        .unwrap();
    let task = d.emu.task(&daily).unwrap();
    assert_eq!(
        (task["checked"].clone(), task["due"]["date"].clone()),
        (json!(false), json!("2026-06-16"))
    );
    assert!(!signal_ids(&d.c, &d.ctx).await.contains(&daily));

    let err =
        d.c.run_action(&d.ctx, "close_task", json!({"task_id": "t999999"}))
            .await
            .unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn action_input_is_validated_before_any_call() {
    let d = a_day().await;
    let before = d.emu.request_count();
    for (action, input) in [
        ("close_task", json!({})),
        ("close_task", json!({"task_id": ""})),
        ("reopen_task", json!({"task_id": 7})),
        ("close_task", json!({"task_id": "t1", "extra": true})),
        ("create_task", json!({"due_string": "today"})),
        ("create_task", json!({"content": "x", "priority": 5})),
        ("create_task", json!({"content": "x", "priority": "high"})),
    ] {
        let errors = crate::support::input_errors(&d.c, action, &input);
        assert!(!errors.is_empty(), "{action} {input} passed the schema");
    }
    let err =
        d.c.run_action(&d.ctx, "delete_everything", json!({}))
            .await
            .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown { kind: "action", .. }),
        "{err:?}"
    );
    assert_eq!(d.emu.request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn create_task_adds_a_task_todoist_schedules() {
    let d = a_day().await;
    let work = d.emu.add_project("Errands");
    let input =
        json!({"content": "Buy milk", "due_string": "today", "priority": 3, "project_id": work});
    let created = d.c.run_action(&d.ctx, "create_task", input).await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(d.emu.task(&id).unwrap(), created);
    assert_eq!(
        (created["project_id"].as_str(), created["priority"].as_u64()),
        (Some(work.as_str()), Some(3))
    );
    assert!(signal_ids(&d.c, &d.ctx).await.contains(&id));

    // What Todoist refuses comes back as the provider's error.
    let err =
        d.c.run_action(
            &d.ctx,
            "create_task",
            json!({"content": "x", "due_string": "when pigs fly"}),
        )
        .await
        .unwrap_err();
    match err {
        ConnectorError::Provider {
            status: 400,
            message,
        } => assert!(message.contains("Invalid date format"), "{message}"),
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_entity_reads_one_task_or_project() {
    let d = a_day().await;
    let task = d.c.fetch_entity(&d.ctx, "task", &d.future).await.unwrap();
    assert_eq!(
        (task.entity.as_str(), task.id.as_str()),
        ("tasks", d.future.as_str())
    );
    assert_eq!(task.data["content"], "Book flights");
    let inbox = d.emu.inbox_project_id();
    let project = d.c.fetch_entity(&d.ctx, "projects", &inbox).await.unwrap();
    assert_eq!(
        (
            project.entity.as_str(),
            project.data["inbox_project"].clone()
        ),
        ("projects", json!(true))
    );

    let err =
        d.c.fetch_entity(&d.ctx, "tasks", "t999999")
            .await
            .unwrap_err();
    assert!(
        matches!(err, ConnectorError::NotFound(ref m) if m.contains("NOT_FOUND")),
        "{err:?}"
    );
    let err = d.c.fetch_entity(&d.ctx, "comments", "1").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown { kind: "entity", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn data_endpoints_count_today_and_list_overdue() {
    let d = a_day().await;
    let stat = d.c.fetch_data(&d.ctx, "due_today").await.unwrap();
    assert_eq!(
        (stat.shape, stat.data["value"].clone()),
        (DataShape::Stat, json!(1))
    );

    let alert = d.c.fetch_data(&d.ctx, "overdue").await.unwrap();
    assert_eq!(alert.shape, DataShape::Alert);
    assert_eq!(
        (alert.data["level"].clone(), alert.data["total"].clone()),
        (json!("warning"), json!(1))
    );
    assert_eq!(alert.data["items"][0]["id"], d.overdue.as_str());
    assert_eq!(alert.data["items"][0]["title"], "Call the bank");

    d.c.run_action(&d.ctx, "close_task", json!({"task_id": d.overdue}))
        .await
        .unwrap();
    let alert = d.c.fetch_data(&d.ctx, "overdue").await.unwrap();
    assert_eq!(
        (alert.data["level"].clone(), alert.data["items"].clone()),
        (json!("ok"), json!([]))
    );

    let err = d.c.fetch_data(&d.ctx, "weather").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Unknown {
                kind: "data endpoint",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn provider_failures_map_to_connector_errors() {
    let d = a_day().await;
    d.emu.rate_limit_next(1);
    let err = d.c.signals(&d.ctx).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::RateLimited {
                retry_after_secs: Some(1)
            }
        ),
        "{err:?}"
    );

    d.emu.fail_next(1);
    let err = d.c.fetch_data(&d.ctx, "due_today").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Provider { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());

    d.emu.truncate_next(1);
    let err =
        d.c.fetch_entity(&d.ctx, "tasks", &d.today)
            .await
            .unwrap_err();
    assert!(matches!(err, ConnectorError::BadResponse(_)), "{err:?}");

    // The user removes the app's access: every call is refused from then on.
    d.emu.revoke_token(TOKEN);
    for err in [
        d.c.signals(&d.ctx).await.unwrap_err(),
        d.c.run_action(&d.ctx, "close_task", json!({"task_id": d.today}))
            .await
            .unwrap_err(),
        d.c.test_connection(&d.ctx).await.unwrap_err(),
    ] {
        match err {
            ConnectorError::Unauthorized {
                status: 401,
                message,
            } => assert!(!message.contains(TOKEN), "{message}"),
            other => panic!("expected Unauthorized, got {other:?}"),
        }
    }
    assert_eq!(d.emu.task(&d.today).unwrap()["checked"], false);
}

#[tokio::test]
async fn tokens_from_the_oauth_server_work_until_they_expire() {
    let (emu, c, _) = setup(TodoistConfig::default()).await;
    let oauth = oauth2::spawn(OAuthConfig::default()).await.unwrap();
    emu.accept_oauth_tokens(&oauth);
    let issued = oauth.issue_tokens("read");
    let ctx = connection(&emu, issued["access_token"].as_str().unwrap());
    emu.add_task(TaskSeed::new("Today").due_on(emu.today()));
    assert_eq!(c.signals(&ctx).await.unwrap().len(), 1);
    oauth.expire_access_tokens();
    let err = c.signals(&ctx).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn proxy_targets_the_api_base_with_the_bearer_token() {
    let catalog = Catalog::load(None).unwrap();
    let c = connector(&catalog);
    let ctx = crate::support::ctx(json!({}), secrets(&[("access_token", "tok-123456")]));
    let target = c.proxy_target(&ctx).unwrap();
    assert_eq!(target.base_url, "https://api.todoist.com");
    let (name, value) = &target.headers[0];
    assert_eq!(
        (name.as_str(), value.expose()),
        ("Authorization", "Bearer tok-123456")
    );
    assert_eq!(format!("{value:?}"), "[redacted]");

    let local = crate::support::ctx(
        json!({"base_url": "http://127.0.0.1:9/"}),
        secrets(&[("access_token", "t")]),
    );
    assert_eq!(
        c.proxy_target(&local).unwrap().base_url,
        "http://127.0.0.1:9"
    );
    let missing = crate::support::ctx(json!({}), secrets(&[]));
    assert!(matches!(
        c.proxy_target(&missing),
        Err(ConnectorError::Config(_))
    ));
}
