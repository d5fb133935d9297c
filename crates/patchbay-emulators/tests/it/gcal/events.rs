//! Writes: insert with Meet creation, checks on times and ids, patch and RSVP, update,
//! delete, quickAdd, the builder API and generated events.

use super::{all_pages, assert_google_error, call, demo, empty, ok, send, ADA};
use patchbay_emulators::gcal::{self, GcalConfig};
use reqwest::Method;
use serde_json::json;

const EVENTS: &str = "calendars/primary/events";

#[tokio::test]
async fn insert_with_conference_data_version_1_creates_a_meet() {
    let emu = empty().await;
    let body = json!({
        "summary": "Kick-off",
        "start": {"dateTime": "2027-03-02T09:00:00Z", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2027-03-02T10:00:00Z", "timeZone": "Europe/Berlin"},
        "conferenceData": {"createRequest": {"requestId": "req-1",
                           "conferenceSolutionKey": {"type": "hangoutsMeet"}}},
    });
    let a = call(
        &emu,
        Method::POST,
        EVENTS,
        &[("conferenceDataVersion", "1"), ("sendUpdates", "all")],
        Some(body.clone()),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let event = a.json();
    // Stored in the zone it names.
    assert_eq!(event["start"]["dateTime"], "2027-03-02T10:00:00+01:00");
    let data = &event["conferenceData"];
    let code = data["conferenceId"].as_str().unwrap();
    assert!(
        code.len() == 12 && code.split('-').map(str::len).collect::<Vec<_>>() == [3, 4, 3],
        "{code}"
    );
    let uri = format!("https://meet.google.com/{code}");
    assert_eq!(data["entryPoints"][0]["entryPointType"], "video");
    assert_eq!(data["entryPoints"][0]["uri"], uri.as_str());
    assert_eq!(
        data["entryPoints"][0]["label"],
        format!("meet.google.com/{code}")
    );
    assert_eq!(data["conferenceSolution"]["key"]["type"], "hangoutsMeet");
    assert_eq!(data["conferenceSolution"]["name"], "Google Meet");
    assert_eq!(data["createRequest"]["requestId"], "req-1");
    assert_eq!(data["createRequest"]["status"]["statusCode"], "success");
    assert_eq!(event["hangoutLink"], uri.as_str());

    // Without the version the request is ignored, as Google does.
    let plain = send(&emu, Method::POST, EVENTS, body.clone()).await;
    assert!(plain.get("conferenceData").is_none() && plain.get("hangoutLink").is_none());
    let mut other = body;
    other["conferenceData"]["createRequest"]["conferenceSolutionKey"]["type"] =
        "eventHangout".into();
    let a = call(
        &emu,
        Method::POST,
        EVENTS,
        &[("conferenceDataVersion", "1")],
        Some(other),
    )
    .await;
    assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
}

#[tokio::test]
async fn inserts_are_checked_like_google_checks_them() {
    let emu = empty().await;
    let start = json!({"dateTime": "2027-03-02T09:00:00+01:00"});
    let cases = [
        (json!({"start": start}), "required", "Missing end time."),
        (
            json!({"start": start, "end": {"dateTime": "2027-03-02T08:00:00+01:00"}}),
            "timeRangeEmpty",
            "The specified time range is empty.",
        ),
        (
            json!({"start": start, "end": {"date": "2027-03-03"}}),
            "invalid",
            "Start and end times must either both be date or both be dateTime.",
        ),
        (
            json!({"start": {"date": "2027-03-02"}, "end": {"date": "2027-03-02"}}),
            "timeRangeEmpty",
            "The specified time range is empty.",
        ),
        (
            json!({"start": start, "end": start, "recurrence": ["RRULE:FREQ=SOMETIMES"]}),
            "invalid",
            "Invalid recurrence rule.",
        ),
        (
            json!({"start": {"dateTime": "2027-03-02T09:00:00", "timeZone": "Mars/Olympus"}, "end": start}),
            "invalid",
            "Invalid time zone definition for start time.",
        ),
        (
            json!({"id": "NOT_BASE32", "start": start, "end": start}),
            "invalid",
            "Invalid resource id value.",
        ),
    ];
    for (body, reason, message) in cases {
        let a = call(&emu, Method::POST, EVENTS, &[], Some(body)).await;
        assert_google_error(&a, 400, reason, "INVALID_ARGUMENT");
        assert_eq!(a.json()["error"]["message"], message);
    }
    let body = json!({"id": "event0001a", "start": start, "end": start});
    assert_eq!(
        send(&emu, Method::POST, EVENTS, body.clone()).await["id"],
        "event0001a"
    );
    let a = call(&emu, Method::POST, EVENTS, &[], Some(body)).await;
    assert_google_error(&a, 409, "duplicate", "ALREADY_EXISTS");
    let a = call(
        &emu,
        Method::POST,
        "calendars/primary/events",
        &[("conferenceDataVersion", "2")],
        Some(json!({})),
    )
    .await;
    assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
}

#[tokio::test]
async fn rsvp_is_a_patch_of_the_attendees() {
    let emu = demo().await;
    let weekly = emu.event_id_by_summary("primary", "Weekly sync").unwrap();
    let path = format!("{EVENTS}/{weekly}");
    let event = ok(&emu, &path, &[]).await;
    let mut attendees = event["attendees"].as_array().unwrap().clone();
    let statuses: Vec<&str> = attendees
        .iter()
        .map(|a| a["responseStatus"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "accepted",
            "tentative",
            "needsAction",
            "declined"
        ]
    );
    assert_eq!(attendees[0]["self"], true);
    assert_eq!(attendees[0]["organizer"], true);
    assert!(attendees[1].get("self").is_none());
    for a in attendees.iter_mut().filter(|a| a["email"] == ADA) {
        a["responseStatus"] = "declined".into();
        a["comment"] = "Travelling".into();
    }
    let patched = send(&emu, Method::PATCH, &path, json!({"attendees": attendees})).await;
    assert_eq!(patched["attendees"][0]["responseStatus"], "declined");
    assert_eq!(patched["attendees"][0]["comment"], "Travelling");
    assert_eq!(
        patched["summary"], "Weekly sync",
        "a patch keeps the other fields"
    );
    assert_eq!(patched["sequence"], 0, "an RSVP does not move the event");
    assert_ne!(patched["etag"], event["etag"]);
    assert!(patched["updated"].as_str().unwrap() > event["updated"].as_str().unwrap());
    let a = call(
        &emu,
        Method::PATCH,
        &path,
        &[],
        Some(json!({"attendees": [{"email": "x@example.com", "responseStatus": "maybe"}]})),
    )
    .await;
    assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
}

#[tokio::test]
async fn update_replaces_and_delete_cancels() {
    let emu = empty().await;
    let body = json!({"summary": "Draft", "description": "to go",
                      "start": {"date": "2027-03-10"}, "end": {"date": "2027-03-11"}});
    let id = send(&emu, Method::POST, EVENTS, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{EVENTS}/{id}");
    let replaced = send(
        &emu,
        Method::PUT,
        &path,
        json!({"summary": "Final",
        "start": {"date": "2027-03-11"}, "end": {"date": "2027-03-12"}}),
    )
    .await;
    assert_eq!(replaced["summary"], "Final");
    assert!(
        replaced.get("description").is_none(),
        "PUT replaces the whole event"
    );
    assert_eq!(replaced["sequence"], 1);
    assert_eq!(replaced["created"], ok(&emu, &path, &[]).await["created"]);
    let a = call(
        &emu,
        Method::PUT,
        &path,
        &[],
        Some(json!({"summary": "No times"})),
    )
    .await;
    assert_google_error(&a, 400, "required", "INVALID_ARGUMENT");
    // Patching start from a date to a time swaps the field.
    let timed = send(
        &emu,
        Method::PATCH,
        &path,
        json!({
        "start": {"dateTime": "2027-03-11T09:00:00+01:00"},
        "end": {"dateTime": "2027-03-11T10:00:00+01:00"}}),
    )
    .await;
    assert!(timed["start"].get("date").is_none(), "{timed}");

    assert_eq!(
        call(&emu, Method::DELETE, &path, &[], None).await.status,
        204
    );
    assert_eq!(ok(&emu, &path, &[]).await["status"], "cancelled");
    let a = call(&emu, Method::DELETE, &path, &[], None).await;
    assert_google_error(&a, 410, "deleted", "GONE");
    let (items, _, _) = all_pages(&emu, EVENTS, &[]).await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn quick_add_reads_the_summary_day_and_time() {
    let emu = demo().await;
    let path = "calendars/primary/events/quickAdd";
    let a = call(
        &emu,
        Method::POST,
        path,
        &[("text", "Lunch with Zoë tomorrow at 12pm")],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let event = a.json();
    assert_eq!(event["summary"], "Lunch with Zoë");
    assert_eq!(
        event["start"],
        json!({"dateTime": "2027-03-02T12:00:00+01:00", "timeZone": "Europe/Berlin"})
    );
    assert_eq!(event["end"]["dateTime"], "2027-03-02T13:00:00+01:00");
    assert_eq!(
        ok(
            &emu,
            &format!("{EVENTS}/{}", event["id"].as_str().unwrap()),
            &[]
        )
        .await,
        event
    );

    let a = call(
        &emu,
        Method::POST,
        path,
        &[("text", "Dinner at Luigi's friday 7:30pm-10pm")],
        None,
    )
    .await;
    let dinner = a.json();
    assert_eq!(dinner["location"], "Luigi's");
    assert_eq!(dinner["start"]["dateTime"], "2027-03-05T19:30:00+01:00");
    assert_eq!(dinner["end"]["dateTime"], "2027-03-05T22:00:00+01:00");
    let a = call(
        &emu,
        Method::POST,
        path,
        &[("text", "Pay rent March 31")],
        None,
    )
    .await;
    assert_eq!(a.json()["start"], json!({"date": "2027-03-31"}));
    assert_eq!(a.json()["end"], json!({"date": "2027-04-01"}));
    let a = call(&emu, Method::POST, path, &[], None).await;
    assert_google_error(&a, 400, "required", "INVALID_ARGUMENT");
}

#[tokio::test]
async fn the_builder_api_writes_like_a_client() {
    let emu = empty().await;
    let team = emu.add_calendar("Side project", "America/New_York");
    let id = emu.insert_event(
        &team,
        json!({"summary": "Hack night",
        "start": {"dateTime": "2027-03-04T18:00:00"}, "end": {"dateTime": "2027-03-04T21:00:00"}}),
    );
    // A time without offset is read in the calendar's zone.
    let event = emu.event(&team, &id).unwrap();
    assert_eq!(event["start"]["dateTime"], "2027-03-04T18:00:00-05:00");
    assert_eq!(event["organizer"]["email"], team.as_str());
    assert!(emu.update_event(&team, &id, json!({"summary": "Hack night!"})));
    assert!(!emu.update_event(&team, "unknown00", json!({})));
    assert_eq!(emu.event(&team, &id).unwrap()["summary"], "Hack night!");
    assert!(emu.delete_event(&team, &id));
    assert!(!emu.delete_event(&team, &id));
    assert_eq!(emu.event_count(&team), 1);
}

#[tokio::test]
async fn generated_events_seed_quickly_and_list() {
    let started = std::time::Instant::now();
    let emu = gcal::spawn(GcalConfig {
        generated: 20_000,
        now: Some(super::now()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emu.event_count(ADA), 20_000);
    let page = ok(&emu, EVENTS, &[("maxResults", "2500")]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2500);
    let q = [
        ("singleEvents", "true"),
        ("orderBy", "startTime"),
        ("timeMin", "2027-03-01T00:00:00Z"),
        ("timeMax", "2027-03-08T00:00:00Z"),
        ("maxResults", "2500"),
    ];
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    assert!(items.len() > 300, "{}", items.len());
    assert!(items.iter().any(|i| i.get("recurringEventId").is_some()));
}
