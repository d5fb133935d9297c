//! The generic JSON API connector against the paginated record source emulator.

use crate::support::{ctx, distinct_sorted, has, http, secrets, sync_all, validate};
use patchbay_connectors::HttpJson;
use patchbay_core::{
    Capability, Connector, ConnectorContext, ConnectorError, SyncMode, SyncRequest,
};
use patchbay_emulators::records::{self, record_id};
use patchbay_emulators::{RecordsConfig, RecordsEmulator};
use serde_json::{json, Value};

async fn setup() -> (RecordsEmulator, HttpJson, ConnectorContext) {
    let emu = records::spawn(RecordsConfig {
        count: 250,
        record_bytes: 200,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = connection(&emu, json!({}), &emu.config().api_key.clone());
    (emu, HttpJson::new(http()), c)
}

/// A connection to the emulator in pages of 40; `extra` adds or replaces config fields.
fn connection(emu: &RecordsEmulator, extra: Value, api_key: &str) -> ConnectorContext {
    let mut config = json!({
        "base_url": emu.base_url,
        "list_path": "/v1/records",
        "page_size": 40,
        "updated_since_param": "updated_since",
        "updated_at_field": "updated_at",
        "deleted_field": "deleted"
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    ctx(config, secrets(&[("api_key", api_key)]))
}

fn request(entity: &str) -> SyncRequest {
    SyncRequest {
        entity: entity.into(),
        mode: SyncMode::Full,
        page_cursor: None,
        since: None,
    }
}

#[test]
fn spec_and_validation() {
    let c = HttpJson::new(http());
    assert_eq!(c.spec().key, "http_json");
    assert_eq!(
        c.spec().capabilities,
        vec![
            Capability::Sync,
            Capability::Webhooks,
            Capability::Proxy,
            Capability::Data
        ]
    );
    assert_eq!(
        c.spec().entity("records").map(|e| e.incremental),
        Some(true)
    );

    let key = secrets(&[("api_key", "a-long-api-key")]);
    let good = json!({"base_url": "https://tickets.example/api", "list_path": "/v2/tickets"});
    assert!(validate(&c, good, &key).is_empty());
    let full = json!({
        "base_url": "http://127.0.0.1:8080",
        "list_path": "/items",
        "entities": ["tickets"],
        "items_field": "/result/items",
        "id_field": "uuid",
        "next_cursor_field": "/meta/next",
        "cursor_param": "after",
        "limit_param": "per_page",
        "page_size": 10000,
        "updated_since_param": "modified_after",
        "updated_at_field": "modified",
        "deleted_field": "archived",
        "auth_header": "X-Api-Key",
        "auth_scheme": ""
    });
    assert!(validate(&c, full, &key).is_empty());

    let bad = json!({
        "base_url": "http://tickets.example",
        "list_path": "v2/tickets",
        "page_size": 0,
        "auth_header": "Bad Header",
        "entities": [],
        "extra": true
    });
    let errors = validate(&c, bad, &secrets(&[("api_key", "short")]));
    assert!(
        has(&errors, "config.base_url", "insecure_url"),
        "{errors:?}"
    );
    assert!(has(&errors, "config.list_path", "pattern"), "{errors:?}");
    assert!(has(&errors, "config.page_size", "minimum"), "{errors:?}");
    assert!(has(&errors, "config.auth_header", "pattern"), "{errors:?}");
    assert!(has(&errors, "config.entities", "minItems"), "{errors:?}");
    assert!(
        has(&errors, "config.extra", "additionalProperties"),
        "{errors:?}"
    );
    assert!(has(&errors, "secrets.api_key", "minLength"), "{errors:?}");

    let errors = validate(&c, json!({"page_size": 10001}), &secrets(&[]));
    assert!(has(&errors, "config.base_url", "required"), "{errors:?}");
    assert!(has(&errors, "config.list_path", "required"), "{errors:?}");
    assert!(has(&errors, "config.page_size", "maximum"), "{errors:?}");
    assert!(has(&errors, "secrets.api_key", "required"), "{errors:?}");
}

#[tokio::test]
async fn full_sync_returns_exactly_the_live_set() {
    let (emu, c, ctx) = setup().await;
    emu.delete(&[0, 120]);
    let run = sync_all(&c, &ctx, "records", None).await;
    assert_eq!(run.pages, 7, "248 records in pages of 40");
    assert!(run.deleted.is_empty());
    assert_eq!(distinct_sorted(run.ids()), emu.live_ids());
    assert_eq!(run.records[0].entity, "records");
    assert_eq!(run.records[5].data, emu.record_json(6));
    assert!(run.checkpoint.is_some());

    let outcome = c.test_connection(&ctx).await.unwrap();
    assert!(
        outcome.ok && outcome.message.contains("/v1/records"),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn incremental_sync_returns_changes_and_deletions() {
    let (emu, c, ctx) = setup().await;
    let first = sync_all(&c, &ctx, "records", None).await;
    let checkpoint = first.checkpoint.clone().unwrap();
    let nothing = sync_all(&c, &ctx, "records", Some(checkpoint.clone())).await;
    assert!(nothing.records.is_empty() && nothing.deleted.is_empty());
    assert_eq!(nothing.checkpoint.as_deref(), Some(checkpoint.as_str()));

    emu.change(&[3, 200]);
    emu.delete(&[7]);
    let added = emu.add(1);
    let changes = sync_all(&c, &ctx, "records", Some(checkpoint.clone())).await;
    let mut expected = vec![record_id(3), record_id(200)];
    expected.extend(added);
    assert_eq!(changes.ids(), expected);
    assert_eq!(changes.records[0].data, emu.record_json(3));
    assert_eq!(changes.records[0].data["version"], 2);
    assert_eq!(changes.deleted, vec![record_id(7)]);
    let next = changes.checkpoint.unwrap();
    assert!(next > checkpoint, "{next} should be after {checkpoint}");
    assert!(sync_all(&c, &ctx, "records", Some(next))
        .await
        .records
        .is_empty());

    // Without an updated-since parameter, an incremental run lists everything.
    let plain = connection(
        &emu,
        json!({"updated_since_param": ""}),
        &emu.config().api_key,
    );
    let all = sync_all(&c, &plain, "records", Some(checkpoint)).await;
    assert_eq!(distinct_sorted(all.ids()), emu.live_ids());
}

#[tokio::test]
async fn entities_come_from_the_config() {
    let (emu, c, ctx) = setup().await;
    let err = c.sync(&ctx, request("tickets")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown { kind: "entity", .. }),
        "{err:?}"
    );

    let tickets = connection(
        &emu,
        json!({"entities": ["tickets"]}),
        &emu.config().api_key,
    );
    let page = c.sync(&tickets, request("tickets")).await.unwrap();
    assert_eq!(page.records.len(), 40);
    assert_eq!(page.records[0].entity, "tickets");
    let err = c.sync(&tickets, request("records")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unknown { .. }), "{err:?}");
}

#[tokio::test]
async fn credentials_and_answer_shape_are_checked() {
    let (emu, c, _) = setup().await;
    let wrong = "rs_not_the_right_key_42";
    match c.test_connection(&connection(&emu, json!({}), wrong)).await {
        Err(ConnectorError::Unauthorized { status, message }) => {
            assert_eq!(status, 401);
            assert!(!message.contains(wrong), "{message}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    // The auth header and scheme are what the config says: these miss the emulator's form.
    let key = emu.config().api_key.clone();
    for extra in [
        json!({"auth_scheme": ""}),
        json!({"auth_header": "X-Api-Key"}),
    ] {
        let err = c
            .sync(&connection(&emu, extra, &key), request("records"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Unauthorized { .. }),
            "{err:?}"
        );
    }

    let no_ids = connection(&emu, json!({"id_field": "uid"}), &key);
    let err = c.sync(&no_ids, request("records")).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::BadResponse(m) if m.contains("item 0") && m.contains("uid")),
        "{err:?}"
    );
    let no_items = connection(&emu, json!({"items_field": "items"}), &key);
    let err = c.test_connection(&no_items).await.unwrap_err();
    assert!(matches!(err, ConnectorError::BadResponse(_)), "{err:?}");
}

#[tokio::test]
async fn provider_faults_map_to_errors() {
    let (emu, c, ctx) = setup().await;
    emu.fail_next(1);
    let err = c.sync(&ctx, request("records")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Provider { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());

    emu.rate_limit_next(1);
    let err = c.sync(&ctx, request("records")).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::RateLimited {
                retry_after_secs: Some(1)
            }
        ),
        "{err:?}"
    );

    emu.truncate_next(1);
    let err = c.sync(&ctx, request("records")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::BadResponse(_)), "{err:?}");
    assert!(!err.is_transient());

    assert!(c.sync(&ctx, request("records")).await.is_ok());
    assert_eq!(emu.requests(), 4);
}
