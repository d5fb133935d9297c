//! The Todoist emulator: auth, cursor pages, filters on a set clock, task changes, errors.

use crate::{http, Answer};
use chrono::{DateTime, NaiveDate, Utc};
use patchbay_emulators::oauth2::{self, OAuthConfig};
use patchbay_emulators::todoist::{self, TaskSeed};
use patchbay_emulators::{TodoistConfig, TodoistEmulator};
use serde_json::{json, Value};

const TOKEN: &str = "todoist-emulator-token-0001";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn emulator(config: TodoistConfig) -> TodoistEmulator {
    todoist::spawn(config).await.unwrap()
}

async fn call(
    emu: &TodoistEmulator,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut req = http()
        .request(method, format!("{}{path}", emu.base_url))
        .query(query);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    Answer::from(req.send().await.unwrap()).await
}

async fn get(emu: &TodoistEmulator, path: &str, query: &[(&str, &str)]) -> Answer {
    call(emu, reqwest::Method::GET, path, Some(TOKEN), query, None).await
}

async fn post(emu: &TodoistEmulator, path: &str, body: Option<Value>) -> Answer {
    call(emu, reqwest::Method::POST, path, Some(TOKEN), &[], body).await
}

/// Ids of every result, following `next_cursor`; also the number of pages.
async fn ids_of_all(
    emu: &TodoistEmulator,
    path: &str,
    query: &[(&str, &str)],
) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut q = query.to_vec();
        if let Some(c) = &cursor {
            q.push(("cursor", c));
        }
        let a = get(emu, path, &q).await;
        assert_eq!(a.status, 200, "{}", a.text);
        let page = a.json();
        pages += 1;
        for r in page["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (ids, pages),
        }
    }
}

#[track_caller]
fn assert_todoist_error(a: &Answer, status: u16, tag: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.text);
    let body = a.json();
    assert_eq!(body["http_code"], status, "{}", a.text);
    assert_eq!(body["error_tag"], tag, "{}", a.text);
    assert!(
        body["error"].is_string() && body["error_code"].is_u64(),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn tokens_are_checked_revoked_and_taken_from_the_oauth_emulator() {
    let emu = emulator(TodoistConfig::default()).await;
    let none = call(&emu, reqwest::Method::GET, "/api/v1/user", None, &[], None).await;
    assert_todoist_error(&none, 401, "UNAUTHORIZED");
    let wrong = call(
        &emu,
        reqwest::Method::GET,
        "/api/v1/user",
        Some("nope"),
        &[],
        None,
    )
    .await;
    assert_todoist_error(&wrong, 401, "UNAUTHORIZED");

    let user = get(&emu, "/api/v1/user", &[]).await.json();
    assert_eq!(user["id"], "2671355");
    assert_eq!(user["tz_info"]["timezone"], "UTC");
    assert_eq!(user["inbox_project_id"], emu.inbox_project_id());

    emu.add_token("second-token");
    let a = call(
        &emu,
        reqwest::Method::GET,
        "/api/v1/user",
        Some("second-token"),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    emu.revoke_token("second-token");
    let a = call(
        &emu,
        reqwest::Method::GET,
        "/api/v1/user",
        Some("second-token"),
        &[],
        None,
    )
    .await;
    assert_todoist_error(&a, 401, "UNAUTHORIZED");

    let oauth = oauth2::spawn(OAuthConfig::default()).await.unwrap();
    emu.accept_oauth_tokens(&oauth);
    let issued = oauth.issue_tokens("read");
    let token = issued["access_token"].as_str().unwrap();
    let a = call(
        &emu,
        reqwest::Method::GET,
        "/api/v1/projects",
        Some(token),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    oauth.expire_access_tokens();
    let a = call(
        &emu,
        reqwest::Method::GET,
        "/api/v1/projects",
        Some(token),
        &[],
        None,
    )
    .await;
    assert_todoist_error(&a, 401, "UNAUTHORIZED");
    assert_eq!(emu.calls("/api/v1/projects"), 2);
    assert_eq!(emu.calls("/api/v1/user"), 5);
}

#[tokio::test]
async fn lists_are_cursor_paged_and_filterable_by_project() {
    let emu = emulator(TodoistConfig {
        projects: 4,
        tasks: 23,
        page_size: 10,
        ..Default::default()
    })
    .await;
    let (projects, pages) = ids_of_all(&emu, "/api/v1/projects", &[("limit", "2")]).await;
    assert_eq!((projects, pages), (emu.project_ids(), 3));
    let (tasks, pages) = ids_of_all(&emu, "/api/v1/tasks", &[]).await;
    assert_eq!((tasks.clone(), pages), (emu.active_task_ids(), 3));
    let inbox = emu.inbox_project_id();
    let (in_inbox, _) = ids_of_all(&emu, "/api/v1/tasks", &[("project_id", &inbox)]).await;
    assert_eq!(in_inbox.len(), 5, "23 tasks over 5 projects");

    // A task closed between pages does not disturb the cursor.
    let first = get(&emu, "/api/v1/tasks", &[("limit", "5")]).await.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    assert!(emu.complete_task(&tasks[4]));
    let second = get(
        &emu,
        "/api/v1/tasks",
        &[("limit", "5"), ("cursor", &cursor)],
    )
    .await
    .json();
    assert_eq!(second["results"][0]["id"], tasks[5].as_str());

    let a = get(&emu, "/api/v1/tasks", &[("cursor", "not-a-cursor")]).await;
    assert_todoist_error(&a, 400, "INVALID_ARGUMENT_VALUE");
    let a = get(&emu, "/api/v1/tasks", &[("limit", "201")]).await;
    assert_todoist_error(&a, 400, "INVALID_ARGUMENT_VALUE");
}

#[tokio::test]
async fn filters_follow_the_clock_in_the_users_zone() {
    // 23:30 UTC on March 9 is already March 10 in UTC+2.
    let emu = emulator(TodoistConfig {
        timezone: "Europe/Helsinki".into(),
        utc_offset_minutes: 120,
        now: Some(at("2026-03-09T23:30:00Z")),
        ..Default::default()
    })
    .await;
    assert_eq!(emu.today(), day("2026-03-10"));
    let today = emu.add_task(TaskSeed::new("today").due_on(day("2026-03-10")).priority(4));
    let yesterday = emu.add_task(TaskSeed::new("late").due_on(day("2026-03-09")));
    let later_today = emu.add_task(TaskSeed::new("at 15:00").due_at(at("2026-03-10T13:00:00Z")));
    let earlier_today = emu.add_task(TaskSeed::new("at 00:15").due_at(at("2026-03-09T22:15:00Z")));
    let tomorrow = emu.add_task(TaskSeed::new("tomorrow").due_on(day("2026-03-11")));
    let undated = emu.add_task(TaskSeed::new("someday"));
    let done = emu.add_task(TaskSeed::new("done").due_on(day("2026-03-10")));
    emu.complete_task(&done);

    let filter = |q: &'static str| {
        let emu = &emu;
        async move {
            ids_of_all(emu, "/api/v1/tasks/filter", &[("query", q)])
                .await
                .0
        }
    };
    assert_eq!(
        filter("today").await,
        [today.as_str(), later_today.as_str(), earlier_today.as_str()]
    );
    assert_eq!(
        filter("overdue").await,
        [yesterday.as_str(), earlier_today.as_str()]
    );
    assert_eq!(
        filter("today | overdue").await,
        [
            today.as_str(),
            yesterday.as_str(),
            later_today.as_str(),
            earlier_today.as_str()
        ]
    );
    assert_eq!(filter("tomorrow").await, [tomorrow.as_str()]);
    assert_eq!(filter("no date").await, [undated.as_str()]);

    let timed = emu.task(&later_today).unwrap();
    assert_eq!(timed["due"]["date"], "2026-03-10T13:00:00.000000Z");
    assert_eq!(timed["due"]["timezone"], "Europe/Helsinki");
    assert_eq!(emu.task(&today).unwrap()["due"]["date"], "2026-03-10");

    // The next day, yesterday's tasks are overdue.
    emu.set_today(day("2026-03-11"));
    assert_eq!(filter("today").await, [tomorrow.as_str()]);

    let a = get(&emu, "/api/v1/tasks/filter", &[("query", "p1 & #Work")]).await;
    assert_todoist_error(&a, 400, "INVALID_ARGUMENT_VALUE");
    assert_eq!(a.json()["error_extra"]["argument"], "query");
    let a = get(&emu, "/api/v1/tasks/filter", &[]).await;
    assert_todoist_error(&a, 400, "ARGUMENT_MISSING");
}

#[tokio::test]
async fn closing_reopening_and_recurring_tasks() {
    let emu = emulator(TodoistConfig::default()).await;
    emu.set_today(day("2026-05-20"));
    let task = emu.add_task(TaskSeed::new("pay rent").due_on(day("2026-05-20")));
    let a = post(&emu, &format!("/api/v1/tasks/{task}/close"), None).await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(emu.task(&task).unwrap()["checked"], true);
    assert!(!emu.active_task_ids().contains(&task));
    let a = get(&emu, &format!("/api/v1/tasks/{task}"), &[]).await;
    assert_eq!(a.json()["checked"], true);

    let a = post(&emu, &format!("/api/v1/tasks/{task}/reopen"), None).await;
    assert_eq!(a.status, 204);
    assert!(emu.active_task_ids().contains(&task));

    // A daily task two days late moves to tomorrow and stays open.
    let daily = emu.add_task(
        TaskSeed::new("water plants")
            .due_on(day("2026-05-18"))
            .every("every day"),
    );
    post(&emu, &format!("/api/v1/tasks/{daily}/close"), None).await;
    let t = emu.task(&daily).unwrap();
    assert_eq!(
        (t["checked"].clone(), t["due"]["date"].clone()),
        (json!(false), json!("2026-05-21"))
    );
    assert_eq!(t["due"]["is_recurring"], true);

    let a = post(&emu, "/api/v1/tasks/t999999/close", None).await;
    assert_todoist_error(&a, 404, "NOT_FOUND");
    let a = get(&emu, "/api/v1/tasks/t999999", &[]).await;
    assert_todoist_error(&a, 404, "NOT_FOUND");
}

#[tokio::test]
async fn creating_tasks_validates_like_todoist() {
    let emu = emulator(TodoistConfig::default()).await;
    emu.set_today(day("2026-01-31"));
    let project = emu.add_project("Errands");
    let a = post(
        &emu,
        "/api/v1/tasks",
        Some(json!({"content": "Buy milk", "due_string": "tomorrow", "priority": 4, "project_id": project})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let created = a.json();
    assert_eq!(created["due"]["date"], "2026-02-01");
    assert_eq!(
        (created["priority"].clone(), created["project_id"].clone()),
        (json!(4), json!(project))
    );
    assert_eq!(
        emu.task(created["id"].as_str().unwrap()).unwrap()["content"],
        "Buy milk"
    );

    let every = post(
        &emu,
        "/api/v1/tasks",
        Some(json!({"content": "Stand-up", "due_string": "every day"})),
    )
    .await
    .json();
    assert_eq!(every["due"]["is_recurring"], true);
    assert_eq!(every["project_id"], emu.inbox_project_id());

    let cases = [
        (json!({}), "ARGUMENT_MISSING"),
        (json!({"content": ""}), "INVALID_ARGUMENT_VALUE"),
        (
            json!({"content": "x", "priority": 5}),
            "INVALID_ARGUMENT_VALUE",
        ),
        (
            json!({"content": "x", "project_id": "p999999"}),
            "INVALID_ARGUMENT_VALUE",
        ),
        (
            json!({"content": "x", "due_string": "when pigs fly"}),
            "BAD_REQUEST",
        ),
        (
            json!({"content": "x", "due_date": "2026-02-01", "due_string": "today"}),
            "BAD_REQUEST",
        ),
    ];
    for (body, tag) in cases {
        let a = post(&emu, "/api/v1/tasks", Some(body.clone())).await;
        assert_todoist_error(&a, 400, tag);
    }
    assert_eq!(
        emu.active_task_ids().len(),
        2,
        "nothing created by rejected requests"
    );
}

#[tokio::test]
async fn faults_answer_in_todoist_shape_and_are_counted() {
    let emu = emulator(TodoistConfig::default()).await;
    emu.rate_limit_next(1);
    let a = get(&emu, "/api/v1/tasks", &[]).await;
    assert_todoist_error(&a, 429, "TOO_MANY_REQUESTS");
    assert_eq!(a.header("retry-after"), "1");
    assert_eq!(a.json()["error_extra"]["retry_after"], 1);
    emu.fail_next(1);
    assert_todoist_error(
        &get(&emu, "/api/v1/tasks", &[]).await,
        500,
        "INTERNAL_SERVER_ERROR",
    );
    assert_eq!(get(&emu, "/api/v1/tasks", &[]).await.status, 200);
    assert_eq!(emu.calls("/api/v1/tasks"), 3);
    assert_eq!(emu.calls("/api/v1/tasks/filter"), 0);
}
