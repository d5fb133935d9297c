//! Push channels: events.watch, the sync message, change notifications with Google's
//! headers, retries, channels.stop, and not_exists for a removed calendar.

use super::{assert_google_error, call, empty, send};
use crate::google::{self, until, Endpoint};
use patchbay_emulators::GcalEmulator;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// A push endpoint at `/hook`; returns it and its address.
async fn endpoint(answers: &[u16]) -> (Endpoint, String) {
    let (endpoint, base) = google::endpoint(answers).await;
    (endpoint, format!("{base}/hook"))
}

async fn watch(emu: &GcalEmulator, calendar: &str, body: Value) -> Value {
    send(
        emu,
        Method::POST,
        &format!("calendars/{calendar}/events/watch"),
        body,
    )
    .await
}

fn event(summary: &str) -> Value {
    json!({"summary": summary, "start": {"dateTime": "2027-03-02T09:00:00Z"},
           "end": {"dateTime": "2027-03-02T10:00:00Z"}})
}

#[tokio::test]
async fn watch_sends_sync_then_a_notification_per_change_until_stopped() {
    let emu = empty().await;
    let (ep, url) = endpoint(&[]).await;
    let body = json!({"id": "chan-1", "type": "web_hook", "address": url, "token": "target=ada",
                      "params": {"ttl": "3600"}});
    let channel = watch(&emu, "primary", body).await;
    assert_eq!(channel["kind"], "api#channel");
    assert_eq!(channel["id"], "chan-1");
    assert_eq!(channel["token"], "target=ada");
    assert_eq!(
        channel["resourceUri"],
        "https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json"
    );
    let resource_id = channel["resourceId"].as_str().unwrap().to_string();
    let expiration: i64 = channel["expiration"].as_str().unwrap().parse().unwrap();
    let expected = chrono::Utc::now().timestamp_millis() + 3_600_000;
    assert!((expiration - expected).abs() < 60_000, "{expiration}");
    assert_eq!(emu.watch_calls(), 1);
    assert_eq!(emu.channels()[0].calendar_id, super::ADA);

    until(|| ep.received().len() == 1).await;
    send(&emu, Method::POST, "calendars/primary/events", event("One")).await;
    until(|| ep.received().len() == 2).await;
    let id = emu.insert_event("primary", event("Two"));
    until(|| ep.received().len() == 3).await;
    emu.delete_event("primary", &id);
    until(|| ep.received().len() == 4).await;
    // Another calendar's changes are not this channel's.
    let other = emu.add_calendar("Other", "UTC");
    emu.insert_event(&other, event("Elsewhere"));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let received = ep.received();
    assert_eq!(received.len(), 4);
    let states: Vec<(&str, &str)> = received
        .iter()
        .map(|r| {
            (
                r.headers["x-goog-resource-state"].as_str(),
                r.headers["x-goog-message-number"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("sync", "1"),
            ("exists", "2"),
            ("exists", "3"),
            ("exists", "4")
        ]
    );
    for r in &received {
        assert!(r.body.is_empty());
        assert_eq!(r.headers["x-goog-channel-id"], "chan-1");
        assert_eq!(r.headers["x-goog-channel-token"], "target=ada");
        assert_eq!(r.headers["x-goog-resource-id"], resource_id);
        assert_eq!(
            r.headers["x-goog-resource-uri"],
            channel["resourceUri"].as_str().unwrap()
        );
        let at =
            chrono::DateTime::parse_from_rfc2822(&r.headers["x-goog-channel-expiration"]).unwrap();
        assert_eq!(at.timestamp(), expiration / 1000);
    }
    let notifications = emu.notifications();
    assert_eq!(notifications.len(), 4);
    assert!(notifications
        .iter()
        .all(|n| n.status == Some(200) && n.channel_id == "chan-1" && n.address == url));

    let a = call(
        &emu,
        Method::POST,
        "channels/stop",
        &[],
        Some(json!({"id": "chan-1", "resourceId": "wrong"})),
    )
    .await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");
    let a = call(
        &emu,
        Method::POST,
        "channels/stop",
        &[],
        Some(json!({"id": "chan-1", "resourceId": resource_id})),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(emu.stop_calls(), 1);
    assert!(emu.channels().is_empty());
    emu.insert_event("primary", event("Three"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ep.received().len(), 4);
    let a = call(
        &emu,
        Method::POST,
        "channels/stop",
        &[],
        Some(json!({"id": "chan-1", "resourceId": resource_id})),
    )
    .await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");
}

#[tokio::test]
async fn refused_notifications_are_retried_and_expired_channels_are_quiet() {
    let emu = empty().await;
    let (ep, url) = endpoint(&[500, 503]).await;
    watch(
        &emu,
        "primary",
        json!({"id": "chan-r", "type": "web_hook", "address": url}),
    )
    .await;
    until(|| ep.received().len() == 3).await;
    // The emulator records an attempt once answered, just after the endpoint saw it.
    until(|| emu.notifications().len() == 3).await;
    let attempts: Vec<(String, u64, Option<u16>)> = emu
        .notifications()
        .into_iter()
        .map(|n| (n.state, n.message_number, n.status))
        .collect();
    assert_eq!(
        attempts,
        [
            ("sync".into(), 1, Some(500)),
            ("sync".into(), 1, Some(503)),
            ("sync".into(), 1, Some(200))
        ]
    );
    assert!(!ep.received()[0]
        .headers
        .contains_key("x-goog-channel-token"));

    emu.set_channel_expiration("chan-r", chrono::Utc::now().timestamp_millis() - 1);
    emu.insert_event("primary", event("Unheard"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ep.received().len(), 3);
}

#[tokio::test]
async fn a_removed_calendar_sends_not_exists_and_bad_watches_are_refused() {
    let emu = empty().await;
    let (ep, url) = endpoint(&[]).await;
    let team = emu.add_calendar("Team", "Europe/Berlin");
    watch(
        &emu,
        &team,
        json!({"id": "chan-t", "type": "web_hook", "address": url}),
    )
    .await;
    until(|| ep.received().len() == 1).await;
    assert!(emu.remove_calendar(&team));
    until(|| ep.received().len() == 2).await;
    let last = &ep.received()[1];
    assert_eq!(last.headers["x-goog-resource-state"], "not_exists");
    assert_eq!(last.headers["x-goog-message-number"], "2");
    assert!(emu.channels().is_empty());

    let path = "calendars/primary/events/watch";
    let cases = [
        (
            json!({"id": "c1", "type": "email", "address": url}),
            "invalid",
        ),
        (json!({"id": "c1", "type": "web_hook"}), "required"),
        (json!({"type": "web_hook", "address": url}), "required"),
        (
            json!({"id": "c1", "type": "web_hook", "address": "not a url"}),
            "invalid",
        ),
    ];
    for (body, reason) in cases {
        let a = call(&emu, Method::POST, path, &[], Some(body)).await;
        assert_google_error(&a, 400, reason, "INVALID_ARGUMENT");
    }
    watch(
        &emu,
        "primary",
        json!({"id": "c1", "type": "web_hook", "address": url}),
    )
    .await;
    let a = call(
        &emu,
        Method::POST,
        path,
        &[],
        Some(json!({"id": "c1", "type": "web_hook", "address": url})),
    )
    .await;
    assert_google_error(&a, 400, "channelIdNotUnique", "INVALID_ARGUMENT");
    let a = call(
        &emu,
        Method::POST,
        "calendars/nobody@example.com/events/watch",
        &[],
        Some(json!({"id": "c2", "type": "web_hook", "address": url})),
    )
    .await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");
    assert_eq!(emu.watch_calls(), 2);
}
