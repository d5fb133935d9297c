//! The operator's pages (workspaces with their key shown once, failing-connection counts,
//! activity, the repository registry) and the connections page's size, through plain HTTP
//! with the session cookie handled by hand; the subscription pages are in [`subscriptions`].

mod subscriptions;

use crate::ui::{browser, csrf_field, get_page, sign_in};
use crate::{both_backends, printing_body, TestApp, ADMIN_KEY, EMULATOR_KEY};
use patchbay_emulators::printing_partner;
use patchbay_store::testing::TestBackend;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::{Client, Response};
use serde_json::json;

both_backends!(
    a_workspace_created_through_the_form_shows_its_key_once,
    the_failing_count_rises_when_a_connection_fails,
    activity_lists_entries_newest_first_and_pages,
    the_repository_registry_lists_and_changes_repositories,
    a_connections_page_holds_at_most_100_rows,
);

/// The text between `start` and the next `end` after it.
fn between(html: &str, start: &str, end: &str) -> Option<String> {
    let from = html.find(start)? + start.len();
    Some(html[from..].split(end).next()?.to_string())
}

async fn post_form(
    app: &TestApp,
    browser: &Client,
    path: &str,
    session: &str,
    form: &[(&str, &str)],
) -> Response {
    browser
        .post(format!("{}{path}", app.base))
        .header(COOKIE, session)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The page's HTML, asserting its status.
async fn page(app: &TestApp, browser: &Client, path: &str, session: &str, status: u16) -> String {
    let resp = get_page(app, browser, path, session).await;
    assert_eq!(resp.status(), status, "GET {path}");
    resp.text().await.unwrap()
}

/// A signed-in browser: (client, session cookie, the session's CSRF token).
async fn signed_in(app: &TestApp, key: &str) -> (Client, String, String) {
    let browser = browser();
    let session = sign_in(app, &browser, key).await;
    let html = page(app, &browser, "/ui", &session, 200).await;
    let csrf = csrf_field(&html);
    (browser, session, csrf)
}

async fn a_workspace_created_through_the_form_shows_its_key_once(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (b, session, csrf) = signed_in(&app, ADMIN_KEY).await;
    let home = page(&app, &b, "/ui", &session, 200).await;
    assert!(home.contains(r#"<form method="post" action="/ui/workspaces""#));
    assert!(home.contains(r#"<label for="workspace-name">"#), "{home}");

    // Without its token the form is refused and nothing is created.
    for form in [
        vec![("name", "Initech")],
        vec![("name", "Initech"), ("csrf", "")],
    ] {
        let resp = post_form(&app, &b, "/ui/workspaces", &session, &form).await;
        assert_eq!(resp.status(), 403);
    }
    let wrong = "0".repeat(64);
    let resp = post_form(
        &app,
        &b,
        "/ui/workspaces",
        &session,
        &[("name", "Initech"), ("csrf", &wrong)],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let (_, listed) = app.get("/v1/admin/workspaces", ADMIN_KEY).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "{listed}");

    // A blank name comes back with the engine's error next to the field.
    let resp = post_form(
        &app,
        &b,
        "/ui/workspaces",
        &session,
        &[("name", "   "), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"aria-describedby="workspace-name-error""#),
        "{html}"
    );
    let error = between(&html, r#"id="workspace-name-error">"#, "<").unwrap();
    assert!(error.contains("name"), "{error}");

    let resp = post_form(
        &app,
        &b,
        "/ui/workspaces",
        &session,
        &[("name", "Initech <Labs>"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 201);
    let html = resp.text().await.unwrap();
    assert!(html.contains("it will not be shown again"), "{html}");
    assert!(html.contains("Initech &#60;Labs&#62;") || html.contains("Initech &lt;Labs&gt;"));
    let key = between(&html, r#"id="secret-key">"#, "<").unwrap();
    assert!(key.starts_with("pbk_"), "{key}");
    let (_, listed) = app.get("/v1/admin/workspaces", ADMIN_KEY).await;
    let id = listed["data"][0]["id"].as_str().unwrap().to_string();
    assert!(html.contains(&id));

    // Listed afterwards, the key nowhere.
    let home = page(&app, &b, "/ui", &session, 200).await;
    assert!(home.contains(&id), "{home}");
    assert!(!home.contains(&key), "the key is shown again");

    // The key is the workspace's: it signs in and calls the API.
    let (pb, planner, _) = signed_in(&app, &key).await;
    let catalog = page(&app, &pb, "/ui", &planner, 200).await;
    assert!(catalog.contains(&format!("Workspace {id}")), "{catalog}");
    assert_eq!(app.get("/v1/connections", &key).await.0, 200);
}

/// `id="failing-count">N<` on the operator's home.
async fn failing_count(app: &TestApp, b: &Client, session: &str) -> (i64, String) {
    let html = page(app, b, "/ui", session, 200).await;
    let n = between(&html, r#"id="failing-count">"#, "<")
        .expect("a failing count")
        .parse()
        .unwrap();
    (n, html)
}

async fn the_failing_count_rises_when_a_connection_fails(backend: TestBackend) {
    let emulator = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body("u1", "demo-shop", &emulator.base_url, EMULATOR_KEY);
    body["enable"] = json!(true);
    let conn = app.connection(&key, body).await;
    let id = conn["id"].as_str().unwrap();
    app.connection(
        &key,
        printing_body("u2", "other-shop", &emulator.base_url, EMULATOR_KEY),
    )
    .await;
    let (b, session, _) = signed_in(&app, ADMIN_KEY).await;

    let (failing, html) = failing_count(&app, &b, &session).await;
    assert_eq!(failing, 0);
    assert!(
        html.contains(r#"<a href="/ui/connections"><strong>2</strong> connections</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/ui/connections?lifecycle=enabled">1</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/ui/connections?lifecycle=draft">1</a>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="/ui/connections?health=healthy">2</a>"#),
        "{html}"
    );

    // The partner refuses the key: the test says so and health follows.
    let wrong = "pp_test_not_the_right_key_99";
    let (s, _) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"secrets": {"api_key": wrong}}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, tested) = app
        .post(&format!("/v1/connections/{id}/test"), &key, json!({}))
        .await;
    assert_eq!(tested["ok"], false, "{tested}");

    let (failing, html) = failing_count(&app, &b, &session).await;
    assert_eq!(failing, 1);
    let stats = app.get("/v1/admin/stats", ADMIN_KEY).await.1;
    assert_eq!(stats["failing_connections"], 1, "{stats}");
    let link = r#"<a href="/ui/connections?health=needs_reconnect">1 needs_reconnect</a>"#;
    assert!(html.contains(link), "{html}");
    assert!(html.contains(r#"<a href="/ui/connections?health=healthy">1</a>"#));
    for hidden in [ADMIN_KEY, key.as_str(), wrong, EMULATOR_KEY] {
        assert!(!html.contains(hidden), "a secret is on the page");
    }
    // The link opens the failing connection, and only it.
    let list = page(
        &app,
        &b,
        "/ui/connections?health=needs_reconnect",
        &session,
        200,
    )
    .await;
    assert!(list.contains(id), "{list}");
    assert!(list.contains("1 connections"), "{list}");
}

/// The `rel="next"` link of a page, unescaped.
fn next_link(html: &str) -> Option<String> {
    let (before, _) = html.split_once(r#"" rel="next""#)?;
    let href = before.rsplit('"').next()?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

/// The ids of the activity rows on a page, top to bottom.
fn activity_ids(html: &str) -> Vec<String> {
    html.split(r#"<tr id=""#)
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

async fn activity_lists_entries_newest_first_and_pages(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (acme_id, key) = app.workspace("acme").await;
    let (globex_id, other_key) = app.workspace("globex").await;
    let secret = "pp_live_activity_secret_01";
    let conn = app
        .connection(
            &key,
            printing_body("u1", "s1", "http://127.0.0.1:9", secret),
        )
        .await;
    let id = conn["id"].as_str().unwrap();
    let second = app
        .connection(
            &key,
            printing_body("u2", "s2", "http://127.0.0.1:9", secret),
        )
        .await;
    app.connection(
        &other_key,
        printing_body("u3", "s3", "http://127.0.0.1:9", secret),
    )
    .await;
    // More entries than one page holds.
    for i in 0..55 {
        let (s, _) = app
            .patch(
                &format!("/v1/connections/{id}"),
                &key,
                json!({"name": format!("renamed {i}")}),
            )
            .await;
        assert_eq!(s, 200);
    }
    let (_, api) = app.get("/v1/activity", &key).await;
    let api_ids: Vec<String> = api["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();

    let (b, session, _) = signed_in(&app, &key).await;
    let first = page(&app, &b, "/ui/activity", &session, 200).await;
    assert!(first.contains("<h1>Activity</h1>"));
    assert!(first.contains(r#"<label for="filter-connection">"#));
    // The same entries as the API, newest first, without a workspace column.
    assert_eq!(activity_ids(&first), api_ids);
    assert!(first.contains("<code>connection.updated</code>"), "{first}");
    assert!(!first.contains(r#"<th scope="col">Workspace</th>"#));
    let older = next_link(&first).expect("a link to older entries");
    let rest = page(&app, &b, &older, &session, 200).await;
    let rest_ids = activity_ids(&rest);
    assert!(
        !rest_ids.is_empty() && rest.contains("Newest entries"),
        "{rest}"
    );
    assert!(
        rest_ids.iter().all(|r| !api_ids.contains(r)),
        "pages overlap"
    );
    let (_, api_rest) = app
        .get(
            &format!(
                "/v1/activity?cursor={}",
                api["next_cursor"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    assert_eq!(rest_ids.len(), api_rest["data"].as_array().unwrap().len());
    assert!(rest.contains("<code>connection.created</code>"), "{rest}");

    // By connection: only its entries; the second connection's creation is not among them.
    let filtered = page(
        &app,
        &b,
        &format!(
            "/ui/activity?connection_id={}",
            second["id"].as_str().unwrap()
        ),
        &session,
        200,
    )
    .await;
    let ids = activity_ids(&filtered);
    assert!(!ids.is_empty() && ids.len() < 5, "{filtered}");
    assert!(!filtered.contains("connection.updated"), "{filtered}");
    page(
        &app,
        &b,
        "/ui/activity?connection_id=conn_does_not_exist",
        &session,
        404,
    )
    .await;

    // The operator reads every workspace's, each entry naming its workspace.
    let (ob, operator, _) = signed_in(&app, ADMIN_KEY).await;
    let all = page(&app, &ob, "/ui/activity", &operator, 200).await;
    assert!(all.contains(r#"<th scope="col">Workspace</th>"#));
    assert!(all.contains(&format!("<code>{acme_id}</code>")));
    let (_, admin_api) = app.get("/v1/admin/activity", ADMIN_KEY).await;
    assert_eq!(
        activity_ids(&all),
        admin_api["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    let globex_page = page(
        &app,
        &ob,
        &format!(
            "/ui/activity?connection_id={}",
            second["id"].as_str().unwrap()
        ),
        &operator,
        200,
    )
    .await;
    assert!(!activity_ids(&globex_page).is_empty());
    assert!(!globex_page.contains(&globex_id));

    for html in [&first, &rest, &filtered, &all] {
        for hidden in [ADMIN_KEY, key.as_str(), other_key.as_str(), secret] {
            assert!(!html.contains(hidden), "a secret is on the page");
        }
        assert!(!html.contains("callback-secret-0123456789abcdef"));
        assert!(html.len() < 100 * 1024);
    }
}

async fn the_repository_registry_lists_and_changes_repositories(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (ws, key) = app.workspace("acme").await;
    let (b, session, csrf) = signed_in(&app, ADMIN_KEY).await;
    let html = page(&app, &b, "/ui/repositories", &session, 200).await;
    assert!(html.contains("No repositories are registered"), "{html}");
    assert!(
        html.contains(&format!(r#"<option value="{ws}">"#)),
        "{html}"
    );
    for control in ["repo-workspace", "repo-name", "repo-branch", "repo-enabled"] {
        assert!(
            html.contains(&format!(r#"<label for="{control}">"#)),
            "{control}"
        );
    }

    let register = |form: Vec<(&'static str, String)>| {
        b.post(format!("{}/ui/repositories", app.base))
            .header(COOKIE, &session)
            .form(&form)
            .send()
    };
    let resp = register(vec![
        ("workspace_id", ws.clone()),
        ("full_name", "acme/widgets".into()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 403, "no token");
    let resp = register(vec![
        ("csrf", csrf.clone()),
        ("workspace_id", ws.clone()),
        ("full_name", "not a repository".into()),
        ("enabled", "on".into()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 422);
    let html = resp.text().await.unwrap();
    assert!(
        between(&html, r#"id="repo-name-error">"#, "<").is_some(),
        "{html}"
    );
    assert!(
        html.contains(r#"value="not a repository""#),
        "the draft is kept"
    );

    let resp = register(vec![
        ("csrf", csrf.clone()),
        ("workspace_id", ws.clone()),
        ("full_name", "https://github.com/acme/widgets.git".into()),
        ("enabled", "on".into()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/ui/repositories");
    let (_, repos) = app.get("/v1/admin/repos", ADMIN_KEY).await;
    let repo = &repos["data"][0];
    assert_eq!(repo["full_name"], "acme/widgets", "{repos}");
    assert_eq!(repo["enabled"], true);
    let id = repo["id"].as_str().unwrap().to_string();
    let html = page(&app, &b, "/ui/repositories", &session, 200).await;
    assert!(
        html.contains("<code>acme/widgets</code>") && html.contains(&id),
        "{html}"
    );
    assert!(!html.contains(&key) && !html.contains(ADMIN_KEY));

    // The same again is a conflict, told next to the name.
    let resp = register(vec![
        ("csrf", csrf.clone()),
        ("workspace_id", ws.clone()),
        ("full_name", "acme/widgets".into()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 409);
    let html = resp.text().await.unwrap();
    let error = between(&html, r#"id="repo-name-error">"#, "<").unwrap();
    assert!(error.contains("already registered"), "{error}");

    // Disable, set a branch, refuse a bad one, remove.
    let path = format!("/ui/repositories/{id}");
    let resp = post_form(
        &app,
        &b,
        &path,
        &session,
        &[("csrf", &csrf), ("enabled", "false")],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let resp = post_form(
        &app,
        &b,
        &path,
        &session,
        &[("csrf", &csrf), ("default_branch", "main")],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let (_, repo) = app.get(&format!("/v1/admin/repos/{id}"), ADMIN_KEY).await;
    assert_eq!(
        (&repo["enabled"], &repo["default_branch"]),
        (&json!(false), &json!("main"))
    );
    assert_eq!(app.get("/v1/repos", &key).await.1["data"], json!([]));
    let resp = post_form(
        &app,
        &b,
        &path,
        &session,
        &[("csrf", &csrf), ("default_branch", "a..b")],
    )
    .await;
    assert_eq!(resp.status(), 422);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("not a valid git branch name"));
    let resp = post_form(
        &app,
        &b,
        &format!("{path}/remove"),
        &session,
        &[("csrf", "")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = post_form(
        &app,
        &b,
        &format!("{path}/remove"),
        &session,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        app.get("/v1/admin/repos", ADMIN_KEY).await.1["data"],
        json!([])
    );
    let resp = post_form(
        &app,
        &b,
        &format!("{path}/remove"),
        &session,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status(), 404);
}

async fn a_connections_page_holds_at_most_100_rows(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    // Names at their longest, so a full page is as large as names make it.
    for chunk in (0..101).collect::<Vec<_>>().chunks(10) {
        futures_util::future::join_all(chunk.iter().map(|i| {
            let mut body = printing_body(
                &format!("u{i}"),
                &format!("s{i}"),
                "http://127.0.0.1:9",
                "pp_live_0123456789ab",
            );
            body["name"] = json!(format!("{i:03}{}", "n".repeat(197)));
            app.connection(&key, body)
        }))
        .await;
    }
    let (b, session, _) = signed_in(&app, &key).await;
    let first = page(&app, &b, "/ui/connections", &session, 200).await;
    assert_eq!(first.matches("<tr><td>").count(), 100);
    assert!(first.len() < 100 * 1024, "{} bytes", first.len());
    let next = next_link(&first).expect("a next page");
    let rest = page(&app, &b, &next, &session, 200).await;
    assert_eq!(rest.matches("<tr><td>").count(), 1);
    assert!(next_link(&rest).is_none());

    // Smaller pages on request; the size is kept from page to page.
    let small = page(&app, &b, "/ui/connections?limit=40", &session, 200).await;
    assert_eq!(small.matches("<tr><td>").count(), 40);
    let next = next_link(&small).unwrap();
    assert!(next.contains("limit=40"), "{next}");
    let second = page(&app, &b, &next, &session, 200).await;
    assert_eq!(second.matches("<tr><td>").count(), 40);
    for limit in ["0", "101", "500", "x"] {
        page(
            &app,
            &b,
            &format!("/ui/connections?limit={limit}"),
            &session,
            400,
        )
        .await;
    }
}
