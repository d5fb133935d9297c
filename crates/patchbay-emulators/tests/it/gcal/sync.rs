//! Incremental sync: tokens from the last page, changes and cancellations since, refused
//! combinations, and 410 for expired or unknown tokens.

use super::{all_pages, assert_google_error, demo, get, ok, send, summaries};
use reqwest::Method;
use serde_json::json;

const EVENTS: &str = "calendars/primary/events";

async fn full_sync(emu: &patchbay_emulators::GcalEmulator) -> String {
    let (_, _, last) = all_pages(emu, EVENTS, &[("maxResults", "4")]).await;
    last["nextSyncToken"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn incremental_sync_returns_changes_and_cancellations() {
    let emu = demo().await;
    let token = full_sync(&emu).await;
    let quiet = ok(&emu, EVENTS, &[("syncToken", &token)]).await;
    assert_eq!(quiet["items"], json!([]));
    assert!(quiet["nextSyncToken"].is_string());

    let body = json!({"summary": "Coffee", "start": {"dateTime": "2027-03-08T15:00:00+01:00"},
                      "end": {"dateTime": "2027-03-08T15:30:00+01:00"}});
    let coffee = send(&emu, Method::POST, EVENTS, body).await;
    let coffee_id = coffee["id"].as_str().unwrap();
    let lunch = emu
        .event_id_by_summary("primary", "Lunch with Zoë")
        .unwrap();
    send(
        &emu,
        Method::PATCH,
        &format!("{EVENTS}/{lunch}"),
        json!({"location": "Borchardt"}),
    )
    .await;
    let release = emu.event_id_by_summary("primary", "Release night").unwrap();
    let a = super::call(
        &emu,
        Method::DELETE,
        &format!("{EVENTS}/{release}"),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 204);
    assert!(a.text.is_empty());

    let (changed, _, last) =
        all_pages(&emu, EVENTS, &[("syncToken", &token), ("maxResults", "2")]).await;
    let mut got = summaries(&changed);
    got.sort();
    assert_eq!(got, ["Coffee", "Lunch with Zoë", "Release night"]);
    let cancelled = changed
        .iter()
        .find(|i| i["id"] == release.as_str())
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let patched = changed.iter().find(|i| i["id"] == lunch.as_str()).unwrap();
    assert_eq!(patched["location"], "Borchardt");
    assert!(changed.iter().any(|i| i["id"] == coffee_id));

    let next = last["nextSyncToken"].as_str().unwrap().to_string();
    assert_eq!(
        ok(&emu, EVENTS, &[("syncToken", &next)]).await["items"],
        json!([])
    );
    // The builder API's writes show up too, and deleting an instance of a series syncs as
    // a cancelled exception.
    let weekly = emu.event_id_by_summary("primary", "Weekly sync").unwrap();
    let instance = format!("{weekly}_20270309T090000Z");
    assert!(emu.delete_event("primary", &instance));
    let changed = ok(&emu, EVENTS, &[("syncToken", &next)]).await;
    assert_eq!(
        changed["items"],
        json!([{
            "kind": "calendar#event",
            "etag": changed["items"][0]["etag"],
            "id": instance,
            "status": "cancelled",
            "recurringEventId": weekly,
            "originalStartTime": {"dateTime": "2027-03-09T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        }])
    );
}

#[tokio::test]
async fn changes_made_while_paging_come_with_the_next_sync() {
    let emu = demo().await;
    let first = ok(&emu, EVENTS, &[("maxResults", "2")]).await;
    let token = first["nextPageToken"].as_str().unwrap().to_string();
    emu.insert_event(
        "primary",
        json!({"summary": "Late arrival", "start": {"date": "2027-02-01"}, "end": {"date": "2027-02-02"}}),
    );
    let mut token = Some(token);
    let mut sync = None;
    while let Some(t) = token.take() {
        let page = ok(&emu, EVENTS, &[("maxResults", "2"), ("pageToken", &t)]).await;
        token = page["nextPageToken"].as_str().map(str::to_string);
        sync = page["nextSyncToken"].as_str().map(str::to_string);
    }
    let changed = ok(&emu, EVENTS, &[("syncToken", &sync.unwrap())]).await;
    assert_eq!(
        summaries(changed["items"].as_array().unwrap()),
        ["Late arrival"]
    );
}

#[tokio::test]
async fn sync_tokens_refuse_filters_and_expire_with_410() {
    let emu = demo().await;
    let token = full_sync(&emu).await;
    for (name, value) in [
        ("timeMin", "2027-03-01T00:00:00Z"),
        ("timeMax", "2027-03-01T00:00:00Z"),
        ("q", "standup"),
        ("orderBy", "updated"),
    ] {
        let a = get(&emu, EVENTS, &[("syncToken", &token), (name, value)]).await;
        assert_google_error(&a, 400, "invalid", "INVALID_ARGUMENT");
    }
    // singleEvents and showDeleted may come with a sync token.
    let a = get(
        &emu,
        EVENTS,
        &[("syncToken", &token), ("singleEvents", "true")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);

    emu.expire_sync_tokens();
    let expected = json!({"error": {
        "code": 410,
        "message": "Sync token is no longer valid, a full sync is required.",
        "errors": [{"domain": "global", "reason": "fullSyncRequired",
                    "message": "Sync token is no longer valid, a full sync is required."}],
        "status": "GONE",
    }});
    let a = get(&emu, EVENTS, &[("syncToken", &token)]).await;
    assert_eq!(a.status, 410);
    assert_eq!(a.json(), expected);
    let a = get(&emu, EVENTS, &[("syncToken", "not-a-token")]).await;
    assert_eq!(a.json(), expected);
    // A token of another calendar is not valid here.
    let fresh = full_sync(&emu).await;
    let team = emu
        .calendar_ids()
        .into_iter()
        .find(|c| c != super::ADA)
        .unwrap();
    let a = get(
        &emu,
        &format!("calendars/{team}/events"),
        &[("syncToken", &fresh)],
    )
    .await;
    assert_eq!(a.status, 410);
    assert_eq!(
        ok(&emu, EVENTS, &[("syncToken", &fresh)]).await["items"],
        json!([])
    );
}
