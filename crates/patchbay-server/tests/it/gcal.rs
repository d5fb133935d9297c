//! Google Calendar through the API: connected with Google OAuth against the OAuth emulator,
//! calling the Calendar emulator (seeded relative to this week): sync with sync tokens and
//! their expiry, actions, available slots, push channels, signals and data endpoints.

use crate::{both_backends, TestApp};
use patchbay_emulators::gcal::{self, GcalConfig, GcalEmulator};
use patchbay_emulators::oauth2::OAuthEmulator;
use patchbay_engine::sync::jobs::RunOutcome;
use patchbay_store::testing::TestBackend;
use serde_json::{json, Value};

both_backends!(
    calendar_syncs_series_and_follows_changes,
    calendar_actions_write_through_google,
    calendar_push_signals_and_data
);

const ME: &str = "ada@example.com";

struct Setup {
    _oauth: OAuthEmulator,
    cal: GcalEmulator,
    app: TestApp,
    key: String,
    id: String,
}

async fn connected(backend: TestBackend) -> Setup {
    let oauth = crate::google_oauth(ME).await;
    let cal = gcal::spawn(GcalConfig {
        seed_demo: true,
        ..Default::default()
    })
    .await
    .unwrap();
    cal.accept_oauth_tokens(&oauth);
    let (app, key, id) =
        crate::google_connected(backend, "google-calendar", &oauth, &cal.base_url, "").await;
    Setup {
        _oauth: oauth,
        cal,
        app,
        key,
        id,
    }
}

async fn sync(s: &Setup, mode: &str, entities: &[&str]) -> Value {
    crate::sync_now(&s.app, &s.key, &s.id, mode, entities).await
}

async fn records(s: &Setup, entity: &str) -> Vec<Value> {
    crate::records_of(&s.app, &s.key, &s.id, entity).await
}

fn by_summary<'a>(events: &'a [Value], summary: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["data"]["summary"] == summary)
        .collect()
}

/// Runs an action; a success answers with its result, a failure with the error body.
async fn action(s: &Setup, name: &str, input: Value) -> (u16, Value) {
    let (status, body) = s
        .app
        .post(
            &format!("/v1/connections/{}/actions/{name}", s.id),
            &s.key,
            input,
        )
        .await;
    match status {
        200 => (status, body["result"].clone()),
        _ => (status, body),
    }
}

async fn calendar_syncs_series_and_follows_changes(backend: TestBackend) {
    let s = connected(backend).await;
    let run = sync(&s, "full", &["calendars", "events"]).await;
    assert!(run["added"].as_i64().unwrap() > 10, "{run}");
    let calendars = records(&s, "calendars").await;
    assert_eq!(calendars.len(), s.cal.calendar_ids().len(), "{calendars:?}");
    let events = records(&s, "events").await;
    // The weekly meeting is one series record with its rule, not one record per week.
    let weekly = by_summary(&events, "Weekly sync");
    let series: Vec<_> = weekly
        .iter()
        .filter(|e| e["data"]["recurrence"].is_array())
        .collect();
    assert_eq!(series.len(), 1, "{weekly:?}");
    assert!(series[0]["id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{ME}:")));
    // Its cancelled occurrence stays, marked (Google sends it bare: id, series, original
    // start); the deleted single event is gone.
    let series_id = &series[0]["data"]["id"];
    assert!(
        events
            .iter()
            .any(|e| e["data"]["status"] == "cancelled"
                && &e["data"]["recurringEventId"] == series_id),
        "{events:?}"
    );
    assert!(by_summary(&events, "Old planning session").is_empty());
    let standup = by_summary(&events, "Daily standup");
    assert!(
        standup
            .iter()
            .any(|e| e["data"]["originalStartTime"].is_object()
                && e["data"]["status"] != "cancelled"),
        "the moved instance is its own record: {standup:?}"
    );

    // Changes at Google: one added, one changed, one deleted.
    let added = s.cal.insert_event(
        ME,
        json!({"summary": "Dentist", "start": {"dateTime": "2027-01-12T08:00:00+01:00"},
               "end": {"dateTime": "2027-01-12T09:00:00+01:00"}}),
    );
    let lunch = s.cal.event_id_by_summary(ME, "Lunch with Zoë").unwrap();
    assert!(s
        .cal
        .update_event(ME, &lunch, json!({"location": "Café Einstein"})));
    let pitch = s.cal.event_id_by_summary(ME, "Design review").unwrap();
    assert!(s.cal.delete_event(ME, &pitch));
    let run = sync(&s, "incremental", &["events"]).await;
    assert_eq!(
        (
            run["added"].as_i64(),
            run["updated"].as_i64(),
            run["deleted"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{run}"
    );
    let events = records(&s, "events").await;
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(ids.contains(&format!("{ME}:{added}").as_str()), "{ids:?}");
    assert!(!ids.contains(&format!("{ME}:{pitch}").as_str()));
    assert_eq!(
        by_summary(&events, "Lunch with Zoë")[0]["data"]["location"],
        "Café Einstein"
    );

    // Google forgot the tokens: each calendar is listed again, and the run says so.
    s.cal.expire_sync_tokens();
    s.cal.insert_event(
        ME,
        json!({"summary": "After expiry", "start": {"dateTime": "2027-01-13T08:00:00+01:00"},
               "end": {"dateTime": "2027-01-13T09:00:00+01:00"}}),
    );
    let run = sync(&s, "incremental", &["events"]).await;
    assert_eq!(run["added"], 1, "{run}");
    assert!(
        run["notes"][0]
            .as_str()
            .unwrap()
            .contains("no longer accepts the sync token"),
        "{run}"
    );
    let run = sync(&s, "incremental", &["events"]).await;
    assert_eq!(
        (run["added"].as_i64(), run["notes"].as_array().map(Vec::len)),
        (Some(0), Some(0)),
        "tokens again: {run}"
    );
}

async fn calendar_actions_write_through_google(backend: TestBackend) {
    let s = connected(backend).await;
    let (st, made) = action(
        &s,
        "create_event",
        json!({"summary": "Planning", "start": {"date_time": "2027-02-02T10:00:00+01:00", "time_zone": "Europe/Berlin"},
               "end": {"date_time": "2027-02-02T11:00:00+01:00", "time_zone": "Europe/Berlin"},
               "attendees": [{"email": "zoe@example.com"}], "conference": "meet",
               "reminders": [{"method": "popup", "minutes": 10}],
               "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]}),
    )
    .await;
    assert_eq!(st, 200, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    assert!(made["hangoutLink"]
        .as_str()
        .unwrap()
        .starts_with("https://meet.google.com/"));
    let stored = s.cal.event(ME, &id).unwrap();
    assert_eq!(stored["recurrence"][0], "RRULE:FREQ=WEEKLY;COUNT=4");
    assert_eq!(stored["attendees"][0]["email"], "zoe@example.com");
    let (st, _) = action(
        &s,
        "update_event",
        json!({"event_id": id, "summary": "Planning (moved)"}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(s.cal.event(ME, &id).unwrap()["summary"], "Planning (moved)");
    assert_eq!(
        s.cal.event(ME, &id).unwrap()["attendees"][0]["email"],
        "zoe@example.com",
        "a patch keeps what it does not name"
    );

    // RSVP: the account's answer changes, nobody else's.
    let pitch = s.cal.event_id_by_summary(ME, "Vendor pitch").unwrap();
    let before = s.cal.event(ME, &pitch).unwrap()["attendees"].clone();
    let (st, answer) = action(
        &s,
        "rsvp",
        json!({"event_id": pitch, "response": "accepted", "comment": "See you there"}),
    )
    .await;
    assert_eq!(st, 200, "{answer}");
    let after = s.cal.event(ME, &pitch).unwrap()["attendees"].clone();
    for (b, a) in before
        .as_array()
        .unwrap()
        .iter()
        .zip(after.as_array().unwrap())
    {
        if a["email"] == ME {
            assert_eq!(a["responseStatus"], "accepted");
            assert_eq!(a["comment"], "See you there");
        } else {
            assert_eq!(a["responseStatus"], b["responseStatus"], "{a}");
        }
    }

    let (st, quick) = action(
        &s,
        "quick_add",
        json!({"text": "Lunch with Zoë tomorrow at 12pm"}),
    )
    .await;
    assert_eq!(st, 200, "{quick}");
    assert!(
        quick["summary"].as_str().unwrap().contains("Lunch"),
        "{quick}"
    );

    // Free/busy, and slots that never meet a busy block.
    let now = chrono::Utc::now();
    let (from, to) = (
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        (now + chrono::Duration::days(14)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let (st, fb) = action(
        &s,
        "free_busy",
        json!({"time_min": from, "time_max": to, "calendar_ids": [ME]}),
    )
    .await;
    assert_eq!(st, 200, "{fb}");
    let busy: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = fb["calendars"]
        [ME]["busy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().parse().unwrap(),
                b["end"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(!busy.is_empty(), "{fb}");
    let (st, slots) = action(
        &s,
        "available_slots",
        json!({"duration_minutes": 30, "time_zone": "Europe/Berlin", "horizon_days": 14,
               "tentative_busy": true, "buffer_before_minutes": 0, "buffer_after_minutes": 0}),
    )
    .await;
    assert_eq!(st, 200, "{slots}");
    assert_eq!(slots["time_zone"], "Europe/Berlin");
    let list = slots["slots"].as_array().unwrap();
    assert!(!list.is_empty(), "{slots}");
    for slot in list {
        let start: chrono::DateTime<chrono::Utc> = slot["start"].as_str().unwrap().parse().unwrap();
        let end: chrono::DateTime<chrono::Utc> = slot["end"].as_str().unwrap().parse().unwrap();
        assert_eq!((end - start).num_minutes(), 30);
        assert!(
            busy.iter().all(|(bs, be)| end <= *bs || start >= *be),
            "slot {slot} meets a busy block"
        );
    }

    // Bad input: a field-level 422, and nothing written.
    let count = s.cal.event_count(ME);
    let (st, err) = action(
        &s,
        "create_event",
        json!({"start": {"date": "2027-02-03"}, "end": {"date_time": "2027-02-03T10:00:00Z"}}),
    )
    .await;
    assert_eq!(st, 422, "{err}");
    let (st, err) = action(
        &s,
        "create_event",
        json!({"start": {"date": "2027-02-03"}, "end": {"date": "2027-02-04"},
               "attendees": [{"email": "not an address"}]}),
    )
    .await;
    assert_eq!(st, 422, "{err}");
    assert!(err.to_string().contains("attendees[0].email"), "{err}");
    let (st, err) = action(
        &s,
        "available_slots",
        json!({"duration_minutes": 30, "time_zone": "Mars/Olympus"}),
    )
    .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(s.cal.event_count(ME), count);

    // Two people: Grace's calendar (another connection, another account's API) blocks a
    // morning; only slots free for both are offered.
    let grace = gcal::spawn(GcalConfig {
        email: "grace@example.com".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    grace.accept_oauth_tokens(&s._oauth);
    let grace_id = crate::oauth_connect_as(
        &s.app,
        &s.key,
        &s._oauth,
        "google-calendar",
        "https://app.example/connected",
        "grace",
    )
    .await;
    let (st, body) = s
        .app
        .patch(
            &format!("/v1/connections/{grace_id}"),
            &s.key,
            json!({"config": {"base_url": grace.base_url}}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let day = (now + chrono::Duration::days(1))
        .with_timezone(&berlin)
        .date_naive();
    let day = (0..7)
        .map(|n| day + chrono::Duration::days(n))
        .find(|d| chrono::Datelike::weekday(d).number_from_monday() <= 5)
        .unwrap();
    let at = |h: u32| {
        chrono::TimeZone::from_local_datetime(&berlin, &day.and_hms_opt(h, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let (gs, ge) = (at(9), at(12));
    grace.insert_event(
        "grace@example.com",
        json!({"summary": "Grace's workshop", "start": {"dateTime": gs.to_rfc3339()},
               "end": {"dateTime": ge.to_rfc3339()}}),
    );
    let input = json!({"duration_minutes": 30, "time_zone": "Europe/Berlin", "horizon_days": 14,
                       "max_slots": 1000});
    let mut both = input.clone();
    both["connection_ids"] = json!([s.id, grace_id]);
    let (st, shared) = s.app.post("/v1/available-slots", &s.key, both).await;
    assert_eq!(st, 200, "{shared}");
    let (_, ada_only) = action(&s, "available_slots", input).await;
    let ada: Vec<&Value> = ada_only["slots"].as_array().unwrap().iter().collect();
    let shared = shared["slots"].as_array().unwrap();
    assert!(
        !shared.is_empty() && shared.len() < ada.len(),
        "{} of {}",
        shared.len(),
        ada.len()
    );
    for slot in shared {
        assert!(ada.contains(&slot), "{slot} is free for Ada");
        let start: chrono::DateTime<chrono::Utc> = slot["start"].as_str().unwrap().parse().unwrap();
        let end: chrono::DateTime<chrono::Utc> = slot["end"].as_str().unwrap().parse().unwrap();
        assert!(end <= gs || start >= ge, "{slot} meets Grace's workshop");
    }
    let (st, err) = s
        .app
        .post(
            "/v1/available-slots",
            &s.key,
            json!({"duration_minutes": 30, "connection_ids": [s.id]}),
        )
        .await;
    assert_eq!(st, 422, "a zone is required across people: {err}");

    let (st, _) = action(&s, "delete_event", json!({"event_id": id})).await;
    assert_eq!(st, 200);
    assert_eq!(s.cal.event(ME, &id).unwrap()["status"], "cancelled");
}

async fn calendar_push_signals_and_data(backend: TestBackend) {
    let s = connected(backend).await;
    sync(&s, "full", &["events"]).await;
    let (st, body) = s
        .app
        .patch(
            &format!("/v1/connections/{}", s.id),
            &s.key,
            json!({"config": {"push": true}}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(s.app.engine.watches().renew_due_once().await.unwrap(), 1);
    let channels = s.cal.channels();
    assert_eq!(channels.len(), s.cal.calendar_ids().len(), "{channels:?}");
    let token = channels[0].token.clone().expect("a channel token");
    assert!(channels
        .iter()
        .all(|c| c.token.as_deref() == Some(token.as_str())));
    // The token is a sealed secret: the API shows a hint at most.
    let (_, conn) = s
        .app
        .get(&format!("/v1/connections/{}", s.id), &s.key)
        .await;
    assert!(!conn.to_string().contains(&token), "{conn}");

    // A change at Google arrives as a notification and syncs.
    let added = s.cal.insert_event(
        ME,
        json!({"summary": "Pushed", "start": {"dateTime": "2027-01-20T08:00:00+01:00"},
               "end": {"dateTime": "2027-01-20T09:00:00+01:00"}}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s
        .cal
        .notifications()
        .iter()
        .any(|n| n.state == "exists" && n.status == Some(202))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            s.cal.notifications()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        s.cal
            .notifications()
            .iter()
            .any(|n| n.state == "sync" && matches!(n.status, Some(200..=299))),
        "the channel's first message is acknowledged: {:?}",
        s.cal.notifications()
    );
    while s
        .app
        .engine
        .webhooks()
        .process_webhooks_once(50)
        .await
        .unwrap()
        > 0
    {}
    while let RunOutcome::Ran { .. } = s.app.engine.syncs().try_run_one("w").await.unwrap() {}
    let events = records(&s, "events").await;
    assert!(
        events.iter().any(|e| e["id"] == format!("{ME}:{added}")),
        "the pushed change synced"
    );

    // A notification with another token is refused and not stored.
    let forged = s
        .app
        .client
        .post(format!(
            "{}/v1/webhooks/google-calendar/{}",
            s.app.base, s.id
        ))
        .header("X-Goog-Channel-ID", &channels[0].id)
        .header("X-Goog-Channel-Token", "not-the-token-at-all")
        .header("X-Goog-Message-Number", "999")
        .header("X-Goog-Resource-State", "exists")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);

    // Signals and data from the live calendar.
    let (st, answer) = s.app.get("/v1/signals?owner_id=ada", &s.key).await;
    assert_eq!(st, 200, "{answer}");
    for signal in answer["signals"].as_array().unwrap() {
        assert_eq!(signal["kind"], "event", "{signal}");
        assert!(signal["due"].is_string(), "{signal}");
    }
    for (endpoint, shape) in [
        ("next_event", "stat"),
        ("today", "list"),
        ("week_busy", "gauge"),
    ] {
        let (st, data) = s
            .app
            .get(&format!("/v1/connections/{}/data/{endpoint}", s.id), &s.key)
            .await;
        assert_eq!(st, 200, "{endpoint}: {data}");
        assert_eq!(data["shape"], shape, "{data}");
    }
    let (_, gauge) = s
        .app
        .get(&format!("/v1/connections/{}/data/week_busy", s.id), &s.key)
        .await;
    assert_eq!(gauge["data"]["max"], 40.0, "{gauge}");
    assert!(gauge["data"]["value"].as_f64().unwrap() > 0.0, "{gauge}");

    // Disconnecting stops every channel.
    let (st, _) = s
        .app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{}", s.id),
            &s.key,
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(s.cal.stop_calls(), channels.len());
}
