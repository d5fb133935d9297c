//! events.list: paging to the end, ordering, windows, search and deleted events.

use super::{all_pages, assert_google_error, demo, get, ok, starts, summaries, ADA};
use std::collections::HashSet;

const EVENTS: &str = "calendars/primary/events";
const WEEK: [(&str, &str); 2] = [
    ("timeMin", "2027-03-01T00:00:00+01:00"),
    ("timeMax", "2027-03-06T00:00:00+01:00"),
];

#[tokio::test]
async fn single_events_page_to_the_end_in_start_order() {
    let emu = demo().await;
    let mut query = vec![
        ("singleEvents", "true"),
        ("orderBy", "startTime"),
        ("maxResults", "3"),
    ];
    query.extend(WEEK);
    let (items, pages, last) = all_pages(&emu, EVENTS, &query).await;
    assert_eq!(pages, 4);
    assert!(last["nextSyncToken"].is_string(), "{last}");
    assert_eq!(last["kind"], "calendar#events");
    assert_eq!(last["timeZone"], "Europe/Berlin");
    assert_eq!(last["accessRole"], "owner");
    let ids: HashSet<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), items.len(), "no event twice");
    assert_eq!(
        starts(&items),
        [
            ("Daily standup", "2027-03-01T09:30:00+01:00"),
            ("Lunch with Zoë", "2027-03-01T12:30:00+01:00"),
            ("Focus time", "2027-03-02T08:00:00+01:00"),
            ("Daily standup", "2027-03-02T09:30:00+01:00"),
            ("Weekly sync", "2027-03-02T10:00:00+01:00"),
            ("Design review", "2027-03-02T14:00:00+01:00"),
            ("Call with NYC office", "2027-03-03T10:00:00-05:00"),
            ("1:1 with Grace", "2027-03-03T16:15:00+01:00"),
            ("Daily standup", "2027-03-04T11:00:00+01:00"),
            ("Vendor pitch", "2027-03-04T15:00:00+01:00"),
            ("Daily standup", "2027-03-05T09:30:00+01:00"),
            ("Release night", "2027-03-05T22:00:00+01:00"),
        ]
        .map(|(s, t)| (s.to_string(), t.to_string()))
    );
    let nyc = items
        .iter()
        .find(|i| i["summary"] == "Call with NYC office")
        .unwrap();
    assert_eq!(nyc["start"]["timeZone"], "America/New_York");
    let night = items
        .iter()
        .find(|i| i["summary"] == "Release night")
        .unwrap();
    assert_eq!(night["end"]["dateTime"], "2027-03-06T02:00:00+01:00");
    assert_eq!(night["organizer"]["email"], ADA);
    assert_eq!(night["organizer"]["self"], true);
    assert_eq!(night["creator"]["email"], ADA);
    assert_eq!(night["kind"], "calendar#event");
    assert_eq!(night["eventType"], "default");
    assert_eq!(night["status"], "confirmed");
    let id = night["id"].as_str().unwrap();
    assert_eq!(night["iCalUID"], format!("{id}@google.com"));
    assert!(night["htmlLink"]
        .as_str()
        .unwrap()
        .starts_with("https://www.google.com/calendar/event?eid="));
}

#[tokio::test]
async fn order_by_start_time_needs_single_events_and_max_results_is_bounded() {
    let emu = demo().await;
    let a = get(&emu, EVENTS, &[("orderBy", "startTime")]).await;
    assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
    assert_eq!(a.json()["error"]["errors"][0]["location"], "orderBy");
    let a = get(&emu, EVENTS, &[("maxResults", "0")]).await;
    assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
    let a = get(&emu, EVENTS, &[("timeMin", "yesterday")]).await;
    assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
    let a = get(
        &emu,
        EVENTS,
        &[
            ("timeMin", "2027-03-02T00:00:00Z"),
            ("timeMax", "2027-03-01T00:00:00Z"),
        ],
    )
    .await;
    assert_google_error(&a, 400, "timeRangeEmpty", "INVALID_ARGUMENT");
    // Larger pages are capped at 2500, not refused.
    let page = ok(&emu, EVENTS, &[("maxResults", "100000")]).await;
    assert!(page["nextSyncToken"].is_string());
}

#[tokio::test]
async fn windows_search_and_deleted_events() {
    let emu = demo().await;
    // Without singleEvents a series is one item, with its recurrence.
    let (items, _, _) = all_pages(&emu, EVENTS, &WEEK).await;
    let standups: Vec<_> = items
        .iter()
        .filter(|i| i["summary"] == "Daily standup")
        .collect();
    assert_eq!(standups.len(), 2, "the series and its moved instance");
    let series = standups
        .iter()
        .find(|i| i.get("recurrence").is_some())
        .unwrap();
    assert_eq!(
        series["recurrence"][0],
        "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"
    );
    assert!(series["recurrence"][1]
        .as_str()
        .unwrap()
        .starts_with("EXDATE;TZID=Europe/Berlin:"));
    let moved = standups
        .iter()
        .find(|i| i.get("recurringEventId").is_some())
        .unwrap();
    assert_eq!(moved["recurringEventId"], series["id"]);
    assert!(!summaries(&items).contains(&"Old planning session".to_string()));

    let mut q = vec![("q", "zoë"), ("singleEvents", "true")];
    q.extend(WEEK);
    let (found, _, _) = all_pages(&emu, EVENTS, &q).await;
    // Zoë is an attendee of the weekly sync and of lunch.
    assert_eq!(summaries(&found), ["Lunch with Zoë", "Weekly sync"]);
    let (found, _, _) = all_pages(
        &emu,
        EVENTS,
        &[("q", "babbage STATUS"), ("singleEvents", "true")],
    )
    .await;
    assert!(found.iter().all(|i| i["summary"] == "Weekly sync") && !found.is_empty());

    let (deleted, _, _) = all_pages(&emu, EVENTS, &[("showDeleted", "true")]).await;
    let old = deleted
        .iter()
        .find(|i| i["summary"] == "Old planning session")
        .unwrap();
    assert_eq!(old["status"], "cancelled");
    let team = emu.calendar_ids().into_iter().find(|c| c != ADA).unwrap();
    let (team_items, _, last) = all_pages(&emu, &format!("calendars/{team}/events"), &[]).await;
    assert_eq!(last["summary"], "Team");
    assert_eq!(team_items.len(), 4);
    assert_eq!(team_items[0]["organizer"]["email"], team.as_str());
}
