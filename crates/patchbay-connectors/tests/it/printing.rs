//! The printing partner connector against its emulator.

use crate::support::{ctx, distinct_sorted, has, http, secrets, sync_all, validate, webhook};
use patchbay_connectors::PrintingPartner;
use patchbay_core::{
    Capability, Connector, ConnectorContext, ConnectorError, SyncMode, SyncRequest,
};
use patchbay_emulators::printing_partner::{self, PrintingConfig, PrintingEmulator};
use serde_json::json;

const CALLBACK_SECRET: &str = "emulator-printing-callback-0001";

async fn setup() -> (PrintingEmulator, PrintingPartner, ConnectorContext) {
    let emu = printing_partner::spawn(PrintingConfig {
        callback_secret: CALLBACK_SECRET.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = connection(&emu, &emu.config().api_key.clone());
    (emu, PrintingPartner::new(http()).with_page_size(7), c)
}

fn connection(emu: &PrintingEmulator, api_key: &str) -> ConnectorContext {
    ctx(
        json!({"shop_id": emu.config().shop_id, "api_base_url": emu.base_url}),
        secrets(&[("api_key", api_key), ("callback_secret", CALLBACK_SECRET)]),
    )
}

#[test]
fn validation_reports_each_rule() {
    let c = PrintingPartner::new(http());
    let good_secrets = secrets(&[
        ("api_key", "pp_live_0123456789abcdef"),
        ("callback_secret", "a-long-enough-callback-secret"),
    ]);
    let good = json!({"shop_id": "acme-prints", "api_base_url": "https://api.printer.example"});
    assert!(validate(&c, good.clone(), &good_secrets).is_empty());
    let local = json!({"shop_id": "acme", "api_base_url": "http://localhost:8080", "default_paper": "letter", "proof_required": true});
    assert!(validate(&c, local, &good_secrets).is_empty());

    let bad = json!({
        "shop_id": "-Bad",
        "api_base_url": "http://api.printer.example",
        "default_paper": "a3",
        "extra": 1
    });
    let bad_secrets = secrets(&[
        ("api_key", "sk_wrongprefix_0123456789"),
        ("callback_secret", "too-short-secret"),
    ]);
    let errors = validate(&c, bad, &bad_secrets);
    assert!(has(&errors, "config.shop_id", "pattern"), "{errors:?}");
    assert!(
        has(&errors, "config.api_base_url", "insecure_url"),
        "{errors:?}"
    );
    assert!(has(&errors, "config.default_paper", "enum"), "{errors:?}");
    assert!(
        has(&errors, "config.extra", "additionalProperties"),
        "{errors:?}"
    );
    assert!(has(&errors, "secrets.api_key", "format"), "{errors:?}");
    assert!(
        has(&errors, "secrets.callback_secret", "minLength"),
        "{errors:?}"
    );

    let errors = validate(&c, json!({}), &secrets(&[("api_key", "pp_test_short")]));
    assert!(has(&errors, "config.shop_id", "required"), "{errors:?}");
    assert!(
        has(&errors, "config.api_base_url", "required"),
        "{errors:?}"
    );
    assert!(has(&errors, "secrets.api_key", "minLength"), "{errors:?}");
    assert!(
        has(&errors, "secrets.callback_secret", "required"),
        "{errors:?}"
    );

    let same = "pp_test_same_value_for_both_0001";
    let errors = validate(
        &c,
        json!({"shop_id": "acme", "api_base_url": "not a url"}),
        &secrets(&[("api_key", same), ("callback_secret", same)]),
    );
    assert!(has(&errors, "config.api_base_url", "format"), "{errors:?}");
    assert!(
        has(&errors, "secrets.callback_secret", "reused_secret"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn test_connection_reports_the_shop_or_unauthorized() {
    let (emu, c, ctx) = setup().await;
    let outcome = c.test_connection(&ctx).await.unwrap();
    assert!(outcome.ok);
    assert_eq!(outcome.account.as_deref(), Some("demo-shop"));

    let wrong_key = "pp_test_not_the_right_key_42";
    match c.test_connection(&connection(&emu, wrong_key)).await {
        Err(ConnectorError::Unauthorized { status, message }) => {
            assert_eq!(status, 401);
            assert!(!message.contains(wrong_key), "{message}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn full_sync_returns_exactly_the_seeded_set() {
    let (emu, c, ctx) = setup().await;
    let orders = sync_all(&c, &ctx, "orders", None).await;
    assert_eq!(orders.pages, 4, "25 orders in pages of 7");
    assert_eq!(distinct_sorted(orders.ids()), emu.order_ids());
    assert!(orders.deleted.is_empty());
    assert!(orders.records.iter().all(|r| r.entity == "orders"));
    assert!(orders.checkpoint.is_some());

    let products = sync_all(&c, &ctx, "products", None).await;
    assert_eq!(distinct_sorted(products.ids()), emu.product_ids());
    assert_eq!(products.checkpoint, None);

    let unknown = c
        .sync(
            &ctx,
            SyncRequest {
                entity: "invoices".into(),
                mode: SyncMode::Full,
                page_cursor: None,
                since: None,
            },
        )
        .await;
    assert!(matches!(
        unknown,
        Err(ConnectorError::Unknown { kind: "entity", .. })
    ));
}

#[tokio::test]
async fn incremental_sync_returns_changes_and_deletions() {
    let (emu, c, ctx) = setup().await;
    let first = sync_all(&c, &ctx, "orders", None).await;
    let checkpoint = first.checkpoint.clone().unwrap();

    let nothing = sync_all(&c, &ctx, "orders", Some(checkpoint.clone())).await;
    assert!(nothing.records.is_empty() && nothing.deleted.is_empty());
    assert_eq!(nothing.checkpoint.as_deref(), Some(checkpoint.as_str()));

    emu.update_order("ord_000003", "shipped").unwrap();
    emu.delete_order("ord_000010").unwrap();
    let changes = sync_all(&c, &ctx, "orders", Some(checkpoint.clone())).await;
    assert_eq!(changes.ids(), vec!["ord_000003"]);
    assert_eq!(changes.records[0].data["status"], "shipped");
    assert_eq!(changes.deleted, vec!["ord_000010"]);
    let next = changes.checkpoint.unwrap();
    assert!(next > checkpoint, "{next} should be after {checkpoint}");

    // The deletion also shows in a full run.
    let full = sync_all(&c, &ctx, "orders", None).await;
    assert_eq!(full.deleted, vec!["ord_000010"]);
    assert_eq!(full.records.len(), 24);
}

#[tokio::test]
async fn fetch_entity_reads_one_order() {
    let (_emu, c, ctx) = setup().await;
    let record = c.fetch_entity(&ctx, "orders", "ord_000002").await.unwrap();
    assert_eq!(record.id, "ord_000002");
    assert_eq!(record.data["status"], "submitted");
    let missing = c.fetch_entity(&ctx, "orders", "ord_999999").await;
    assert!(
        matches!(missing, Err(ConnectorError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn actions_submit_and_cancel_orders() {
    let (emu, c, mut ctx) = setup().await;
    ctx.config["default_paper"] = "letter".into();
    let order = c
        .run_action(
            &ctx,
            "submit_order",
            json!({"product_id": "prd_0002", "quantity": 40}),
        )
        .await
        .unwrap();
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!(order["status"], "submitted");
    assert_eq!(order["paper"], "letter");
    let orders = sync_all(&c, &ctx, "orders", None).await;
    assert!(orders.ids().contains(&id));

    let errors = crate::support::input_errors(
        &c,
        "submit_order",
        &json!({"product_id": "prd_0002", "quantity": 0}),
    );
    assert!(
        errors.iter().any(|e| e.field == "input.quantity"),
        "{errors:?}"
    );
    let no_product = c
        .run_action(
            &ctx,
            "submit_order",
            json!({"product_id": "prd_9999", "quantity": 1}),
        )
        .await;
    assert!(matches!(
        no_product,
        Err(ConnectorError::Provider { status: 400, .. })
    ));

    let cancelled = c
        .run_action(&ctx, "cancel_order", json!({"order_id": id}))
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(emu.order(&id).unwrap()["status"], "cancelled");

    let shipped = emu.orders_with_status("shipped")[0].clone();
    match c
        .run_action(&ctx, "cancel_order", json!({"order_id": shipped}))
        .await
    {
        Err(ConnectorError::Provider { status, message }) => {
            assert_eq!(status, 409);
            assert!(message.contains("shipped"), "{message}");
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    let unknown = c.run_action(&ctx, "reprint", json!({})).await;
    assert!(matches!(
        unknown,
        Err(ConnectorError::Unknown { kind: "action", .. })
    ));
}

#[tokio::test]
async fn callbacks_are_verified_and_mapped() {
    let (emu, c, ctx) = setup().await;
    let updated = emu.order_event("order.updated", "ord_000004").unwrap();
    let outcome = c.handle_webhook(&ctx, &webhook(updated)).await.unwrap();
    assert_eq!(outcome.event_type, "order.updated");
    assert!(outcome.delivery_id.unwrap().starts_with("evt_"));
    assert_eq!(outcome.upserts.len(), 1);
    assert_eq!(outcome.upserts[0].id, "ord_000004");
    assert_eq!(outcome.upserts[0].entity, "orders");

    let deleted = emu.order_event("order.deleted", "ord_000005").unwrap();
    let outcome = c.handle_webhook(&ctx, &webhook(deleted)).await.unwrap();
    assert_eq!(
        outcome.deletions,
        vec![("orders".to_string(), "ord_000005".to_string())]
    );
    assert!(outcome.upserts.is_empty());

    let order = emu.order("ord_000001").unwrap();
    let wrong = printing_partner::callback(
        "a-different-callback-secret!",
        "evt_x",
        "order.updated",
        &order,
    );
    let err = c.handle_webhook(&ctx, &webhook(wrong)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Verification(_)), "{err:?}");

    let mut missing = emu.order_event("order.updated", "ord_000001").unwrap();
    missing.headers.clear();
    let err = c.handle_webhook(&ctx, &webhook(missing)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Verification(_)), "{err:?}");

    let mut malformed = emu.order_event("order.updated", "ord_000001").unwrap();
    malformed.body = b"{\"id\": \"evt_1\", \"type\": ".to_vec();
    let err = c
        .handle_webhook(&ctx, &webhook(malformed))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::BadPayload(_)), "{err:?}");

    let unknown = printing_partner::callback(CALLBACK_SECRET, "evt_y", "order.exploded", &order);
    let err = c.handle_webhook(&ctx, &webhook(unknown)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::BadPayload(_)), "{err:?}");
}

#[tokio::test]
async fn provider_faults_map_to_errors() {
    let (emu, c, ctx) = setup().await;
    emu.fail_next(1);
    let err = c.test_connection(&ctx).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Provider { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());

    emu.rate_limit_next(1);
    let err = c
        .fetch_entity(&ctx, "orders", "ord_000001")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::RateLimited {
                retry_after_secs: Some(1)
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());

    emu.truncate_next(1);
    let err = c
        .sync(
            &ctx,
            SyncRequest {
                entity: "orders".into(),
                mode: SyncMode::Full,
                page_cursor: None,
                since: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::BadResponse(_)), "{err:?}");
    assert!(!err.is_transient());

    // Faults are used up; the next call works again.
    assert!(c.test_connection(&ctx).await.is_ok());
    assert_eq!(emu.request_count(), 4);
}

#[tokio::test]
async fn unsupported_methods_say_so() {
    let (_emu, c, ctx) = setup().await;
    assert!(c.spec().supports(Capability::Data));
    let keys: Vec<&str> = c
        .spec()
        .data_endpoints
        .iter()
        .map(|d| d.key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["orders_by_status", "orders_shipped", "service_notices"]
    );
    let err = c.fetch_data(&ctx, "anything").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unknown { .. }), "{err:?}");
    let err = c
        .fetch_entity(&ctx, "products", "prd_0001")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unsupported { .. }), "{err:?}");
}
