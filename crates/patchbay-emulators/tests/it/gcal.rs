//! The Calendar emulator over HTTP: auth and quota errors, the calendar list, event listing
//! with paging and incremental sync, recurring events across DST, writes, Meet creation,
//! quickAdd, free/busy and push channels. Requests, paging, Google's error shape, the token
//! checks and the push endpoint are shared with the Gmail tests (`google.rs`).
//!
//! The demo tests fix "now" at Monday 2027-03-01 09:00 Berlin, so the seeded week is
//! 1–5 March 2027 and the weekly series crosses the DST change of 28 March.

mod auth;
mod calendars;
mod events;
mod freebusy;
mod listing;
mod push;
mod recurrence;
mod sync;

pub use crate::google::{assert_google_error, call, get, ok};
use patchbay_emulators::gcal::{self, GcalConfig, GcalEmulator};
use reqwest::Method;
use serde_json::Value;

pub const TOKEN: &str = "gcal-emulator-token-0001";
pub const ADA: &str = "ada@example.com";

pub fn now() -> chrono::DateTime<chrono::Utc> {
    "2027-03-01T08:00:00Z".parse().unwrap()
}

pub async fn demo() -> GcalEmulator {
    let config = GcalConfig {
        seed_demo: true,
        now: Some(now()),
        ..Default::default()
    };
    gcal::spawn(config).await.unwrap()
}

pub async fn empty() -> GcalEmulator {
    let config = GcalConfig {
        now: Some(now()),
        ..Default::default()
    };
    gcal::spawn(config).await.unwrap()
}

/// A write that must succeed, as JSON (`null` for an empty answer).
pub async fn send(emu: &GcalEmulator, method: Method, path: &str, body: Value) -> Value {
    let a = call(emu, method, path, &[], Some(body)).await;
    assert!(a.status.is_success(), "{path}: {} {}", a.status, a.text);
    if a.text.is_empty() {
        Value::Null
    } else {
        a.json()
    }
}

/// Every item of a listing, following `nextPageToken`; also the number of pages and the
/// last page.
pub async fn all_pages(
    emu: &GcalEmulator,
    path: &str,
    query: &[(&str, &str)],
) -> (Vec<Value>, usize, Value) {
    let pages = crate::google::pages(emu, path, query).await;
    let (last, earlier) = pages.split_last().unwrap();
    for page in earlier {
        assert!(page.get("nextSyncToken").is_none(), "{page}");
    }
    let items = pages
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default());
    (items.collect(), pages.len(), last.clone())
}

pub fn summaries(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["summary"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `(summary, start.dateTime or start.date)` of each item.
pub fn starts(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| {
            let start = &i["start"];
            let at = start["dateTime"].as_str().or(start["date"].as_str());
            (
                i["summary"].as_str().unwrap_or_default().to_string(),
                at.unwrap_or_default().to_string(),
            )
        })
        .collect()
}
