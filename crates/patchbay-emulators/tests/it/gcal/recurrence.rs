//! Recurring events: expansion across DST, EXDATE, RDATE, UNTIL, moved and cancelled
//! instances, the instances endpoint, and writes to single instances.

use super::{all_pages, assert_google_error, demo, get, ok, send, starts};
use reqwest::Method;
use serde_json::{json, Value};

const EVENTS: &str = "calendars/primary/events";

fn window(from: &'static str, to: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("singleEvents", "true"),
        ("orderBy", "startTime"),
        ("timeMin", from),
        ("timeMax", to),
    ]
}

fn named<'a>(items: &'a [Value], summary: &str) -> Vec<&'a Value> {
    items.iter().filter(|i| i["summary"] == summary).collect()
}

#[tokio::test]
async fn weekly_instances_keep_their_wall_clock_time_across_dst() {
    let emu = demo().await;
    let weekly = emu.event_id_by_summary("primary", "Weekly sync").unwrap();
    let q = window("2027-03-20T00:00:00Z", "2027-04-10T00:00:00Z");
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    let instances = named(&items, "Weekly sync");
    let times: Vec<(&str, &str)> = instances
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap(),
                i["start"]["dateTime"].as_str().unwrap(),
            )
        })
        .collect();
    // Berlin moves to summer time on 28 March 2027: same 10:00, one hour less in UTC.
    assert_eq!(
        times,
        [
            (
                format!("{weekly}_20270323T090000Z").as_str(),
                "2027-03-23T10:00:00+01:00"
            ),
            (
                format!("{weekly}_20270330T080000Z").as_str(),
                "2027-03-30T10:00:00+02:00"
            ),
            (
                format!("{weekly}_20270406T080000Z").as_str(),
                "2027-04-06T10:00:00+02:00"
            ),
        ]
    );
    let after = instances[1];
    assert_eq!(after["end"]["dateTime"], "2027-03-30T11:00:00+02:00");
    assert_eq!(after["start"]["timeZone"], "Europe/Berlin");
    assert_eq!(after["recurringEventId"], weekly.as_str());
    assert_eq!(
        after["originalStartTime"],
        json!({"dateTime": "2027-03-30T10:00:00+02:00", "timeZone": "Europe/Berlin"})
    );
    assert!(after.get("recurrence").is_none());
    assert_eq!(after["attendees"].as_array().unwrap().len(), 5);
    // An instance can be fetched by its id.
    let got = ok(&emu, &format!("{EVENTS}/{weekly}_20270330T080000Z"), &[]).await;
    assert_eq!(got["start"], after["start"]);
    let a = get(&emu, &format!("{EVENTS}/{weekly}_20270330T090000Z"), &[]).await;
    assert_google_error(&a, 404, "notFound", "NOT_FOUND");
    // The timeZone parameter renders the same instants in another zone.
    let in_utc = ok(
        &emu,
        &format!("{EVENTS}/{weekly}_20270330T080000Z"),
        &[("timeZone", "UTC")],
    )
    .await;
    assert_eq!(in_utc["start"]["dateTime"], "2027-03-30T08:00:00Z");
}

#[tokio::test]
async fn exdate_moved_and_cancelled_instances() {
    let emu = demo().await;
    let standup = emu.event_id_by_summary("primary", "Daily standup").unwrap();
    let q = window("2027-03-01T00:00:00+01:00", "2027-03-06T00:00:00+01:00");
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    let days: Vec<(String, String)> = starts(
        &named(&items, "Daily standup")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>(),
    );
    let days: Vec<&str> = days.iter().map(|(_, t)| t.as_str()).collect();
    // Wednesday is an EXDATE; Thursday's instance moved to 11:00.
    assert_eq!(
        days,
        [
            "2027-03-01T09:30:00+01:00",
            "2027-03-02T09:30:00+01:00",
            "2027-03-04T11:00:00+01:00",
            "2027-03-05T09:30:00+01:00",
        ]
    );
    let moved = named(&items, "Daily standup")[2];
    assert_eq!(moved["id"], format!("{standup}_20270304T083000Z"));
    assert_eq!(
        moved["originalStartTime"]["dateTime"],
        "2027-03-04T09:30:00+01:00"
    );
    assert_eq!(moved["recurringEventId"], standup.as_str());

    // The D+15 weekly sync is cancelled: missing, unless deleted events are asked for.
    let weekly = emu.event_id_by_summary("primary", "Weekly sync").unwrap();
    let q = window("2027-03-15T00:00:00Z", "2027-03-20T00:00:00Z");
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    assert!(named(&items, "Weekly sync").is_empty());
    let mut q = q;
    q.push(("showDeleted", "true"));
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    let cancelled = items
        .iter()
        .find(|i| i["id"] == format!("{weekly}_20270316T090000Z"))
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["recurringEventId"], weekly.as_str());
}

#[tokio::test]
async fn rdate_until_and_all_day_series() {
    let emu = demo().await;
    let team = emu
        .calendar_ids()
        .into_iter()
        .find(|c| c != super::ADA)
        .unwrap();
    let path = format!("calendars/{team}/events");
    let q = window("2027-03-01T00:00:00Z", "2027-05-01T00:00:00Z");
    let (items, _, _) = all_pages(&emu, &path, &q).await;
    let planning: Vec<String> = starts(
        &named(&items, "Sprint planning")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .map(|(_, t)| t)
    .collect();
    assert_eq!(
        planning,
        [
            "2027-03-01T10:00:00+01:00",
            "2027-03-15T10:00:00+01:00",
            "2027-03-25T10:00:00+01:00",
            "2027-03-29T10:00:00+02:00",
            "2027-04-12T10:00:00+02:00",
            "2027-04-26T10:00:00+02:00",
        ]
    );
    // UNTIL=20270402 includes the second of April.
    let handovers = named(&items, "On-call handover");
    assert_eq!(handovers.len(), 5);
    assert_eq!(
        handovers[4]["start"]["dateTime"],
        "2027-04-02T17:00:00+02:00"
    );

    let q = window("2027-01-01T00:00:00Z", "2029-01-01T00:00:00Z");
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    let birthdays = named(&items, "Ada's birthday");
    let dates: Vec<&Value> = birthdays.iter().map(|b| &b["start"]["date"]).collect();
    assert_eq!(dates, [&json!("2027-12-10"), &json!("2028-12-10")]);
    let id = birthdays[0]["id"].as_str().unwrap();
    assert!(id.ends_with("_20271210"), "{id}");
    assert_eq!(birthdays[0]["end"]["date"], "2027-12-11");
}

#[tokio::test]
async fn the_instances_endpoint_pages_and_filters() {
    let emu = demo().await;
    let weekly = emu.event_id_by_summary("primary", "Weekly sync").unwrap();
    let path = format!("{EVENTS}/{weekly}/instances");
    let q = [
        ("timeMin", "2027-02-01T00:00:00Z"),
        ("timeMax", "2027-04-01T00:00:00Z"),
        ("maxResults", "2"),
    ];
    let (items, pages, _) = all_pages(&emu, &path, &q).await;
    assert_eq!(pages, 3);
    let days: Vec<&str> = items
        .iter()
        .map(|i| &i["start"]["dateTime"].as_str().unwrap()[..10])
        .collect();
    assert_eq!(
        days,
        [
            "2027-02-16",
            "2027-02-23",
            "2027-03-02",
            "2027-03-09",
            "2027-03-23",
            "2027-03-30"
        ]
    );
    let mut q = q.to_vec();
    q.push(("showDeleted", "true"));
    let (items, _, _) = all_pages(&emu, &path, &q).await;
    assert_eq!(items.len(), 7);
    let one = ok(
        &emu,
        &path,
        &[("originalStart", "2027-03-30T10:00:00+02:00")],
    )
    .await;
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    assert_eq!(one["items"][0]["id"], format!("{weekly}_20270330T080000Z"));
}

#[tokio::test]
async fn writing_an_instance_makes_an_exception_and_deleting_the_series_cancels_all() {
    let emu = demo().await;
    let weekly = emu.event_id_by_summary("primary", "Weekly sync").unwrap();
    let instance = format!("{weekly}_20270323T090000Z");
    let patched = send(
        &emu,
        Method::PATCH,
        &format!("{EVENTS}/{instance}"),
        json!({"summary": "Weekly sync (long)", "end": {"dateTime": "2027-03-23T12:00:00+01:00"}}),
    )
    .await;
    assert_eq!(patched["id"], instance.as_str());
    assert_eq!(patched["recurringEventId"], weekly.as_str());
    assert_eq!(patched["start"]["dateTime"], "2027-03-23T10:00:00+01:00");
    assert_eq!(patched["end"]["dateTime"], "2027-03-23T12:00:00+01:00");
    assert_eq!(patched["sequence"], 1);
    let q = window("2027-03-22T00:00:00Z", "2027-03-24T00:00:00Z");
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    assert_eq!(named(&items, "Weekly sync (long)").len(), 1);
    assert!(named(&items, "Weekly sync").is_empty());

    let a = super::call(
        &emu,
        Method::DELETE,
        &format!("{EVENTS}/{weekly}"),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 204);
    let q = window("2027-03-01T00:00:00Z", "2027-06-01T00:00:00Z");
    let (items, _, _) = all_pages(&emu, EVENTS, &q).await;
    assert!(items.iter().all(|i| !i["summary"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Weekly")));
    let a = get(&emu, &format!("{EVENTS}/{weekly}/instances"), &[]).await;
    assert_google_error(&a, 410, "deleted", "GONE");
    assert_eq!(
        emu.event(super::ADA, &instance).unwrap()["status"],
        "cancelled"
    );
}
