//! The venue operations connector against its emulator.

use crate::support::{ctx, distinct_sorted, has, http, secrets, sync_all, validate, webhook};
use patchbay_connectors::VenueOps;
use patchbay_core::{
    Capability, Connector, ConnectorContext, ConnectorError, DataShape, SyncMode, SyncRequest,
};
use patchbay_emulators::venue_ops::{self, VenueConfig, VenueEmulator};
use serde_json::json;

const CALLBACK_SECRET: &str = "emulator-venue-callback-00001";

async fn setup() -> (VenueEmulator, VenueOps, ConnectorContext) {
    let emu = venue_ops::spawn(VenueConfig {
        callback_secret: CALLBACK_SECRET.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = connection(&emu, &emu.config().api_token.clone());
    (emu, VenueOps::new(http()).with_page_size(5), c)
}

fn connection(emu: &VenueEmulator, token: &str) -> ConnectorContext {
    ctx(
        json!({
            "venue_id": emu.config().venue_id,
            "api_base_url": emu.base_url,
            "timezone": "Europe/Berlin",
            "capacity_alert_percent": 80
        }),
        secrets(&[("api_token", token), ("callback_secret", CALLBACK_SECRET)]),
    )
}

#[test]
fn validation_reports_each_rule() {
    let c = VenueOps::new(http());
    let good_secrets = secrets(&[
        ("api_token", "vo_live_0123456789abcdefgh"),
        ("callback_secret", "a-long-enough-callback-secret"),
    ]);
    let good = json!({"venue_id": "ven_Hall42", "api_base_url": "https://venues.example", "timezone": "UTC"});
    assert!(validate(&c, good, &good_secrets).is_empty());

    let bad = json!({
        "venue_id": "hall42",
        "api_base_url": "http://venues.example",
        "timezone": "Berlin",
        "capacity_alert_percent": 120
    });
    let bad_secrets = secrets(&[("api_token", "short-token"), ("callback_secret", "short")]);
    let errors = validate(&c, bad, &bad_secrets);
    assert!(has(&errors, "config.venue_id", "pattern"), "{errors:?}");
    assert!(
        has(&errors, "config.api_base_url", "insecure_url"),
        "{errors:?}"
    );
    assert!(has(&errors, "config.timezone", "pattern"), "{errors:?}");
    assert!(
        has(&errors, "config.capacity_alert_percent", "maximum"),
        "{errors:?}"
    );
    assert!(has(&errors, "secrets.api_token", "minLength"), "{errors:?}");
    assert!(
        has(&errors, "secrets.callback_secret", "minLength"),
        "{errors:?}"
    );

    let errors = validate(&c, json!({"capacity_alert_percent": 0}), &secrets(&[]));
    for field in ["config.venue_id", "config.api_base_url", "config.timezone"] {
        assert!(has(&errors, field, "required"), "{field}: {errors:?}");
    }
    assert!(
        has(&errors, "config.capacity_alert_percent", "minimum"),
        "{errors:?}"
    );
    assert!(has(&errors, "secrets.api_token", "required"), "{errors:?}");

    let same = "the-same-secret-for-token-and-callback";
    let errors = validate(
        &c,
        json!({"venue_id": "ven_Hall42", "api_base_url": "http://127.0.0.1:9", "timezone": "Mars/Olympus_Mons"}),
        &secrets(&[("api_token", same), ("callback_secret", same)]),
    );
    assert!(has(&errors, "config.timezone", "timezone"), "{errors:?}");
    assert!(
        has(&errors, "secrets.callback_secret", "reused_secret"),
        "{errors:?}"
    );
    assert!(
        !has(&errors, "config.api_base_url", "insecure_url"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn test_connection_reports_the_venue_or_unauthorized() {
    let (emu, c, ctx) = setup().await;
    let outcome = c.test_connection(&ctx).await.unwrap();
    assert!(outcome.ok);
    assert_eq!(outcome.account.as_deref(), Some("ven_Demo01"));

    let wrong = "vo_wrong_token_000000000000";
    match c.test_connection(&connection(&emu, wrong)).await {
        Err(ConnectorError::Unauthorized { status, message }) => {
            assert_eq!(status, 401);
            assert!(!message.contains(wrong), "{message}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn full_sync_returns_exactly_the_seeded_set() {
    let (emu, c, ctx) = setup().await;
    let bookings = sync_all(&c, &ctx, "bookings", None).await;
    assert_eq!(bookings.pages, 5, "23 bookings in pages of 5");
    assert_eq!(distinct_sorted(bookings.ids()), emu.booking_ids());
    assert!(bookings.deleted.is_empty());
    assert!(bookings.checkpoint.is_some());

    let spaces = sync_all(&c, &ctx, "spaces", None).await;
    assert_eq!(spaces.pages, 2);
    assert_eq!(distinct_sorted(spaces.ids()), emu.space_ids());
    assert_eq!(spaces.checkpoint, None);
}

#[tokio::test]
async fn incremental_sync_returns_changes_and_cancellations() {
    let (emu, c, ctx) = setup().await;
    let checkpoint = sync_all(&c, &ctx, "bookings", None)
        .await
        .checkpoint
        .unwrap();
    assert!(sync_all(&c, &ctx, "bookings", Some(checkpoint.clone()))
        .await
        .records
        .is_empty());

    emu.update_booking("bkg_000007", "Gala dinner").unwrap();
    emu.cancel_booking("bkg_000012").unwrap();
    let changes = sync_all(&c, &ctx, "bookings", Some(checkpoint.clone())).await;
    assert_eq!(changes.ids(), vec!["bkg_000007"]);
    assert_eq!(changes.records[0].data["title"], "Gala dinner");
    assert_eq!(changes.deleted, vec!["bkg_000012"]);
    assert!(changes.checkpoint.unwrap() > checkpoint);
}

#[tokio::test]
async fn fetch_entity_reads_one_booking() {
    let (_emu, c, ctx) = setup().await;
    let record = c
        .fetch_entity(&ctx, "bookings", "bkg_000003")
        .await
        .unwrap();
    assert_eq!(record.id, "bkg_000003");
    assert_eq!(record.data["space_id"], "spc_0003");
    let missing = c.fetch_entity(&ctx, "bookings", "bkg_999999").await;
    assert!(
        matches!(missing, Err(ConnectorError::NotFound(_))),
        "{missing:?}"
    );
    let unknown = c.fetch_entity(&ctx, "guests", "g1").await;
    assert!(
        matches!(unknown, Err(ConnectorError::Unknown { .. })),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn actions_hold_and_release_spaces() {
    let (emu, c, ctx) = setup().await;
    let hold = c
        .run_action(
            &ctx,
            "hold_space",
            json!({"space_id": "spc_0002", "starts_at": "2025-06-01T18:00:00Z", "ends_at": "2025-06-01T23:00:00Z"}),
        )
        .await
        .unwrap();
    let hold_id = hold["id"].as_str().unwrap().to_string();
    assert_eq!(hold["space_id"], "spc_0002");
    assert_eq!(emu.holds().len(), 1);

    let backwards = c
        .run_action(
            &ctx,
            "hold_space",
            json!({"space_id": "spc_0002", "starts_at": "2025-06-02T18:00:00Z", "ends_at": "2025-06-01T23:00:00Z"}),
        )
        .await;
    match backwards {
        Err(ConnectorError::InvalidInput(errors)) => {
            assert!(has(&errors, "input.ends_at", "range"), "{errors:?}")
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let missing_field =
        crate::support::input_errors(&c, "hold_space", &json!({"space_id": "spc_0002"}));
    assert!(!missing_field.is_empty());
    let no_space = c
        .run_action(
            &ctx,
            "hold_space",
            json!({"space_id": "spc_9999", "starts_at": "2025-06-01T18:00:00Z", "ends_at": "2025-06-01T19:00:00Z"}),
        )
        .await;
    assert!(
        matches!(no_space, Err(ConnectorError::NotFound(_))),
        "{no_space:?}"
    );

    let released = c
        .run_action(&ctx, "release_hold", json!({"hold_id": hold_id}))
        .await
        .unwrap();
    assert_eq!(released["released"], true);
    assert!(emu.holds().is_empty());
    let again = c
        .run_action(&ctx, "release_hold", json!({"hold_id": hold_id}))
        .await;
    assert!(
        matches!(again, Err(ConnectorError::NotFound(_))),
        "{again:?}"
    );
}

#[tokio::test]
async fn callbacks_are_verified_and_mapped() {
    let (emu, c, ctx) = setup().await;
    for event in ["booking.created", "booking.updated"] {
        let cb = emu.booking_event(event, "bkg_000002").unwrap();
        let outcome = c.handle_webhook(&ctx, &webhook(cb)).await.unwrap();
        assert_eq!(outcome.event_type, event);
        assert!(outcome.delivery_id.is_some());
        assert_eq!(outcome.upserts[0].id, "bkg_000002");
        assert_eq!(outcome.upserts[0].entity, "bookings");
    }
    emu.cancel_booking("bkg_000002").unwrap();
    let cb = emu
        .booking_event("booking.cancelled", "bkg_000002")
        .unwrap();
    let outcome = c.handle_webhook(&ctx, &webhook(cb)).await.unwrap();
    assert_eq!(
        outcome.deletions,
        vec![("bookings".to_string(), "bkg_000002".to_string())]
    );

    let booking = emu.booking("bkg_000001").unwrap();
    let wrong = venue_ops::callback(
        "not-the-venue-callback-secret",
        "e1",
        "booking.updated",
        &booking,
    );
    let err = c.handle_webhook(&ctx, &webhook(wrong)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Verification(_)), "{err:?}");

    let mut missing = emu.booking_event("booking.updated", "bkg_000001").unwrap();
    missing.headers.clear();
    let err = c.handle_webhook(&ctx, &webhook(missing)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Verification(_)), "{err:?}");

    let mut malformed = emu.booking_event("booking.updated", "bkg_000001").unwrap();
    malformed.body = b"[1, 2".to_vec();
    let err = c
        .handle_webhook(&ctx, &webhook(malformed))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::BadPayload(_)), "{err:?}");

    let no_booking = venue_ops::callback(CALLBACK_SECRET, "e2", "booking.updated", &json!(null));
    let err = c
        .handle_webhook(&ctx, &webhook(no_booking))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::BadPayload(_)), "{err:?}");
}

#[tokio::test]
async fn occupancy_is_a_gauge() {
    let (emu, c, ctx) = setup().await;
    assert!(c.spec().supports(Capability::Data));
    let endpoint = &c.spec().data_endpoints[0];
    assert_eq!(
        (endpoint.key.as_str(), endpoint.shape, endpoint.ttl_seconds),
        ("occupancy", DataShape::Gauge, 60)
    );

    let payload = c.fetch_data(&ctx, "occupancy").await.unwrap();
    assert_eq!(payload.shape, DataShape::Gauge);
    assert_eq!(payload.data["value"], 120);
    assert_eq!(payload.data["max"], 800);
    assert_eq!(payload.data["alert"], false);

    emu.set_occupancy(700, 800);
    let payload = c.fetch_data(&ctx, "occupancy").await.unwrap();
    assert_eq!(payload.data["percent"], 87);
    assert_eq!(payload.data["alert"], true, "above the configured 80 %");

    let err = c.fetch_data(&ctx, "weather").await.unwrap_err();
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
async fn provider_faults_map_to_errors() {
    let (emu, c, ctx) = setup().await;
    let page = || SyncRequest {
        entity: "bookings".into(),
        mode: SyncMode::Full,
        page_cursor: Some("2".into()),
        since: None,
    };
    emu.fail_next(1);
    let err = c.sync(&ctx, page()).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Provider { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());

    emu.rate_limit_next(1);
    let err = c.fetch_data(&ctx, "occupancy").await.unwrap_err();
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
    let err = c.sync(&ctx, page()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::BadResponse(_)), "{err:?}");

    let ok = c.sync(&ctx, page()).await.unwrap();
    assert_eq!(ok.records.len(), 5);
    assert_eq!(ok.next_page_cursor.as_deref(), Some("3"));
}
