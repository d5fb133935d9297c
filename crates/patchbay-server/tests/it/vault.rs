//! Secrets at rest: row binding of ciphertexts and key rotation under concurrent writes.

use crate::{both_backends, printing_body, TestApp};
use patchbay_engine::Caller;
use patchbay_store::testing::TestBackend;

use serde_json::json;
use std::time::Duration;

both_backends!(
    moved_ciphertext_refuses_to_open,
    rotation_under_concurrent_writes,
    wrong_master_key_is_refused
);

async fn moved_ciphertext_refuses_to_open(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (ws, key) = app.workspace("acme").await;
    let a = app
        .connection(
            &key,
            printing_body(
                "u1",
                "shop-a",
                "https://print.example",
                "pp_live_aaaaaaaaaaaaaaaa",
            ),
        )
        .await;
    let b = app
        .connection(
            &key,
            printing_body(
                "u2",
                "shop-b",
                "https://print.example",
                "pp_live_bbbbbbbbbbbbbbbb",
            ),
        )
        .await;
    let store = app.engine.store();
    let creds_a = store
        .list_credentials("connection", a["id"].as_str().unwrap())
        .await
        .unwrap();
    let creds_b = store
        .list_credentials("connection", b["id"].as_str().unwrap())
        .await
        .unwrap();
    let (from, to) = (&creds_a[0], &creds_b[0]);
    assert_eq!(from.field, to.field);
    // Copy A's sealed api_key into B's row.
    assert!(store
        .reseal_credential(&to.id, &to.ciphertext, &from.ciphertext, from.key_id)
        .await
        .unwrap());
    let caller = Caller::Workspace {
        workspace_id: ws,
        key_id: "k".into(),
    };
    let b_id = b["id"].as_str().unwrap();
    // The moved value refuses to open; the connection stays readable and names the row.
    let view = app
        .engine
        .connections()
        .get_connection(&caller, b_id)
        .await
        .unwrap();
    let err = view
        .validation_errors
        .iter()
        .find(|e| e.field == "secrets.api_key")
        .expect("an error for the moved secret");
    assert_eq!(err.code, "undecryptable");
    assert!(
        err.message.contains(&to.id) && err.message.contains("credentials"),
        "the error names the row: {}",
        err.message
    );
    assert!(!view.redacted_secrets.contains_key("api_key"));
    let (s, body) = app.get(&format!("/v1/connections/{b_id}"), &key).await;
    assert_eq!(s, 200);
    assert!(body["validation_errors"].to_string().contains(&to.id));
    crate::assert_hidden(&body, "pp_live_aaaaaaaaaaaaaaaa");
    // Nothing uses it: no test, no enabling.
    let (s, body) = app
        .post(&format!("/v1/connections/{b_id}/test"), &key, json!({}))
        .await;
    assert_eq!(
        (s, body["error"]["details"]["fields"][0]["code"].as_str()),
        (422, Some("undecryptable")),
        "{body}"
    );
    assert_eq!(
        app.patch(
            &format!("/v1/connections/{b_id}"),
            &key,
            json!({"lifecycle": "enabled"})
        )
        .await
        .0,
        422
    );
    // Replacing the secret repairs it.
    let (s, body) = app
        .patch(
            &format!("/v1/connections/{b_id}"),
            &key,
            json!({"secrets": {"api_key": "pp_live_cccccccccccccccc"}}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["validation_errors"], json!([]));
    // A's own row still opens, and rotation skips nothing now.
    assert_eq!(
        app.get(
            &format!("/v1/connections/{}", a["id"].as_str().unwrap()),
            &key
        )
        .await
        .1["validation_errors"],
        json!([])
    );
    let report = app
        .engine
        .vault()
        .rotate(Duration::ZERO, |_, _| {})
        .await
        .unwrap();
    assert!(report.unopenable.is_empty());
}

async fn rotation_under_concurrent_writes(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let c = app
            .connection(
                &key,
                printing_body(
                    &format!("u{i}"),
                    &format!("shop-{i}"),
                    "https://print.example",
                    &format!("pp_live_start_{i:04}_xxxxxxxx"),
                ),
            )
            .await;
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    let before = app.engine.vault().active_key_id().unwrap();
    // Writers rotate secrets over HTTP while the keyring rotates underneath them.
    let writers: Vec<_> = ids
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, id)| {
            let client = app.client.clone();
            let url = format!("{}/v1/connections/{id}", app.base);
            let key = key.clone();
            tokio::spawn(async move {
                let mut last = None;
                for round in 0..6 {
                    let value = format!("pp_live_round_{round}_{i:04}_xxxxxx");
                    let resp = client
                        .patch(&url)
                        .bearer_auth(&key)
                        .json(&json!({"secrets": {"api_key": value}}))
                        .send()
                        .await
                        .unwrap();
                    if resp.status() == 200 {
                        last = Some(value);
                    } else {
                        assert_eq!(
                            resp.status(),
                            409,
                            "only concurrent-update conflicts may refuse"
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                (id, last)
            })
        })
        .collect();
    let report = app
        .engine
        .vault()
        .rotate(Duration::from_millis(50), |_, _| {})
        .await
        .unwrap();
    let mut expected = Vec::new();
    for w in writers {
        expected.push(w.await.unwrap());
    }
    assert!(report.new_key_id > before);
    let store = app.engine.store();
    // A last sweep for rows written by writers that raced the final count.
    app.engine
        .vault()
        .rotate(Duration::ZERO, |_, _| {})
        .await
        .unwrap();
    let active = app.engine.vault().active_key_id().unwrap();
    assert_eq!(
        store
            .count_credentials_not_on_key(i64::from(active))
            .await
            .unwrap(),
        0
    );
    for (id, last) in expected {
        let creds = store.list_credentials("connection", &id).await.unwrap();
        let api_key = creds.iter().find(|c| c.field == "api_key").unwrap();
        let value = app.engine.vault().open_credential(api_key).await.unwrap();
        let want = last.unwrap_or_else(|| panic!("no write succeeded for {id}"));
        assert_eq!(
            value.expose(),
            want,
            "the last committed secret survives rotation"
        );
        let callback = creds.iter().find(|c| c.field == "callback_secret").unwrap();
        assert_eq!(
            app.engine
                .vault()
                .open_credential(callback)
                .await
                .unwrap()
                .expose(),
            "callback-secret-0123456789abcdef"
        );
    }
    let keys = store.list_vault_keys().await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.active).count(), 1);
}

async fn wrong_master_key_is_refused(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = app.workspace("acme").await;
    app.connection(
        &key,
        printing_body(
            "u1",
            "shop-1",
            "https://print.example",
            "pp_live_0123456789abcdef",
        ),
    )
    .await;
    let store = app.engine.store().clone();
    let other =
        patchbay_vault::MasterKey::from_base64(&patchbay_vault::MasterKey::generate_base64())
            .unwrap();
    let err = patchbay_engine::Vault::load(store, other)
        .await
        .err()
        .expect("a foreign master key must not load");
    assert!(err.to_string().contains("vault_keys"), "{err}");
}
