//! Storage conformance: every test runs against SQLite and PostgreSQL.

use patchbay_core::{DerivedRecord, Merge};
use patchbay_store::testing::{fresh_store, TestBackend};
use patchbay_store::*;

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[tokio::test]
            async fn sqlite() { super::$name(patchbay_store::testing::TestBackend::Sqlite).await }
            #[tokio::test]
            async fn postgres() { super::$name(patchbay_store::testing::TestBackend::Postgres).await }
        })*
    };
}

both_backends!(
    migrations_are_idempotent,
    workspaces_and_keys,
    connection_crud_and_tenancy,
    unique_account_per_owner,
    optimistic_concurrency,
    credentials_and_deletion,
    principals_rotate_and_revoke,
    activity_and_events_paginate,
    vault_keys_and_reseal,
    oauth_apps_sessions_and_states,
    refresh_claims_serialise,
    queue_claims_leases_and_retries,
    webhook_batches_round_trip,
    action_keys_are_taken_over_only_when_stale,
    sync_runs_commit_pages_fence_and_sweep,
    deliveries_fan_out_once_and_keep_connection_order,
    derived_records_merge_in_the_page_commit,
    watches_are_leased_renewed_and_taken,
    widgets_list_in_order_keep_their_last_data_and_go_with_their_connection,
);

fn ws(id: &str) -> WorkspaceRow {
    WorkspaceRow {
        id: id.into(),
        name: format!("name of {id}"),
        created_at: 1,
    }
}

fn key(id: &str, ws: &str, hash: &str) -> ApiKeyRow {
    ApiKeyRow {
        id: id.into(),
        workspace_id: ws.into(),
        name: "default".into(),
        prefix: "pbk_x".into(),
        key_hash: hash.into(),
        created_at: 1,
        last_used_at: None,
        revoked_at: None,
    }
}

fn act(id: &str, ws: &str, conn: Option<&str>) -> ActivityRow {
    ActivityRow {
        id: id.into(),
        workspace_id: Some(ws.into()),
        connection_id: conn.map(str::to_string),
        actor: "test".into(),
        action: "thing.happened".into(),
        details: "{}".into(),
        created_at: 1,
    }
}

fn conn(id: &str, ws: &str, owner: &str, account: &str) -> ConnectionRow {
    ConnectionRow {
        id: id.into(),
        workspace_id: ws.into(),
        connector: "printing_partner".into(),
        owner_id: owner.into(),
        owner_scope: r#"{"type":"platform"}"#.into(),
        account_id: account.into(),
        name: "n".into(),
        config: "{}".into(),
        lifecycle: "draft".into(),
        health: "healthy".into(),
        health_reason: None,
        last_sync_at: None,
        last_tested_at: None,
        created_at: 1,
        updated_at: 1,
        version: 1,
        token_expires_at: None,
        granted_scopes: None,
        metadata: "{}".into(),
        sync_frequency: "manual".into(),
        next_sync_at: None,
        sync_failures: 0,
    }
}

fn cred(id: &str, ws: &str, conn: &str, field: &str, key_id: i64, ct: &[u8]) -> CredentialRow {
    CredentialRow {
        id: id.into(),
        workspace_id: ws.into(),
        owner_type: "connection".into(),
        owner_id: conn.into(),
        field: field.into(),
        key_id,
        ciphertext: ct.to_vec(),
        created_at: 1,
        updated_at: 1,
    }
}

fn principal(id: &str, ws: &str, conn: &str, hash: &str) -> PrincipalRow {
    PrincipalRow {
        id: id.into(),
        workspace_id: ws.into(),
        connection_id: conn.into(),
        subject: format!("integration:{conn}"),
        key_id: format!("ik_{id}"),
        key_hash: hash.into(),
        scope: "{}".into(),
        action_keys: "[]".into(),
        created_at: 1,
        rotated_at: None,
        last_used_at: None,
    }
}

async fn setup(backend: TestBackend, workspaces: &[&str]) -> Store {
    let (store, _) = fresh_store(backend).await;
    for w in workspaces {
        store
            .create_workspace(
                &ws(w),
                &key(&format!("key_{w}"), w, &format!("hash_{w}")),
                &act(&format!("a_{w}"), w, None),
            )
            .await
            .unwrap();
    }
    store
}

fn write_of(c: ConnectionRow) -> ConnectionWrite {
    ConnectionWrite {
        connection: Some(c),
        ..Default::default()
    }
}

async fn migrations_are_idempotent(backend: TestBackend) {
    let (store, _) = fresh_store(backend).await;
    assert!(
        store.migrate().await.unwrap().is_empty(),
        "second run applies nothing"
    );
    store.ping().await.unwrap();
    assert_eq!(store.count_workspaces().await.unwrap(), 0);
}

async fn workspaces_and_keys(backend: TestBackend) {
    let store = setup(backend, &["ws_a", "ws_b", "ws_c"]).await;
    let first = store.list_workspaces(None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        ["ws_a", "ws_b"]
    );
    let rest = store.list_workspaces(Some("ws_b"), 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, "ws_c");
    let found = store.find_api_key("hash_ws_b").await.unwrap().unwrap();
    assert_eq!(found.workspace_id, "ws_b");
    assert!(store.find_api_key("nope").await.unwrap().is_none());
    store.touch_api_key(&found.id, 99).await.unwrap();
    assert_eq!(
        store
            .find_api_key("hash_ws_b")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(99)
    );
    let mut revoked = key("key_r", "ws_a", "hash_r");
    revoked.revoked_at = Some(5);
    store.create_api_key(&revoked).await.unwrap();
    assert!(
        store.find_api_key("hash_r").await.unwrap().is_none(),
        "revoked keys do not authenticate"
    );
    let dup = store
        .create_workspace(
            &ws("ws_a"),
            &key("key_z", "ws_a", "hash_z"),
            &act("a_z", "ws_a", None),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Unique { .. })), "{dup:?}");
    assert!(
        store.find_api_key("hash_z").await.unwrap().is_none(),
        "failed create leaves no key behind"
    );
}

async fn connection_crud_and_tenancy(backend: TestBackend) {
    let store = setup(backend, &["ws_a", "ws_b"]).await;
    for (i, owner) in ["u1", "u1", "u2"].iter().enumerate() {
        store
            .insert_connection(&write_of(conn(
                &format!("conn_{i}"),
                "ws_a",
                owner,
                &format!("acct{i}"),
            )))
            .await
            .unwrap();
    }
    store
        .insert_connection(&write_of(conn("conn_9", "ws_b", "u1", "acct")))
        .await
        .unwrap();
    assert!(store
        .get_connection(Some("ws_a"), "conn_0")
        .await
        .unwrap()
        .is_some());
    assert!(
        store
            .get_connection(Some("ws_b"), "conn_0")
            .await
            .unwrap()
            .is_none(),
        "other workspace sees nothing"
    );
    assert!(
        store
            .get_connection(None, "conn_9")
            .await
            .unwrap()
            .is_some(),
        "operators see all"
    );
    let f = |owner: Option<&str>, after: Option<&str>, limit| ConnectionFilter {
        workspace_id: Some("ws_a".into()),
        owner_id: owner.map(str::to_string),
        after: after.map(str::to_string),
        limit,
        ..Default::default()
    };
    let u1 = store
        .list_connections(&f(Some("u1"), None, 10))
        .await
        .unwrap();
    assert_eq!(u1.len(), 2);
    let page1 = store.list_connections(&f(None, None, 2)).await.unwrap();
    let page2 = store
        .list_connections(&f(None, Some(&page1[1].id), 2))
        .await
        .unwrap();
    let ids: Vec<_> = page1.iter().chain(&page2).map(|c| c.id.clone()).collect();
    assert_eq!(ids, ["conn_0", "conn_1", "conn_2"]);
    let mut enabled = ConnectionFilter {
        lifecycle: Some("enabled".into()),
        ..f(None, None, 10)
    };
    assert!(store.list_connections(&enabled).await.unwrap().is_empty());
    enabled.lifecycle = Some("draft".into());
    enabled.health = Some("healthy".into());
    assert_eq!(store.list_connections(&enabled).await.unwrap().len(), 3);
    let counts = store.connection_counts(Some("ws_a")).await.unwrap();
    assert_eq!(
        counts,
        vec![("draft".to_string(), "healthy".to_string(), 3)]
    );
}

async fn unique_account_per_owner(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    let mut first = conn("conn_1", "ws_a", "u1", "shop-1");
    first.lifecycle = "enabled".into();
    store
        .insert_connection(&write_of(first.clone()))
        .await
        .unwrap();
    let dup = store
        .insert_connection(&write_of(conn("conn_2", "ws_a", "u1", "shop-1")))
        .await;
    assert!(matches!(dup, Err(StoreError::Unique { .. })), "{dup:?}");
    store
        .insert_connection(&write_of(conn("conn_3", "ws_a", "u2", "shop-1")))
        .await
        .unwrap();
    // A revoked connection no longer holds the account.
    let mut revoked = first.clone();
    revoked.lifecycle = "revoked".into();
    revoked.version = 2;
    store
        .update_connection(&write_of(revoked), 1)
        .await
        .unwrap();
    store
        .insert_connection(&write_of(conn("conn_4", "ws_a", "u1", "shop-1")))
        .await
        .unwrap();
}

async fn optimistic_concurrency(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    let c = conn("conn_1", "ws_a", "u1", "a");
    store.insert_connection(&write_of(c.clone())).await.unwrap();
    let mut v2 = c.clone();
    v2.name = "second".into();
    v2.version = 2;
    let mut w = write_of(v2.clone());
    w.activity.push(act("act_1", "ws_a", Some("conn_1")));
    store.update_connection(&w, 1).await.unwrap();
    let mut stale = c.clone();
    stale.name = "stale".into();
    stale.version = 2;
    let mut w = write_of(stale);
    w.activity.push(act("act_2", "ws_a", Some("conn_1")));
    let err = store.update_connection(&w, 1).await;
    assert!(matches!(err, Err(StoreError::Stale(_))), "{err:?}");
    assert_eq!(
        store
            .get_connection(None, "conn_1")
            .await
            .unwrap()
            .unwrap()
            .name,
        "second"
    );
    let acts = store
        .list_activity(&ActivityFilter {
            connection_id: Some("conn_1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        acts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["act_1"],
        "a rejected write records nothing"
    );
}

async fn credentials_and_deletion(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    let c = conn("conn_1", "ws_a", "u1", "a");
    let mut w = write_of(c.clone());
    w.credentials = vec![
        cred("cred_1", "ws_a", "conn_1", "api_key", 1, b"one"),
        cred("cred_2", "ws_a", "conn_1", "callback_secret", 1, b"two"),
    ];
    w.principal = Some(principal("prn_1", "ws_a", "conn_1", "phash"));
    w.grants = vec![GrantRow {
        id: "grant_1".into(),
        workspace_id: "ws_a".into(),
        principal_id: "prn_1".into(),
        connection_id: "conn_1".into(),
        permission: "connection:read".into(),
        resource: "connection:conn_1".into(),
        created_at: 1,
    }];
    w.activity.push(act("act_1", "ws_a", Some("conn_1")));
    w.events.push(EventRow {
        id: "evt_1".into(),
        workspace_id: "ws_a".into(),
        event_type: "connection.created".into(),
        connection_id: Some("conn_1".into()),
        payload: "{}".into(),
        created_at: 1,
    });
    store.insert_connection(&w).await.unwrap();
    let creds = store
        .list_credentials("connection", "conn_1")
        .await
        .unwrap();
    assert_eq!(
        creds.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
        ["api_key", "callback_secret"]
    );
    // Many owners in one read: only theirs, of the type asked for.
    let many = store
        .list_credentials_of("connection", &["conn_x".into(), "conn_1".into()])
        .await
        .unwrap();
    assert_eq!(
        many.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["cred_1", "cred_2"]
    );
    for (owner_type, ids) in [
        ("subscription", vec!["conn_1".to_string()]),
        ("connection", vec![]),
    ] {
        assert!(store
            .list_credentials_of(owner_type, &ids)
            .await
            .unwrap()
            .is_empty());
    }
    // Upsert by field keeps the row id; removal deletes.
    let mut next = c.clone();
    next.version = 2;
    let mut w2 = write_of(next);
    w2.credentials = vec![cred("cred_1", "ws_a", "conn_1", "api_key", 2, b"one-b")];
    w2.remove_credentials = vec!["callback_secret".into()];
    store.update_connection(&w2, 1).await.unwrap();
    let creds = store
        .list_credentials("connection", "conn_1")
        .await
        .unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(
        (
            creds[0].id.as_str(),
            creds[0].ciphertext.as_slice(),
            creds[0].key_id
        ),
        ("cred_1", &b"one-b"[..], 2)
    );
    assert_eq!(store.list_grants("prn_1").await.unwrap().len(), 1);
    let gone = EventRow {
        id: "evt_2".into(),
        event_type: "connection.deleted".into(),
        ..w.events[0].clone()
    };
    store
        .delete_connection("conn_1", &act("act_2", "ws_a", Some("conn_1")), &gone)
        .await
        .unwrap();
    assert!(store
        .get_connection(None, "conn_1")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .list_credentials("connection", "conn_1")
        .await
        .unwrap()
        .is_empty());
    assert!(store.get_principal("conn_1").await.unwrap().is_none());
    assert!(store.list_grants("prn_1").await.unwrap().is_empty());
    let acts = store
        .list_activity(&ActivityFilter {
            connection_id: Some("conn_1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(acts.len(), 2, "the audit trail outlives the connection");
    let missing = store
        .delete_connection("conn_1", &act("act_3", "ws_a", None), &gone)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}

async fn principals_rotate_and_revoke(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    let c = conn("conn_1", "ws_a", "u1", "a");
    let mut w = write_of(c.clone());
    w.principal = Some(principal("prn_1", "ws_a", "conn_1", "old_hash"));
    store.insert_connection(&w).await.unwrap();
    assert_eq!(
        store
            .find_principal_by_hash("old_hash")
            .await
            .unwrap()
            .unwrap()
            .id,
        "prn_1"
    );
    store
        .rotate_principal(
            "prn_1",
            "ik_new",
            "new_hash",
            7,
            &act("act_r", "ws_a", Some("conn_1")),
        )
        .await
        .unwrap();
    assert!(
        store
            .find_principal_by_hash("old_hash")
            .await
            .unwrap()
            .is_none(),
        "old key invalid after rotation"
    );
    let p = store
        .find_principal_by_hash("new_hash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.key_id.as_str(), p.rotated_at), ("ik_new", Some(7)));
    store.touch_principal("prn_1", 11).await.unwrap();
    assert_eq!(
        store
            .get_principal("conn_1")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(11)
    );
    let mut revoked = c.clone();
    revoked.lifecycle = "revoked".into();
    revoked.version = 2;
    let mut w = write_of(revoked);
    w.revoke_principal = true;
    store.update_connection(&w, 1).await.unwrap();
    assert!(
        store
            .find_principal_by_hash("new_hash")
            .await
            .unwrap()
            .is_none(),
        "revocation kills the key"
    );
}

async fn activity_and_events_paginate(backend: TestBackend) {
    let store = setup(backend, &["ws_a", "ws_b"]).await;
    for i in 0..5 {
        store
            .record_activity(&act(&format!("act_{i}"), "ws_a", None))
            .await
            .unwrap();
    }
    let f = |before: Option<&str>| ActivityFilter {
        workspace_id: Some("ws_a".into()),
        before: before.map(str::to_string),
        limit: 3,
        ..Default::default()
    };
    let p1 = store.list_activity(&f(None)).await.unwrap();
    assert_eq!(
        p1.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["act_4", "act_3", "act_2"],
        "newest first"
    );
    let p2 = store.list_activity(&f(Some("act_2"))).await.unwrap();
    // "a_ws_a" is the workspace creation entry, which sorts before "act_*".
    assert_eq!(
        p2.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["act_1", "act_0", "a_ws_a"]
    );
    let other = store
        .list_activity(&ActivityFilter {
            workspace_id: Some("ws_b".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert!(store
        .list_events("ws_a", None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn vault_keys_and_reseal(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    store
        .add_active_vault_key(&VaultKeyRow {
            id: 1,
            wrapped: b"k1".to_vec(),
            active: true,
            created_at: 1,
        })
        .await
        .unwrap();
    store
        .add_active_vault_key(&VaultKeyRow {
            id: 2,
            wrapped: b"k2".to_vec(),
            active: true,
            created_at: 2,
        })
        .await
        .unwrap();
    let keys = store.list_vault_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| (k.id, k.active)).collect::<Vec<_>>(),
        [(1, false), (2, true)]
    );
    let dup = store
        .add_active_vault_key(&VaultKeyRow {
            id: 2,
            wrapped: b"x".to_vec(),
            active: true,
            created_at: 3,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Unique { .. })));
    assert_eq!(
        store.list_vault_keys().await.unwrap()[1].wrapped,
        b"k2",
        "failed add changes nothing"
    );
    let mut w = write_of(conn("conn_1", "ws_a", "u1", "a"));
    w.credentials = vec![
        cred("cred_1", "ws_a", "conn_1", "api_key", 1, b"old1"),
        cred("cred_2", "ws_a", "conn_1", "x", 2, b"new2"),
    ];
    store.insert_connection(&w).await.unwrap();
    assert_eq!(store.count_credentials_not_on_key(2).await.unwrap(), 1);
    let todo = store.credentials_not_on_key(2, 10).await.unwrap();
    assert_eq!(todo.len(), 1);
    assert!(
        !store
            .reseal_credential("cred_1", b"stale", b"new1", 2)
            .await
            .unwrap(),
        "CAS refuses a stale value"
    );
    assert!(store
        .reseal_credential("cred_1", b"old1", b"new1", 2)
        .await
        .unwrap());
    assert_eq!(store.count_credentials_not_on_key(2).await.unwrap(), 0);
}

async fn oauth_apps_sessions_and_states(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    let app = OAuthAppRow {
        id: "oapp_1".into(),
        workspace_id: "ws_a".into(),
        provider: "todoist".into(),
        client_id: "cid".into(),
        scopes: "[]".into(),
        created_at: 1,
        updated_at: 1,
    };
    let mut secret = cred("cred_s", "ws_a", "oapp_1", "client_secret", 1, b"sealed");
    secret.owner_type = "oauth_app".into();
    store
        .upsert_oauth_app(
            &app,
            std::slice::from_ref(&secret),
            &act("act_1", "ws_a", None),
        )
        .await
        .unwrap();
    let again = OAuthAppRow {
        client_id: "cid2".into(),
        updated_at: 2,
        ..app.clone()
    };
    store
        .upsert_oauth_app(
            &again,
            std::slice::from_ref(&secret),
            &act("act_2", "ws_a", None),
        )
        .await
        .unwrap();
    let got = store
        .get_oauth_app("ws_a", "todoist")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.client_id.as_str(), got.id.as_str()),
        ("cid2", "oapp_1")
    );
    assert_eq!(store.list_oauth_apps("ws_a").await.unwrap().len(), 1);
    assert!(store
        .get_oauth_app("ws_a", "github")
        .await
        .unwrap()
        .is_none());

    let session = ConnectSessionRow {
        id: "cs_1".into(),
        workspace_id: "ws_a".into(),
        token_hash: "th".into(),
        connector: "todoist".into(),
        owner_id: "u1".into(),
        owner_scope: "{}".into(),
        return_url: "https://app.example/done".into(),
        scopes: "[]".into(),
        config: "{}".into(),
        expires_at: 1_000,
        created_at: 1,
        allowed_connectors: Some(r#"["todoist","printing_partner"]"#.into()),
        consumed_at: None,
        user_scopes: Some(r#"["im:history"]"#.into()),
    };
    store.insert_connect_session(&session).await.unwrap();
    assert_eq!(
        store.find_connect_session("th").await.unwrap().unwrap(),
        session
    );
    // A session is claimed once, released when nothing came of it, and never past expiry.
    assert!(store.claim_connect_session("cs_1", 10).await.unwrap());
    assert!(!store.claim_connect_session("cs_1", 11).await.unwrap());
    store.release_connect_session("cs_1", 9).await.unwrap();
    assert!(
        !store.claim_connect_session("cs_1", 12).await.unwrap(),
        "not its claim"
    );
    store.release_connect_session("cs_1", 10).await.unwrap();
    assert!(
        !store.claim_connect_session("cs_1", 1_000).await.unwrap(),
        "expired"
    );
    assert!(store.claim_connect_session("cs_1", 12).await.unwrap());
    store.release_connect_session("cs_1", 12).await.unwrap();
    assert_eq!(
        store
            .find_connect_session("th")
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        None
    );
    let state = |id: &str, hash: &str, expires_at| OAuthStateRow {
        id: id.into(),
        state_hash: hash.into(),
        session_id: "cs_1".into(),
        workspace_id: "ws_a".into(),
        redirect_uri: "https://pb.example/cb".into(),
        expires_at,
        consumed_at: None,
        created_at: 1,
        connector: (id == "st_1").then(|| "todoist".to_string()),
    };
    let mut verifier = cred("cred_v", "ws_a", "st_1", "code_verifier", 1, b"v");
    verifier.owner_type = "oauth_state".into();
    store
        .insert_oauth_state(&state("st_1", "h1", 500), Some(&verifier))
        .await
        .unwrap();
    store
        .insert_oauth_state(&state("st_2", "h2", 100), None)
        .await
        .unwrap();
    match store.consume_oauth_state("h1", 200).await.unwrap() {
        StateClaim::Claimed(st, _) => assert_eq!(st.connector.as_deref(), Some("todoist")),
        other => panic!("{other:?}"),
    }
    // A used session stays used, whatever its expiry.
    store
        .mark_connect_session_used("cs_1", 2_000)
        .await
        .unwrap();
    store
        .mark_connect_session_used("cs_1", 3_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_connect_session("th")
            .await
            .unwrap()
            .unwrap()
            .consumed_at,
        Some(2_000)
    );
    assert!(
        matches!(
            store.consume_oauth_state("h1", 200).await.unwrap(),
            StateClaim::Replayed(..)
        ),
        "same instant, still a replay"
    );
    assert!(matches!(
        store.consume_oauth_state("h2", 200).await.unwrap(),
        StateClaim::Expired(..)
    ));
    assert_eq!(
        store.consume_oauth_state("nope", 200).await.unwrap(),
        StateClaim::Unknown
    );
    assert_eq!(
        store
            .list_credentials("oauth_state", "st_1")
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .delete_credentials("oauth_state", "st_1")
        .await
        .unwrap();
    assert!(store
        .list_credentials("oauth_state", "st_1")
        .await
        .unwrap()
        .is_empty());
}

async fn refresh_claims_serialise(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    store
        .insert_connection(&write_of(conn("conn_1", "ws_a", "u1", "a")))
        .await
        .unwrap();
    let first = store.claim_for_refresh("conn_1").await.unwrap();
    let store2 = store.clone();
    let second = tokio::spawn(async move {
        let g = store2.claim_for_refresh("conn_1").await.unwrap();
        (g.connection.version, g.connection.token_expires_at)
    });
    let mut row = first.connection.clone();
    row.version = 2;
    row.token_expires_at = Some(99);
    if backend == TestBackend::Postgres {
        // The second claim waits on the row lock until the first commits.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            !second.is_finished(),
            "a second process must wait for the refresh in flight"
        );
    }
    let v = first.connection.version;
    first.commit(&write_of(row), v).await.unwrap();
    let (version, expires) = second.await.unwrap();
    if backend == TestBackend::Postgres {
        assert_eq!(
            (version, expires),
            (2, Some(99)),
            "the waiter reads the winner's result"
        );
    }
    assert_eq!(
        store
            .get_connection(None, "conn_1")
            .await
            .unwrap()
            .unwrap()
            .token_expires_at,
        Some(99)
    );
}

fn job(id: &str, unique: Option<&str>, run_at: i64) -> JobRow {
    JobRow {
        id: id.into(),
        kind: "sync".into(),
        workspace_id: None,
        connection_id: None,
        unique_key: unique.map(str::to_string),
        payload: "{}".into(),
        status: "pending".into(),
        attempts: 0,
        max_attempts: 3,
        run_at,
        lease_owner: None,
        lease_expires_at: None,
        last_error: None,
        created_at: 1,
        updated_at: 1,
    }
}

async fn queue_claims_leases_and_retries(backend: TestBackend) {
    let store = setup(backend, &[]).await;
    assert_eq!(
        store
            .enqueue_job(&job("job_a", Some("sync:c1"), 100))
            .await
            .unwrap(),
        Enqueued::Created("job_a".into())
    );
    assert_eq!(
        store
            .enqueue_job(&job("job_b", Some("sync:c1"), 100))
            .await
            .unwrap(),
        Enqueued::Existing("job_a".into()),
        "one active job per key"
    );
    store.enqueue_job(&job("job_c", None, 50)).await.unwrap();
    store
        .enqueue_job(&job("job_later", None, 10_000))
        .await
        .unwrap();
    // Due jobs in run_at order; not-yet-due ones wait.
    let first = store.claim_job("w1", 200, 1_200).await.unwrap().unwrap();
    assert_eq!(
        (
            first.id.as_str(),
            first.attempts,
            first.lease_owner.as_deref()
        ),
        ("job_c", 1, Some("w1"))
    );
    let second = store.claim_job("w2", 200, 1_200).await.unwrap().unwrap();
    assert_eq!(second.id, "job_a");
    assert!(
        store.claim_job("w3", 200, 1_200).await.unwrap().is_none(),
        "nothing else is due"
    );
    // Leases are renewed by their owner only; an expired lease is claimable again.
    assert!(store.renew_lease("job_a", "w2", 1_500).await.unwrap());
    assert!(!store.renew_lease("job_a", "w1", 9_999).await.unwrap());
    assert!(store.renew_lease("job_c", "w1", 5_000).await.unwrap());
    let stolen = store.claim_job("w3", 1_600, 2_600).await.unwrap().unwrap();
    assert_eq!(
        (stolen.id.as_str(), stolen.attempts),
        ("job_a", 2),
        "the dead worker's job moves on"
    );
    assert!(
        !store.complete_job("job_a", "w2", 1_700).await.unwrap(),
        "the old owner can no longer finish it"
    );
    assert!(store.complete_job("job_a", "w3", 2_000).await.unwrap());
    // Failures go back to pending at the retry time, then dead.
    assert!(store
        .fail_job("job_c", "w1", "boom", Some(5_000), 300)
        .await
        .unwrap());
    let retried = store.get_job("job_c").await.unwrap().unwrap();
    assert_eq!(
        (
            retried.status.as_str(),
            retried.run_at,
            retried.last_error.as_deref()
        ),
        ("pending", 5_000, Some("boom"))
    );
    assert!(
        store.claim_job("w1", 4_000, 5_000).await.unwrap().is_none(),
        "not before its retry time"
    );
    let again = store.claim_job("w1", 5_000, 6_000).await.unwrap().unwrap();
    assert_eq!(again.id, "job_c");
    assert!(store
        .fail_job("job_c", "w1", "boom again", None, 5_100)
        .await
        .unwrap());
    assert_eq!(
        store.get_job("job_c").await.unwrap().unwrap().status,
        "dead"
    );
    // Completion freed the unique key; cancellation and release work on live jobs.
    assert_eq!(
        store
            .enqueue_job(&job("job_d", Some("sync:c1"), 100))
            .await
            .unwrap(),
        Enqueued::Created("job_d".into())
    );
    let d = store
        .claim_job("w4", 10_000, 11_000)
        .await
        .unwrap()
        .unwrap();
    assert!(["job_d", "job_later"].contains(&d.id.as_str()));
    assert!(store.release_job(&d.id, "w4", 10_001).await.unwrap());
    assert_eq!(
        store.get_job(&d.id).await.unwrap().unwrap().attempts,
        0,
        "a release is not an attempt"
    );
    assert!(store.cancel_job("job_later", 10_002).await.unwrap());
    assert!(!store.cancel_job("job_later", 10_003).await.unwrap());
}

fn hook_row(n: usize, delivery: &str, body: Vec<u8>, headers: &str) -> WebhookEventRow {
    WebhookEventRow {
        id: format!("whe_{n:032x}"),
        workspace_id: "ws_1".into(),
        connection_id: "conn_1".into(),
        connector: "github".into(),
        delivery_id: delivery.into(),
        headers: headers.into(),
        body,
        status: "received".into(),
        attempts: 0,
        error: None,
        lease_expires_at: None,
        received_at: 1_000 + n as i64,
        processed_at: None,
    }
}

/// A batch keeps every byte of every row (binary and empty bodies, non-ASCII headers) and says
/// which rows were new: a redelivery inside the batch or of an earlier batch is not.
async fn webhook_batches_round_trip(backend: TestBackend) {
    let (store, _db) = fresh_store(backend).await;
    let binary: Vec<u8> = (0..=255u8).collect();
    let first = vec![
        hook_row(1, "d-1", binary.clone(), r#"{"user-agent":"caf\u00e9 ☕"}"#),
        hook_row(2, "d-2", Vec::new(), "{}"),
        hook_row(3, "d-1", b"again".to_vec(), "{}"),
    ];
    assert_eq!(
        store.insert_webhook_events(&first).await.unwrap(),
        [true, true, false]
    );
    let second = vec![
        hook_row(4, "d-2", b"later".to_vec(), "{}"),
        hook_row(5, "d-5", "é✓".as_bytes().to_vec(), r#"{"x":"ü"}"#),
    ];
    assert_eq!(
        store.insert_webhook_events(&second).await.unwrap(),
        [false, true]
    );
    let one = store
        .find_webhook_event("conn_1", "d-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.id, first[0].id);
    assert_eq!(one.body, binary);
    assert_eq!(one.headers, first[0].headers);
    assert_eq!(one.received_at, 1_001);
    let two = store
        .find_webhook_event("conn_1", "d-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((two.id.as_str(), two.body.len()), (first[1].id.as_str(), 0));
    let five = store
        .find_webhook_event("conn_1", "d-5")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(five.body, "é✓".as_bytes());
    assert_eq!(five.headers, r#"{"x":"ü"}"#);
}

/// SQLite's WAL is copied back into the database file by the background checkpointer, not
/// by whichever commit crosses a threshold (automatic checkpoints are off).
#[tokio::test]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let db = patchbay_store::testing::new_database(TestBackend::Sqlite);
    let store = db.open().await.unwrap();
    let path = db.sqlite_path.clone().unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    let rows: Vec<WebhookEventRow> = (0..32)
        .map(|n| hook_row(n, &format!("big-{n}"), vec![n as u8; 64 * 1024], "{}"))
        .collect();
    assert!(store
        .insert_webhook_events(&rows)
        .await
        .unwrap()
        .iter()
        .all(|new| *new));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = std::fs::metadata(&path).unwrap().len();
        if now >= before + 2 * 1024 * 1024 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file stayed at {now} bytes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = store
        .find_webhook_event("conn_1", "big-7")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.body, vec![7u8; 64 * 1024]);
}

async fn action_keys_are_taken_over_only_when_stale(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    store
        .insert_connection(&write_of(conn("conn_1", "ws_a", "u1", "acct")))
        .await
        .unwrap();
    let run = |hash: &str, at: i64| ActionRunRow {
        connection_id: "conn_1".into(),
        idempotency_key: "k1".into(),
        workspace_id: "ws_a".into(),
        action: "close_task".into(),
        input_hash: hash.into(),
        status: "running".into(),
        result: None,
        created_at: at,
        completed_at: None,
    };
    let status = |c: ActionClaim| match c {
        ActionClaim::Claimed => "claimed".to_string(),
        ActionClaim::Existing(r) => r.status,
    };
    assert_eq!(
        status(store.claim_action_run(&run("h", 1_000), 0).await.unwrap()),
        "claimed"
    );
    // Held by a live run: the same request waits, another one is told who holds the key.
    assert_eq!(
        status(
            store
                .claim_action_run(&run("h", 2_000), 1_000)
                .await
                .unwrap()
        ),
        "running"
    );
    match store
        .claim_action_run(&run("other", 2_000), 5_000)
        .await
        .unwrap()
    {
        ActionClaim::Existing(r) => assert_eq!(r.input_hash, "h"),
        c => panic!("another request took the key: {c:?}"),
    }
    // Past the lease the same request takes the key over, once.
    assert_eq!(
        status(
            store
                .claim_action_run(&run("h", 6_000), 5_000)
                .await
                .unwrap()
        ),
        "claimed"
    );
    assert_eq!(
        status(
            store
                .claim_action_run(&run("h", 6_500), 5_000)
                .await
                .unwrap()
        ),
        "running"
    );
    // A finished run is never taken over, however old.
    store
        .finish_action_run("conn_1", "k1", "completed", "{\"ok\":true}", 7_000)
        .await
        .unwrap();
    match store
        .claim_action_run(&run("h", 9_000), i64::MAX)
        .await
        .unwrap()
    {
        ActionClaim::Existing(r) => {
            assert_eq!(
                (r.status.as_str(), r.result.as_deref()),
                ("completed", Some("{\"ok\":true}"))
            )
        }
        c => panic!("a finished run was taken over: {c:?}"),
    }
}

/// A run of `entities` for conn_1 and its job, claimed by `worker`.
async fn running_sync(store: &Store, run_id: &str, job_id: &str, full: bool, worker: &str) {
    let run = SyncRunRow {
        id: run_id.into(),
        workspace_id: "ws_a".into(),
        connection_id: "conn_1".into(),
        job_id: Some(job_id.into()),
        mode: if full { "full" } else { "incremental" }.into(),
        entities: r#"["orders"]"#.into(),
        status: "pending".into(),
        added: 0,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        pages: 0,
        error: None,
        cancel_requested: false,
        started_at: None,
        finished_at: None,
        created_at: 1,
        notes: None,
    };
    let mut j = job(job_id, Some("sync:conn_1"), 0);
    j.connection_id = Some("conn_1".into());
    assert_eq!(store.create_sync_run(&run, &j).await.unwrap(), Ok(()));
    let claimed = store
        .claim_job(worker, 1, i64::MAX / 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, job_id);
    assert!(store.start_sync_run(run_id, 2).await.unwrap());
    store
        .begin_entity("conn_1", "orders", run_id, 2)
        .await
        .unwrap();
}

fn page(run_id: &str, worker: &str, full: bool, ids: &[(&str, &str)]) -> PageCommit {
    PageCommit {
        workspace_id: "ws_a".into(),
        connection_id: "conn_1".into(),
        entity: "orders".into(),
        run_id: run_id.into(),
        worker: worker.into(),
        full,
        assume_new: false,
        records: ids
            .iter()
            .map(|(id, v)| PageRecord {
                id: (*id).into(),
                data: serde_json::json!({"v": v}),
                hash: format!("h-{v}"),
            })
            .collect(),
        deleted_ids: vec![],
        next_page_cursor: None,
        run_checkpoint: None,
        derived: Vec::new(),
        run_note: None,
    }
}

fn end(run_id: &str, status: &str) -> RunEnd {
    RunEnd {
        run_id: run_id.into(),
        connection_id: "conn_1".into(),
        workspace_id: "ws_a".into(),
        entities: vec!["orders".into()],
        full: true,
        status: status.into(),
        error: None,
        events: vec![],
    }
}

async fn stored(store: &Store, include_deleted: bool) -> Vec<(String, bool)> {
    let q = RecordQuery {
        connection_id: "conn_1".into(),
        entity: "orders".into(),
        after: None,
        modified_after: None,
        include_deleted,
        limit: 100,
    };
    let mut rows: Vec<(String, bool)> = store
        .list_records(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.deleted))
        .collect();
    rows.sort();
    rows
}

async fn sync_runs_commit_pages_fence_and_sweep(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    store
        .insert_connection(&write_of(conn("conn_1", "ws_a", "u1", "a")))
        .await
        .unwrap();
    running_sync(&store, "run_1", "job_1", true, "w1").await;
    // Only the worker holding the job's lease writes the run's pages.
    let fenced = store
        .commit_page(&page("run_1", "w2", true, &[("o1", "1")]))
        .await;
    assert!(matches!(fenced, Err(StoreError::Stale(_))), "{fenced:?}");
    let counts = store
        .commit_page(&page(
            "run_1",
            "w1",
            true,
            &[("o1", "1"), ("o2", "1"), ("o3", "1")],
        ))
        .await
        .unwrap();
    assert_eq!((counts.added, counts.updated, counts.unchanged), (3, 0, 0));
    assert_eq!(
        store
            .finish_sync_run(&end("run_1", "completed"))
            .await
            .unwrap(),
        0
    );
    let done = store
        .get_sync_run("conn_1", "run_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.added, done.pages),
        ("completed", 3, 1)
    );

    // A second full run that no longer sees o3 marks it deleted, and only when it completes.
    assert!(store.complete_job("job_1", "w1", 3).await.unwrap());
    running_sync(&store, "run_2", "job_2", true, "w1").await;
    let counts = store
        .commit_page(&page("run_2", "w1", true, &[("o1", "1"), ("o2", "2")]))
        .await
        .unwrap();
    assert_eq!((counts.added, counts.updated, counts.unchanged), (0, 1, 1));
    assert_eq!(
        stored(&store, false).await.len(),
        3,
        "nothing deleted mid-run"
    );
    assert_eq!(
        store
            .finish_sync_run(&end("run_2", "completed"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        stored(&store, true).await,
        vec![
            ("o1".into(), false),
            ("o2".into(), false),
            ("o3".into(), true)
        ]
    );
    assert_eq!(stored(&store, false).await.len(), 2);
    let done = store
        .get_sync_run("conn_1", "run_2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.updated, done.unchanged, done.deleted), (1, 1, 1));

    // Each ending is in the activity log with its final counts, sweep included.
    let activity = store
        .list_activity(&ActivityFilter {
            workspace_id: Some("ws_a".into()),
            connection_id: Some("conn_1".into()),
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    let ends: Vec<serde_json::Value> = activity
        .iter()
        .filter(|a| a.action == "sync.completed")
        .map(|a| serde_json::from_str(&a.details).unwrap())
        .collect();
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0]["sync_run_id"], "run_2");
    assert_eq!(ends[0]["deleted"], 1);
    assert_eq!(ends[1]["added"], 3);
}

fn delivery(id: &str, event: &str, conn: &str, at: i64) -> DeliveryRow {
    DeliveryRow {
        id: id.into(),
        workspace_id: "ws_a".into(),
        subscription_id: "sub_1".into(),
        event_id: event.into(),
        connection_id: Some(conn.into()),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: at,
        last_status_code: None,
        last_latency_ms: None,
        last_response: None,
        last_error: None,
        created_at: at,
        updated_at: at,
    }
}

fn attempt(id: &str, succeeded: bool, retry_at: Option<i64>) -> AttemptRecord {
    AttemptRecord {
        attempt_id: id.into(),
        status_code: Some(if succeeded { 204 } else { 503 }),
        latency_ms: 3,
        response: None,
        error: None,
        retry_at,
        succeeded,
        dead: false,
    }
}

async fn deliveries_fan_out_once_and_keep_connection_order(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    for (id, c) in [
        ("evt_1", "conn_1"),
        ("evt_2", "conn_1"),
        ("evt_3", "conn_2"),
    ] {
        store
            .record_event(&EventRow {
                id: id.into(),
                workspace_id: "ws_a".into(),
                event_type: "connection.updated".into(),
                connection_id: Some(c.into()),
                payload: "{}".into(),
                created_at: 1,
            })
            .await
            .unwrap();
    }
    let sub = SubscriptionRow {
        id: "sub_1".into(),
        workspace_id: "ws_a".into(),
        url: "https://hooks.example/in".into(),
        event_types: "[]".into(),
        description: None,
        enabled: true,
        cursor: None,
        consecutive_failures: 0,
        circuit_open_until: None,
        created_at: 1,
        updated_at: 1,
    };
    let mut secret = cred("cred_s", "ws_a", "sub_1", "signing_secret", 1, b"sealed");
    secret.owner_type = "subscription".into();
    store.insert_subscription(&sub, &secret).await.unwrap();
    let heads = store.events_after("ws_a", None, 10).await.unwrap();
    assert_eq!(heads.len(), 3);
    let ds = [
        delivery("dlv_1", "evt_1", "conn_1", 10),
        delivery("dlv_2", "evt_2", "conn_1", 10),
        delivery("dlv_3", "evt_3", "conn_2", 10),
    ];
    store.fan_out(&sub, &ds, Some("evt_3")).await.unwrap();
    // A redone fan-out (another process, a recheck) adds nothing twice.
    let again = [delivery("dlv_9", "evt_1", "conn_1", 10)];
    store.fan_out(&sub, &again, None).await.unwrap();
    assert_eq!(
        store
            .list_deliveries("sub_1", None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(store
        .events_after("ws_a", Some("evt_3"), 10)
        .await
        .unwrap()
        .is_empty());

    let claimed = store.claim_deliveries(20, 80, 10).await.unwrap();
    let mut ids: Vec<&str> = claimed.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["dlv_1", "dlv_2", "dlv_3"]);
    assert!(
        store.claim_deliveries(21, 80, 10).await.unwrap().is_empty(),
        "held"
    );

    // dlv_1 fails and waits for a retry; dlv_2 goes back unsent behind it; dlv_3 is delivered.
    let by_id = |id: &str| claimed.iter().find(|d| d.id == id).unwrap().clone();
    store
        .record_attempts(
            &[
                (by_id("dlv_1"), attempt("att_1", false, Some(500))),
                (by_id("dlv_3"), attempt("att_3", true, None)),
            ],
            &["dlv_2".to_string()],
            &[CircuitUpdate {
                subscription_id: "sub_1".into(),
                succeeded: true,
                failures: 1,
                open_after: 5,
            }],
            30,
        )
        .await
        .unwrap();
    let d1 = store.get_delivery("dlv_1").await.unwrap().unwrap();
    assert_eq!(
        (d1.status.as_str(), d1.attempts, d1.last_status_code),
        ("pending", 1, Some(503))
    );
    assert_eq!(
        store.get_delivery("dlv_3").await.unwrap().unwrap().status,
        "succeeded"
    );
    // The connection's later delivery waits behind its failed head, however due it is.
    assert!(store
        .claim_deliveries(100, 180, 10)
        .await
        .unwrap()
        .is_empty());
    let retried = store.claim_deliveries(500, 580, 10).await.unwrap();
    let mut ids: Vec<&str> = retried.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["dlv_1", "dlv_2"], "in order, head first");
}

fn derived(
    entity: &str,
    id: &str,
    source: &str,
    merge: Merge,
    data: serde_json::Value,
) -> DerivedRecord {
    DerivedRecord {
        entity: entity.into(),
        id: id.into(),
        source_id: source.into(),
        merge,
        data,
    }
}

async fn derived_data(store: &Store, entity: &str, id: &str) -> serde_json::Value {
    let q = RecordQuery {
        connection_id: "conn_1".into(),
        entity: entity.into(),
        after: None,
        modified_after: None,
        include_deleted: false,
        limit: 100,
    };
    let row = store
        .list_records(&q)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no {entity} record {id}"));
    serde_json::from_str(&row.data).unwrap()
}

/// People are tallied once per source message however often a page is committed; invites keep
/// their latest revision whatever order they arrive in; both land with the page.
async fn derived_records_merge_in_the_page_commit(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    store
        .insert_connection(&write_of(conn("conn_1", "ws_a", "u1", "a")))
        .await
        .unwrap();
    // Pages outside a run (as webhook processing commits them).
    let mut first = page("", "", false, &[("m1", "1")]);
    first.derived = vec![
        derived(
            "people",
            "zoe@example.com",
            "m1",
            Merge::Tally,
            serde_json::json!({"address": "zoe@example.com", "name": "Zoë", "at": "2026-12-02T09:00:00Z"}),
        ),
        derived(
            "invites",
            "u1",
            "m1",
            Merge::Newest,
            serde_json::json!({"status": "cancelled", "rank": "0000000001|1|2026-12-02T09:00:00Z"}),
        ),
    ];
    store.commit_page(&first).await.unwrap();
    // The same message again, and an older one with the invite's first revision.
    store.commit_page(&first).await.unwrap();
    let mut older = page("", "", false, &[("m0", "0")]);
    older.derived = vec![
        derived(
            "people",
            "zoe@example.com",
            "m0",
            Merge::Tally,
            serde_json::json!({"address": "zoe@example.com", "name": null, "at": "2026-11-01T09:00:00Z"}),
        ),
        derived(
            "invites",
            "u1",
            "m0",
            Merge::Newest,
            serde_json::json!({"status": "confirmed", "rank": "0000000000|0|2026-11-01T09:00:00Z"}),
        ),
    ];
    store.commit_page(&older).await.unwrap();
    let zoe = derived_data(&store, "people", "zoe@example.com").await;
    assert_eq!(zoe["count"], 2, "{zoe}");
    assert_eq!(zoe["first_seen"], "2026-11-01T09:00:00Z");
    assert_eq!(zoe["last_seen"], "2026-12-02T09:00:00Z");
    assert_eq!(zoe["name"], "Zoë");
    assert_eq!(
        derived_data(&store, "invites", "u1").await["status"],
        "cancelled"
    );
    // Each change of a derived entity is announced like any records change.
    let events = store.list_events("ws_a", None, 100).await.unwrap();
    let people_events = events
        .iter()
        .filter(|e| {
            e.event_type == "records.changed" && e.payload.contains("\"entity\":\"people\"")
        })
        .count();
    // Added by the first page, updated by the older message; the repeated page changed nothing.
    assert_eq!(people_events, 2);
}

async fn watches_are_leased_renewed_and_taken(backend: TestBackend) {
    let store = setup(backend, &["ws_a"]).await;
    for id in ["conn_1", "conn_2"] {
        store
            .insert_connection(&write_of(conn(id, "ws_a", "u1", id)))
            .await
            .unwrap();
    }
    store.want_watch("conn_1", 1_000).await.unwrap();
    store.want_watch("conn_2", 5_000).await.unwrap();
    // Wanting it again keeps the one there.
    store.want_watch("conn_1", 9_000).await.unwrap();
    assert_eq!(
        store.get_watch("conn_1").await.unwrap().unwrap().renew_at,
        1_000
    );

    // Only what is due, and each row to one claimant until its lease ends.
    let first = store.claim_due_watches(2_000, 60_000, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].connection_id, "conn_1");
    assert!(first[0].state.is_none());
    assert!(store
        .claim_due_watches(2_000, 60_000, 10)
        .await
        .unwrap()
        .is_empty());
    let both = store.claim_due_watches(70_000, 90_000, 10).await.unwrap();
    assert_eq!(both.len(), 2, "a lapsed lease is claimed again");

    assert!(store
        .watch_renewed("conn_1", r#"{"history_id":"7"}"#, 600_000, 300_000, 70_000)
        .await
        .unwrap());
    let w = store.get_watch("conn_1").await.unwrap().unwrap();
    assert_eq!(
        (w.expires_at, w.renew_at, w.lease_expires_at),
        (Some(600_000), 300_000, None)
    );
    store
        .watch_failed("conn_2", "the provider answered 500", 80_000, 70_000)
        .await
        .unwrap();
    store
        .watch_failed("conn_2", "the provider answered 500", 100_000, 80_000)
        .await
        .unwrap();
    let w = store.get_watch("conn_2").await.unwrap().unwrap();
    assert_eq!((w.attempts, w.renew_at), (2, 100_000));
    assert_eq!(w.error.as_deref(), Some("the provider answered 500"));
    assert!(store
        .claim_due_watches(99_000, 120_000, 10)
        .await
        .unwrap()
        .is_empty());

    let taken = store.take_watch("conn_1").await.unwrap().unwrap();
    assert_eq!(taken.state.as_deref(), Some(r#"{"history_id":"7"}"#));
    assert!(store.take_watch("conn_1").await.unwrap().is_none());
    assert!(store.get_watch("conn_1").await.unwrap().is_none());
}

fn widget(id: &str, ws: &str, conn: &str, position: i32) -> WidgetRow {
    WidgetRow {
        id: id.into(),
        workspace_id: ws.into(),
        connection_id: conn.into(),
        endpoint: "orders_by_status".into(),
        title: None,
        refresh_seconds: 60,
        position,
        created_at: 1,
        updated_at: 1,
        last_data: None,
        last_fetched_at: None,
    }
}

async fn widgets_list_in_order_keep_their_last_data_and_go_with_their_connection(
    backend: TestBackend,
) {
    let store = setup(backend, &["ws_a", "ws_b"]).await;
    for (id, w) in [("conn_1", "ws_a"), ("conn_2", "ws_a"), ("conn_3", "ws_b")] {
        store
            .insert_connection(&write_of(conn(id, w, "u1", id)))
            .await
            .unwrap();
    }
    store
        .insert_widget(&widget("wdg_2", "ws_a", "conn_1", 1))
        .await
        .unwrap();
    store
        .insert_widget(&widget("wdg_1", "ws_a", "conn_2", 2))
        .await
        .unwrap();
    let mut titled = widget("wdg_3", "ws_a", "conn_1", 1);
    titled.title = Some("Orders".into());
    store.insert_widget(&titled).await.unwrap();
    store
        .insert_widget(&widget("wdg_4", "ws_b", "conn_3", 0))
        .await
        .unwrap();

    // By position, then by id; never another workspace's.
    let ids = |rows: Vec<WidgetRow>| rows.into_iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_widgets("ws_a", 10).await.unwrap()),
        ["wdg_2", "wdg_3", "wdg_1"]
    );
    assert_eq!(ids(store.list_widgets("ws_a", 1).await.unwrap()), ["wdg_2"]);
    assert!(store.get_widget("ws_b", "wdg_2").await.unwrap().is_none());
    let got = store.get_widget("ws_a", "wdg_3").await.unwrap().unwrap();
    assert_eq!(got, titled);

    // The last data is kept unless what is there was fetched later.
    assert!(store
        .widget_data_seen("wdg_2", r#"{"value":1}"#, 100)
        .await
        .unwrap());
    assert!(!store
        .widget_data_seen("wdg_2", r#"{"value":0}"#, 50)
        .await
        .unwrap());
    assert!(!store
        .widget_data_seen("wdg_2", r#"{"value":1}"#, 100)
        .await
        .unwrap());
    let w = store.get_widget("ws_a", "wdg_2").await.unwrap().unwrap();
    assert_eq!(
        (w.last_data.as_deref(), w.last_fetched_at),
        (Some(r#"{"value":1}"#), Some(100))
    );

    // Removing is per workspace.
    assert!(!store.delete_widget("ws_b", "wdg_1").await.unwrap());
    assert!(store.delete_widget("ws_a", "wdg_1").await.unwrap());
    assert!(!store.delete_widget("ws_a", "wdg_1").await.unwrap());

    // A widget goes with its connection.
    let gone = EventRow {
        id: "evt_w".into(),
        workspace_id: "ws_a".into(),
        event_type: "connection.deleted".into(),
        connection_id: Some("conn_1".into()),
        payload: "{}".into(),
        created_at: 2,
    };
    store
        .delete_connection("conn_1", &act("act_w", "ws_a", Some("conn_1")), &gone)
        .await
        .unwrap();
    assert!(store.list_widgets("ws_a", 10).await.unwrap().is_empty());
    assert_eq!(
        ids(store.list_widgets("ws_b", 10).await.unwrap()),
        ["wdg_4"]
    );
}
