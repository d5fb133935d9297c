//! The organisation repository registry: admin CRUD, name normalisation, validation,
//! duplicates, admin-only writes, tenancy and the workspace's read view.

use crate::{both_backends, TestApp, ADMIN_KEY};
use patchbay_store::testing::TestBackend;
use reqwest::Method;
use serde_json::{json, Value};

both_backends!(
    crud_with_activity,
    urls_normalise_and_duplicates_conflict,
    bad_input_gets_field_errors,
    only_the_admin_keeps_the_registry,
    workspaces_read_only_their_enabled_repositories,
);

async fn register(app: &TestApp, body: Value) -> (u16, Value) {
    app.post("/v1/admin/repos", ADMIN_KEY, body).await
}

async fn registered(app: &TestApp, ws: &str, full_name: &str) -> Value {
    let (s, repo) = register(app, json!({"workspace_id": ws, "full_name": full_name})).await;
    assert_eq!(s, 201, "{repo}");
    repo
}

fn full_names(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["full_name"].as_str().unwrap())
        .collect()
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["error"]["details"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no field errors in {body}"))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn crud_with_activity(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (ws, _) = app.workspace("acme").await;
    let (s, repo) = register(
        &app,
        json!({"workspace_id": ws, "full_name": "octo-org/api", "default_branch": "develop"}),
    )
    .await;
    assert_eq!(s, 201, "{repo}");
    let id = repo["id"].as_str().unwrap();
    assert!(id.starts_with("repo_"), "{id}");
    assert_eq!(
        (&repo["provider"], &repo["owner"], &repo["name"]),
        (&json!("github"), &json!("octo-org"), &json!("api"))
    );
    assert_eq!(
        (&repo["enabled"], &repo["default_branch"]),
        (&json!(true), &json!("develop"))
    );

    let path = format!("/v1/admin/repos/{id}");
    let (s, shown) = app.get(&path, ADMIN_KEY).await;
    assert_eq!((s, &shown), (200, &repo));

    let (s, changed) = app.patch(&path, ADMIN_KEY, json!({"enabled": false})).await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(
        (&changed["enabled"], &changed["default_branch"]),
        (&json!(false), &json!("develop")),
        "fields left out stay"
    );
    let (_, cleared) = app
        .patch(&path, ADMIN_KEY, json!({"default_branch": null}))
        .await;
    assert_eq!(
        cleared["default_branch"],
        Value::Null,
        "null clears the branch"
    );
    assert_eq!(cleared["enabled"], false);

    let (s, _) = app.call(Method::DELETE, &path, ADMIN_KEY, None).await;
    assert_eq!(s, 204);
    assert_eq!(app.get(&path, ADMIN_KEY).await.0, 404);
    assert_eq!(
        app.call(Method::DELETE, &path, ADMIN_KEY, None).await.0,
        404
    );
    assert_eq!(
        app.patch(&path, ADMIN_KEY, json!({"enabled": true}))
            .await
            .0,
        404
    );

    let (_, acts) = app.get("/v1/admin/activity?limit=100", ADMIN_KEY).await;
    let mut seen: Vec<&str> = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["details"]["repository_id"] == id)
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            "repository.registered",
            "repository.removed",
            "repository.updated",
            "repository.updated"
        ]
    );
}

async fn urls_normalise_and_duplicates_conflict(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (ws, _) = app.workspace("acme").await;
    let (other, _) = app.workspace("globex").await;
    for (input, expected) in [
        ("https://github.com/Octo-Org/Web", "octo-org/web"),
        ("https://github.com/octo-org/cli.git", "octo-org/cli"),
        ("git@github.com:octo-org/infra.git", "octo-org/infra"),
        ("  octo-org/docs/  ", "octo-org/docs"),
    ] {
        let repo = registered(&app, &ws, input).await;
        assert_eq!(repo["full_name"], expected, "{input}");
    }
    // The same repository in another spelling is the same repository.
    for dup in [
        "octo-org/web",
        "https://github.com/OCTO-ORG/web.git",
        "git@github.com:octo-org/web",
    ] {
        let (s, body) = register(&app, json!({"workspace_id": ws, "full_name": dup})).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (409, Some("conflict")),
            "{dup}: {body}"
        );
    }
    // Another workspace may register it too.
    registered(&app, &other, "octo-org/web").await;

    let (s, page) = app
        .get(
            &format!("/v1/admin/repos?workspace_id={ws}&limit=3"),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(full_names(&page).len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .get(
            &format!("/v1/admin/repos?workspace_id={ws}&limit=3&cursor={cursor}"),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(full_names(&rest).len(), 1);
    assert!(rest.get("next_cursor").is_none_or(Value::is_null), "{rest}");
    let (_, all) = app.get("/v1/admin/repos", ADMIN_KEY).await;
    assert_eq!(
        full_names(&all).len(),
        5,
        "without a filter: every workspace"
    );
}

async fn bad_input_gets_field_errors(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (ws, _) = app.workspace("acme").await;
    for (body, field, code) in [
        (json!({"full_name": "no-slash"}), "full_name", "format"),
        (json!({"full_name": ""}), "full_name", "required"),
        (
            json!({"full_name": "https://gitlab.com/o/r"}),
            "full_name",
            "unsupported_host",
        ),
        (
            json!({"full_name": "-bad-/repo"}),
            "full_name",
            "invalid_owner",
        ),
        (
            json!({"full_name": "octo/bad name"}),
            "full_name",
            "invalid_name",
        ),
        (
            json!({"full_name": "o/r", "provider": "gitlab"}),
            "provider",
            "unsupported",
        ),
        (
            json!({"full_name": "o/r", "default_branch": "a..b"}),
            "default_branch",
            "format",
        ),
    ] {
        let mut body = body;
        body["workspace_id"] = json!(ws);
        let (s, err) = register(&app, body.clone()).await;
        assert_eq!(s, 422, "{body}: {err}");
        assert!(
            field_codes(&err).contains(&(field.to_string(), code.to_string())),
            "{body}: {err}"
        );
    }
    // Every field error at once.
    let (_, err) = register(
        &app,
        json!({"workspace_id": ws, "full_name": "x", "provider": "svn", "default_branch": " "}),
    )
    .await;
    assert_eq!(field_codes(&err).len(), 3, "{err}");
    // Unknown workspace, unknown field, and a bad branch in a patch.
    let (s, _) = register(&app, json!({"workspace_id": "ws_nope", "full_name": "o/r"})).await;
    assert_eq!(s, 404);
    let (s, _) = register(
        &app,
        json!({"workspace_id": ws, "full_name": "o/r", "x": 1}),
    )
    .await;
    assert_eq!(s, 422);
    let id = registered(&app, &ws, "o/r").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, err) = app
        .patch(
            &format!("/v1/admin/repos/{id}"),
            ADMIN_KEY,
            json!({"default_branch": "-x"}),
        )
        .await;
    assert_eq!(s, 422, "{err}");
    let (_, repo) = app.get(&format!("/v1/admin/repos/{id}"), ADMIN_KEY).await;
    assert_eq!(
        repo["default_branch"],
        Value::Null,
        "a refused patch changes nothing"
    );
}

async fn only_the_admin_keeps_the_registry(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (ws, key) = app.workspace("acme").await;
    let id = registered(&app, &ws, "octo-org/api").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one = format!("/v1/admin/repos/{id}");
    let calls = [
        (
            Method::POST,
            "/v1/admin/repos".to_string(),
            Some(json!({"workspace_id": ws, "full_name": "a/b"})),
        ),
        (Method::GET, "/v1/admin/repos".to_string(), None),
        (Method::GET, one.clone(), None),
        (Method::PATCH, one.clone(), Some(json!({"enabled": false}))),
        (Method::DELETE, one.clone(), None),
    ];
    for (method, path, body) in calls {
        let (s, err) = app.call(method.clone(), &path, &key, body.clone()).await;
        assert_eq!(s, 403, "{method} {path} with a workspace key: {err}");
        let mut rb = app
            .client
            .request(method.clone(), format!("{}{path}", app.base));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let (s, _) = crate::read(rb.send().await.unwrap()).await;
        assert_eq!(s, 401, "{method} {path} without a key");
    }
    let (_, repo) = app.get(&one, ADMIN_KEY).await;
    assert_eq!(repo["enabled"], true, "nothing changed");
    assert_eq!(
        full_names(&app.get("/v1/admin/repos", ADMIN_KEY).await.1),
        ["octo-org/api"]
    );
    let (_, doc) = app.get("/openapi.json", "").await;
    for path in [
        "/v1/admin/repos",
        "/v1/admin/repos/{id}",
        "/v1/repos",
        "/v1/repos/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }
    // The read view is the workspace's: the admin key has no workspace to read.
    assert_eq!(app.get("/v1/repos", ADMIN_KEY).await.0, 403);
}

async fn workspaces_read_only_their_enabled_repositories(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (acme, acme_key) = app.workspace("acme").await;
    let (globex, globex_key) = app.workspace("globex").await;
    let api = registered(&app, &acme, "octo-org/api").await;
    let web = registered(&app, &acme, "octo-org/web").await;
    let (s, _) = register(
        &app,
        json!({"workspace_id": acme, "full_name": "octo-org/old", "enabled": false}),
    )
    .await;
    assert_eq!(s, 201);
    let theirs = registered(&app, &globex, "globex/tools").await;

    let (s, page) = app.get("/v1/repos", &acme_key).await;
    assert_eq!(s, 200, "{page}");
    let mut names = full_names(&page);
    names.sort_unstable();
    assert_eq!(names, ["octo-org/api", "octo-org/web"]);
    assert_eq!(
        full_names(&app.get("/v1/repos", &globex_key).await.1),
        ["globex/tools"]
    );

    let own = format!("/v1/repos/{}", api["id"].as_str().unwrap());
    assert_eq!(app.get(&own, &acme_key).await.1, api);
    assert_eq!(
        app.get(&own, &globex_key).await.0,
        404,
        "another workspace's repository"
    );
    let foreign = format!("/v1/repos/{}", theirs["id"].as_str().unwrap());
    assert_eq!(app.get(&foreign, &acme_key).await.0, 404);

    // Disabling hides a repository from the read view; enabling shows it again.
    let web_id = web["id"].as_str().unwrap();
    let admin_path = format!("/v1/admin/repos/{web_id}");
    app.patch(&admin_path, ADMIN_KEY, json!({"enabled": false}))
        .await;
    assert_eq!(
        full_names(&app.get("/v1/repos", &acme_key).await.1),
        ["octo-org/api"]
    );
    assert_eq!(
        app.get(&format!("/v1/repos/{web_id}"), &acme_key).await.0,
        404
    );
    app.patch(&admin_path, ADMIN_KEY, json!({"enabled": true}))
        .await;
    assert_eq!(
        full_names(&app.get("/v1/repos", &acme_key).await.1).len(),
        2
    );
    assert_eq!(app.get("/v1/repos", "pbk_not_a_key").await.0, 401);
}
