//! The API contract: one authorization rule on every route, an OpenAPI document that matches
//! the router, and the input rules every route shares (limits, text, 405s).

use crate::{both_backends, printing_body, TestApp, ADMIN_KEY};
use patchbay_server::{route_table, Access};
use patchbay_store::testing::TestBackend;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

both_backends!(
    every_route_takes_only_its_kinds_of_key,
    the_document_matches_the_router,
    get_answers_match_their_schemas,
    limits_outside_the_range_are_refused,
    control_characters_and_unbounded_values_are_refused,
    revoking_comes_alone,
    unknown_methods_answer_405_with_the_error_shape,
);

/// The kinds of key a test holds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Admin,
    Workspace,
    Principal,
}

fn takes(access: Access, kind: Kind) -> bool {
    matches!(
        (access, kind),
        (Access::Admin, Kind::Admin)
            | (Access::Workspace, Kind::Workspace)
            | (
                Access::WorkspaceOrPrincipal,
                Kind::Workspace | Kind::Principal
            )
    )
}

/// A concrete path for a route: `{id}` is the principal's own connection.
fn concrete(path: &str, connection: &str) -> String {
    path.replace("{id}", connection)
        .replace("{action}", "submit_order")
        .replace("{*path}", "anything")
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "x".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A server with workspace "acme" and one draft connection whose partner is unreachable.
async fn app_with_connection(backend: TestBackend) -> (TestApp, String, Value) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let body = printing_body("u1", "shop-1", "http://127.0.0.1:9", "pp_live_0123456789ab");
    let conn = app.connection(&key, body).await;
    (app, key, conn)
}

async fn every_route_takes_only_its_kinds_of_key(backend: TestBackend) {
    let (app, key, conn) = app_with_connection(backend).await;
    let id = conn["id"].as_str().unwrap().to_string();
    let principal = conn["principal_key"].as_str().unwrap().to_string();
    let keys = [
        (Kind::Admin, ADMIN_KEY.to_string()),
        (Kind::Workspace, key.clone()),
        (Kind::Principal, principal),
    ];
    let rules = route_table();
    assert!(rules.len() > 60, "the table lists every route");
    for rule in &rules {
        if rule.access == Access::Public {
            continue;
        }
        let path = concrete(rule.path, &id);
        let body = (rule.method != Method::GET && rule.method != Method::DELETE).then(|| json!({}));
        let (s, b) = app.call(rule.method.clone(), &path, "", body.clone()).await;
        assert_eq!(s, 401, "{} {path} without a key: {b}", rule.method);
        let (s, _) = app
            .call(rule.method.clone(), &path, "pb_nobody", body.clone())
            .await;
        assert_eq!(s, 401, "{} {path} with an unknown key", rule.method);
        // Changes that would take the fixtures away are checked only for refusals.
        let destructive = rule.method == Method::DELETE || path.ends_with("/rotate");
        for (kind, k) in &keys {
            let allowed = takes(rule.access, *kind);
            if allowed && destructive {
                continue;
            }
            let (s, b) = if path.ends_with("/stream") {
                // The stream never ends: its status and headers are the answer.
                let resp = app.req(rule.method.clone(), &path, k).send().await.unwrap();
                let status = resp.status().as_u16();
                let body = if status == 200 {
                    Value::Null
                } else {
                    resp.json().await.unwrap()
                };
                (status, body)
            } else {
                app.call(rule.method.clone(), &path, k, body.clone()).await
            };
            if allowed {
                assert!(
                    s != 401 && s != 403,
                    "{} {path} refused a {kind:?} key: {s} {b}",
                    rule.method
                );
            } else {
                assert_eq!(s, 403, "{} {path} took a {kind:?} key: {b}", rule.method);
                assert_eq!(b["error"]["code"], "forbidden", "{b}");
                assert!(
                    b["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains(rule.access.describe()),
                    "{b}"
                );
            }
        }
    }
}

async fn the_document_matches_the_router(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (s, doc) = app.get("/openapi.json", "").await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let served: BTreeSet<(String, String)> = route_table()
        .iter()
        .map(|r| (r.method.as_str().to_ascii_lowercase(), r.openapi_path()))
        .collect();
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            let id = op["operationId"].as_str().unwrap();
            assert!(
                operation_ids.insert(id.to_string()),
                "operationId {id} twice"
            );
            check_operation(path, method, op);
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
    assert!(phantom.is_empty(), "documented but not served: {phantom:?}");
    for rule in route_table() {
        let op = &doc["paths"][rule.openapi_path()][rule.method.as_str().to_ascii_lowercase()];
        let secured = op["security"].is_array();
        assert_eq!(
            secured,
            rule.access != Access::Public,
            "{} {}",
            rule.method,
            rule.path
        );
        if secured {
            for status in ["401", "403"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{} {} lacks {status}",
                    rule.method,
                    rule.path
                );
            }
        }
    }
    // Findings of the fuzzer, pinned.
    let schemas = &doc["components"]["schemas"];
    let patch = &schemas["PatchConnection"];
    assert!(
        patch["required"].as_array().is_none_or(|r| r.is_empty()),
        "{patch}"
    );
    assert_eq!(
        patch["properties"]["secrets"]["additionalProperties"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(
        schemas["CreateSubscription"]["properties"]["url"]["format"],
        "uri"
    );
    assert_eq!(
        schemas["CreateWorkspace"]["properties"]["name"]["maxLength"],
        200
    );
    assert_eq!(
        schemas["CreateRepository"]["properties"]["full_name"]["maxLength"],
        300
    );
    let proxy = &doc["paths"]["/v1/connections/{id}/proxy/{path}"];
    for method in ["get", "post", "put", "patch", "delete"] {
        assert!(proxy[method].is_object(), "proxy {method}");
    }
    let stream = &doc["paths"]["/v1/events/stream"]["get"]["responses"]["200"]["content"];
    assert!(stream["text/event-stream"].is_object(), "{stream}");
    assert!(
        doc["paths"]["/v1/admin/stats"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]
            .is_object()
    );
    let hook = &doc["paths"]["/v1/webhooks/{connector}/{connection_id}"]["post"]["requestBody"];
    assert!(
        hook["content"].is_object(),
        "webhooks document their body: {hook}"
    );
}

/// Parameters sit where the route takes them; every error answer has the error schema; a JSON
/// body documents its 400, 413, 415 and 422.
fn check_operation(path: &str, method: &str, op: &Value) {
    for p in op["parameters"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap();
        let in_template = path.contains(&format!("{{{name}}}"));
        match p["in"].as_str().unwrap() {
            "path" => assert!(in_template, "{method} {path}: {name} is not in the path"),
            "query" | "header" => assert!(!in_template, "{method} {path}: {name}"),
            other => panic!("{method} {path}: {name} in {other}"),
        }
    }
    for (status, resp) in op["responses"].as_object().unwrap() {
        if status.parse::<u16>().is_ok_and(|s| s >= 400) {
            assert_eq!(
                resp["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error",
                "{method} {path} {status}"
            );
        }
    }
    if op["requestBody"]["content"]["application/json"].is_object() {
        for status in ["400", "413", "415", "422"] {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} lacks {status}"
            );
        }
    }
}

/// Validates `value` against the documented schema of a 200 answer.
fn conforms(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&root).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

async fn get_answers_match_their_schemas(backend: TestBackend) {
    let (app, key, conn) = app_with_connection(backend).await;
    let id = conn["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .post(
            "/v1/subscriptions",
            &key,
            json!({"url": "https://hooks.example/in"}),
        )
        .await;
    assert_eq!(s, 201);
    let (_, doc) = app.get("/openapi.json", "").await;
    let mut checked = 0;
    for rule in route_table() {
        if rule.method != Method::GET
            || rule.path.contains("/proxy")
            || rule.path.ends_with("/stream")
            || rule.path.starts_with("/v1/oauth/")
        {
            continue;
        }
        let k = match rule.access {
            Access::Admin => ADMIN_KEY,
            Access::Public => "",
            _ => key.as_str(),
        };
        let path = concrete(rule.path, &id).replace("/records/x", "/records/orders");
        let resp = app.req(Method::GET, &path, k).send().await.unwrap();
        let status = resp.status().as_u16();
        let is_json = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
        let text = resp.text().await.unwrap();
        let op = &doc["paths"][rule.openapi_path()]["get"];
        let documented = &op["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "GET {path} answered an undocumented {status}: {text}"
        );
        let Some(schema) = documented["content"]["application/json"]["schema"].as_object() else {
            continue;
        };
        assert!(is_json, "GET {path} {status} is documented as JSON");
        let value: Value = serde_json::from_str(&text).unwrap();
        conforms(&doc, &Value::Object(schema.clone()), &value)
            .unwrap_or_else(|e| panic!("GET {path} {status}: {e}\n{value}"));
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} answers checked");
}

async fn limits_outside_the_range_are_refused(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    for path in ["/v1/connections", "/v1/activity", "/v1/events", "/v1/repos"] {
        for bad in ["0", "501", "-1", "ten", "1.5"] {
            let (s, b) = app.get(&format!("{path}?limit={bad}"), &key).await;
            assert_eq!(s, 400, "{path} limit={bad}: {b}");
            assert_eq!(b["error"]["code"], "invalid_query", "{b}");
        }
        for good in ["1", "500"] {
            let (s, b) = app.get(&format!("{path}?limit={good}"), &key).await;
            assert_eq!(s, 200, "{path} limit={good}: {b}");
        }
    }
    let (s, _) = app.get("/v1/admin/workspaces?limit=501", ADMIN_KEY).await;
    assert_eq!(s, 400);
    let (s, b) = app.get("/v1/signals?owner_id=", &key).await;
    assert_eq!(
        (s, &b["error"]["code"]),
        (400, &json!("invalid_query")),
        "{b}"
    );
}

async fn control_characters_and_unbounded_values_are_refused(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    for name in ["bad\u{0}name", "line\nbreak", "   ", "esc\u{1b}[0m"] {
        let (s, b) = app
            .post("/v1/admin/workspaces", ADMIN_KEY, json!({"name": name}))
            .await;
        assert_eq!(s, 422, "{name:?}: {b}");
    }
    let (_, key) = app.workspace("acme").await;
    let base = || {
        printing_body(
            "u1",
            "shop-1",
            "https://print.example",
            "pp_live_0123456789ab",
        )
    };
    let mut cases = Vec::new();
    let mut b = base();
    b["owner"]["id"] = json!("user\u{0}42");
    cases.push(("owner id", b));
    let mut b = base();
    b["name"] = json!("Acme\rPrints");
    cases.push(("name", b));
    let mut b = base();
    b["owner"]["scope"]["id"] = json!("evt\u{7}1");
    cases.push(("scope", b));
    for freq in ["31d", "18446744073709551615s", "99999999999d"] {
        let mut b = base();
        b["sync_frequency"] = json!(freq);
        cases.push(("sync_frequency", b));
    }
    for (what, body) in cases {
        let (s, b) = app.post("/v1/connections", &key, body).await;
        assert_eq!(s, 422, "{what}: {b}");
    }
    let (s, _) = app.get("/v1/connections", &key).await;
    assert_eq!(s, 200);
    assert_eq!(
        app.get("/v1/connections", &key).await.1["data"],
        json!([]),
        "nothing half-written"
    );
    let conn = app.connection(&key, base()).await;
    let id = conn["id"].as_str().unwrap();
    let (s, b) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"name": "tab\there"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"sync_frequency": "30d"}),
        )
        .await;
    assert_eq!(s, 200, "30 days is the longest interval: {b}");

    // Subscriber URLs carry no credentials; they would be shown and logged as they are.
    for url in [
        "https://user:pass@hooks.example/in",
        "https://user@hooks.example/in",
        "https://@hooks.example/in",
        "ftp://hooks.example/in",
        "https:/hooks.example/in",
    ] {
        let (s, b) = app
            .post("/v1/subscriptions", &key, json!({"url": url}))
            .await;
        assert_eq!(s, 422, "{url}: {b}");
        assert!(!b.to_string().contains("pass@"), "{b}");
    }
    let (s, b) = app
        .post(
            "/v1/subscriptions",
            &key,
            json!({"url": "https://hooks.example/in", "description": "nul\u{0}"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = app
        .post(
            "/v1/subscriptions",
            &key,
            json!({"url": "https://hooks.example/in?a=b@c"}),
        )
        .await;
    assert_eq!(s, 201, "an @ after the host is not userinfo: {b}");
    let (_, activity) = app.get("/v1/activity", &key).await;
    assert!(!activity.to_string().contains("user:pass"), "{activity}");
}

async fn revoking_comes_alone(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let conn = app
        .connection(
            &key,
            printing_body(
                "u1",
                "shop-1",
                "https://print.example",
                "pp_live_0123456789ab",
            ),
        )
        .await;
    let path = format!("/v1/connections/{}", conn["id"].as_str().unwrap());
    for extra in [
        json!({"name": "renamed"}),
        json!({"sync_frequency": "1h"}),
        json!({"config": {"shop_id": "other"}}),
    ] {
        let mut body = extra.clone();
        body["lifecycle"] = json!("revoked");
        let (s, b) = app.patch(&path, &key, body).await;
        assert_eq!(s, 422, "{extra}: {b}");
        assert_eq!(
            b["error"]["details"]["fields"][0]["code"],
            "not_with_revoke"
        );
    }
    let (_, still) = app.get(&path, &key).await;
    assert_eq!(still["lifecycle"], "draft", "nothing changed");
    let (s, b) = app
        .patch(&path, &key, json!({"lifecycle": "revoked"}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["lifecycle"], "revoked");
}

async fn unknown_methods_answer_405_with_the_error_shape(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let resp = app
        .req(Method::PUT, "/v1/connections", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let allow = resp.headers()["allow"].to_str().unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    let (s, b) = app.call(Method::DELETE, "/v1/events", &key, None).await;
    assert_eq!(
        (s, &b["error"]["code"]),
        (405, &json!("method_not_allowed"))
    );
    let (s, b) = app.get("/v1/nothing-here", &key).await;
    assert_eq!((s, &b["error"]["code"]), (404, &json!("not_found")));
}
