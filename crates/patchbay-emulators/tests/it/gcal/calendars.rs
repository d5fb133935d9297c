//! The calendar list (paging, sync, deleted entries) and calendars.get.

use super::{all_pages, demo, ok, ADA};
use serde_json::Value;

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_calendar_list_pages_primary_first() {
    let emu = demo().await;
    let path = "users/me/calendarList";
    let (items, pages, last) = all_pages(&emu, path, &[("maxResults", "1")]).await;
    assert_eq!(pages, 2);
    assert_eq!(last["kind"], "calendar#calendarList");
    assert!(last["nextSyncToken"].is_string());
    let primary = &items[0];
    assert_eq!(primary["id"], ADA);
    assert_eq!(primary["primary"], true);
    assert_eq!(primary["summary"], ADA);
    assert_eq!(primary["timeZone"], "Europe/Berlin");
    assert_eq!(primary["accessRole"], "owner");
    assert_eq!(primary["kind"], "calendar#calendarListEntry");
    assert_eq!(primary["selected"], true);
    assert!(primary["etag"].as_str().unwrap().starts_with('"'));
    assert!(primary["backgroundColor"]
        .as_str()
        .unwrap()
        .starts_with('#'));
    let team = &items[1];
    assert_eq!(team["summary"], "Team");
    assert!(team.get("primary").is_none());
    assert!(team["id"]
        .as_str()
        .unwrap()
        .ends_with("@group.calendar.google.com"));
    assert_eq!(team["description"], "Shared calendar of the platform team");

    let entry = ok(&emu, "users/me/calendarList/primary", &[]).await;
    assert_eq!(&entry, primary);
    let calendar = ok(&emu, "calendars/primary", &[]).await;
    assert_eq!(calendar["kind"], "calendar#calendar");
    assert_eq!(calendar["id"], ADA);
    assert_eq!(calendar["timeZone"], "Europe/Berlin");
    let by_id = ok(
        &emu,
        &format!("calendars/{}", team["id"].as_str().unwrap()),
        &[],
    )
    .await;
    assert_eq!(by_id["summary"], "Team");
}

#[tokio::test]
async fn the_calendar_list_syncs_added_and_removed_calendars() {
    let emu = demo().await;
    let path = "users/me/calendarList";
    let (_, _, last) = all_pages(&emu, path, &[]).await;
    let token = last["nextSyncToken"].as_str().unwrap().to_string();
    let quiet = ok(&emu, path, &[("syncToken", &token)]).await;
    assert_eq!(quiet["items"], serde_json::json!([]));

    let added = emu.add_calendar("Holidays", "America/New_York");
    let changed = ok(&emu, path, &[("syncToken", &token)]).await;
    assert_eq!(
        ids(changed["items"].as_array().unwrap()),
        vec![added.clone()]
    );
    assert_eq!(changed["items"][0]["timeZone"], "America/New_York");
    let token = changed["nextSyncToken"].as_str().unwrap().to_string();

    assert!(emu.remove_calendar(&added));
    assert!(!emu.remove_calendar(ADA), "the primary calendar stays");
    let changed = ok(&emu, path, &[("syncToken", &token)]).await;
    assert_eq!(changed["items"][0]["id"], added.as_str());
    assert_eq!(changed["items"][0]["deleted"], true);
    let (live, _, _) = all_pages(&emu, path, &[]).await;
    assert!(!ids(&live).contains(&added));
    let (all, _, _) = all_pages(&emu, path, &[("showDeleted", "true")]).await;
    assert!(ids(&all).contains(&added));
    assert_eq!(emu.calendar_ids().len(), 2);

    emu.expire_sync_tokens();
    let a = super::get(&emu, path, &[("syncToken", &token)]).await;
    super::assert_google_error(&a, 410, "fullSyncRequired", "GONE");
}
