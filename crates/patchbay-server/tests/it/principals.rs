//! Integration principals: scoped keys, grants, rotation, last use, and actions.

use crate::{assert_hidden, both_backends, printing_body, TestApp, EMULATOR_KEY};
use patchbay_emulators::printing_partner;
use patchbay_store::testing::TestBackend;
use serde_json::json;

both_backends!(
    principal_scope_and_rotation,
    actions_run_through_the_principal,
    idempotency_keys_replay_only_to_allowed_callers
);

async fn principal_scope_and_rotation(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body(
        "u1",
        "shop-1",
        "https://print.example",
        "pp_live_0123456789abcdef",
    );
    body["allowed_actions"] = json!(["cancel_order"]);
    let c = app.connection(&key, body).await;
    let other = app
        .connection(
            &key,
            printing_body(
                "u2",
                "shop-2",
                "https://print.example",
                "pp_live_0123456789abcdef",
            ),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let pkey = c["principal_key"].as_str().unwrap().to_string();
    assert!(pkey.starts_with("pbi_"));
    // The key is shown once: reads never carry it.
    assert_hidden(
        &app.get(&format!("/v1/connections/{id}"), &key).await.1,
        &pkey,
    );

    let (s, p) = app
        .get(&format!("/v1/connections/{id}/principal"), &key)
        .await;
    assert_eq!(s, 200);
    assert_eq!(p["subject"], format!("integration:{id}"));
    assert_eq!(p["scope"], json!({"type": "event", "id": "evt_1"}));
    assert_eq!(p["action_keys"], json!(["cancel_order"]));
    let perms: Vec<&str> = p["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["permission"].as_str().unwrap())
        .collect();
    assert_eq!(perms, ["connection:read", "action:cancel_order"]);
    assert!(p["grants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["resource"] == format!("connection:{id}")));
    assert!(p["last_used_at"].is_null());
    let old_key_id = p["key_id"].as_str().unwrap().to_string();

    // The principal key reaches its own connection only.
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &pkey).await.0,
        200
    );
    assert_eq!(
        app.get(
            &format!("/v1/connections/{}", other["id"].as_str().unwrap()),
            &pkey
        )
        .await
        .0,
        404
    );
    assert_eq!(app.get("/v1/connections", &pkey).await.0, 403);
    assert_eq!(
        app.patch(
            &format!("/v1/connections/{id}"),
            &pkey,
            json!({"name": "x"})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.post(
            "/v1/connections",
            &pkey,
            printing_body("u9", "s-9", "https://p.example", "pp_live_0123456789abcdef")
        )
        .await
        .0,
        403
    );
    assert_eq!(
        app.post(&format!("/v1/connections/{id}/test"), &pkey, json!({}))
            .await
            .0,
        403
    );
    assert_eq!(
        app.post(
            &format!("/v1/connections/{id}/principal/rotate"),
            &pkey,
            json!({})
        )
        .await
        .0,
        403
    );
    assert_eq!(app.get("/v1/admin/stats", &pkey).await.0, 403);
    assert_eq!(
        app.call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{id}"),
            &pkey,
            None
        )
        .await
        .0,
        403
    );
    let used = app
        .get(&format!("/v1/connections/{id}/principal"), &key)
        .await
        .1;
    assert!(
        used["last_used_at"].is_string(),
        "last use is tracked: {used}"
    );

    // Rotation: new key id, the old key stops working, the new one works.
    let (s, r) = app
        .post(
            &format!("/v1/connections/{id}/principal/rotate"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let new_key = r["principal_key"].as_str().unwrap();
    assert_ne!(r["principal"]["key_id"].as_str().unwrap(), old_key_id);
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), &pkey).await.0,
        401
    );
    assert_eq!(
        app.get(&format!("/v1/connections/{id}"), new_key).await.0,
        200
    );
    let (_, acts) = app
        .get(&format!("/v1/activity?connection_id={id}"), &key)
        .await;
    let actions: Vec<&str> = acts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"principal.rotated") && actions.contains(&"principal.key_used"),
        "{actions:?}"
    );
    assert_hidden(&acts, new_key);
    // The principal sees only its own connection's activity.
    let (_, own) = app.get("/v1/activity", new_key).await;
    assert!(own["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["connection_id"] == id));
}

async fn actions_run_through_the_principal(backend: TestBackend) {
    let emulator = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body("u1", "demo-shop", &emulator.base_url, EMULATOR_KEY);
    body["allowed_actions"] = json!(["submit_order"]);
    let c = app.connection(&key, body).await;
    let id = c["id"].as_str().unwrap();
    let pkey = c["principal_key"].as_str().unwrap();
    let submit = format!("/v1/connections/{id}/actions/submit_order");
    let product = emulator.product_ids()[0].clone();
    let input = json!({"product_id": product, "quantity": 3});

    let (s, b) = app.post(&submit, pkey, input.clone()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("conflict")),
        "drafts run no actions: {b}"
    );
    app.patch(
        &format!("/v1/connections/{id}"),
        &key,
        json!({"lifecycle": "enabled"}),
    )
    .await;
    let (s, b) = app.post(&submit, pkey, input).await;
    assert_eq!(s, 200, "{b}");
    let order_id = b["result"]["id"].as_str().unwrap().to_string();
    assert!(
        emulator.order(&order_id).is_some(),
        "the order reached the partner"
    );
    // Not allowed for this principal, though the workspace key may run it.
    let cancel = format!("/v1/connections/{id}/actions/cancel_order");
    assert_eq!(
        app.post(&cancel, pkey, json!({"order_id": order_id}))
            .await
            .0,
        403
    );
    let (s, b) = app.post(&cancel, &key, json!({"order_id": order_id})).await;
    assert_eq!(s, 200, "{b}");
    // Bad input, unknown action, and a partner conflict (cancelling a shipped order).
    let (s, b) = app.post(&submit, &key, json!({"quantity": 0})).await;
    assert_eq!(s, 422);
    let f: Vec<&str> = b["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        f.contains(&"input.product_id") && f.contains(&"input.quantity"),
        "{f:?}"
    );
    assert_eq!(
        app.post(
            &format!("/v1/connections/{id}/actions/print_money"),
            &key,
            json!({})
        )
        .await
        .0,
        404
    );
    let shipped = emulator.orders_with_status("shipped")[0].clone();
    let (s, b) = app.post(&cancel, &key, json!({"order_id": shipped})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("provider_conflict")),
        "{b}"
    );
    // A partner outage is a 502, never a 500.
    emulator.fail_next(5);
    let (s, b) = app.post(&cancel, &key, json!({"order_id": order_id})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (502, Some("provider_error")),
        "{b}"
    );
    emulator.clear_faults();
    let (_, events) = app.get("/v1/events?limit=100", &key).await;
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "action.completed").count(),
        2
    );
    assert_eq!(types.iter().filter(|t| **t == "action.failed").count(), 2);
}

async fn idempotency_keys_replay_only_to_allowed_callers(backend: TestBackend) {
    let emulator = printing_partner::spawn(Default::default()).await.unwrap();
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut body = printing_body("u1", "demo-shop", &emulator.base_url, EMULATOR_KEY);
    body["allowed_actions"] = json!(["submit_order"]);
    body["enable"] = json!(true);
    let c = app.connection(&key, body).await;
    assert_eq!(c["lifecycle"], "enabled", "{c}");
    let id = c["id"].as_str().unwrap();
    let pkey = c["principal_key"].as_str().unwrap();
    let product = emulator.product_ids()[0].clone();
    let (s, b) = app
        .post(
            &format!("/v1/connections/{id}/actions/submit_order"),
            pkey,
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let input = json!({"order_id": b["result"]["id"]});
    let cancel = |caller: &str| {
        app.req(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/actions/cancel_order"),
            caller,
        )
        .header("Idempotency-Key", "cancel-1")
        .json(&input)
        .send()
    };

    let (s, b) = crate::read(cancel(&key).await.unwrap()).await;
    assert_eq!((s, b["replayed"].as_bool()), (200, Some(false)), "{b}");
    let (s, b) = crate::read(cancel(&key).await.unwrap()).await;
    assert_eq!((s, b["replayed"].as_bool()), (200, Some(true)), "{b}");
    // The principal may not cancel: the workspace key's stored result is not for it.
    let (s, b) = crate::read(cancel(pkey).await.unwrap()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{b}"
    );
    assert!(b["result"].is_null(), "{b}");

    // A disabled connection answers a replay as it would a first call.
    let (s, b) = app
        .patch(
            &format!("/v1/connections/{id}"),
            &key,
            json!({"lifecycle": "disabled"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = crate::read(cancel(&key).await.unwrap()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{b}"
    );
    assert!(b.to_string().contains("enabled"), "{b}");
}
