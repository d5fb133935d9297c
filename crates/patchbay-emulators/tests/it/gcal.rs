//! The Calendar emulator over HTTP: auth and quota errors, the calendar list, event listing
//! with paging and incremental sync, recurring events across DST, writes, Meet creation,
//! quickAdd, free/busy and push channels.
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

use crate::{http, Answer};
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

/// A request to `/calendar/v3/{path}`.
pub async fn call(
    emu: &GcalEmulator,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let url = format!("{}/calendar/v3/{path}", emu.base_url);
    let mut req = http().request(method, url).query(query).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    Answer::from(req.send().await.unwrap()).await
}

pub async fn get(emu: &GcalEmulator, path: &str, query: &[(&str, &str)]) -> Answer {
    call(emu, Method::GET, path, query, None).await
}

/// `get` that must succeed, as JSON.
pub async fn ok(emu: &GcalEmulator, path: &str, query: &[(&str, &str)]) -> Value {
    let a = get(emu, path, query).await;
    assert_eq!(a.status, 200, "{path}: {}", a.text);
    a.json()
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
    let (mut items, mut pages, mut token) = (Vec::new(), 0, None::<String>);
    loop {
        let mut q = query.to_vec();
        if let Some(t) = &token {
            q.push(("pageToken", t));
        }
        let page = ok(emu, path, &q).await;
        pages += 1;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["nextPageToken"].as_str() {
            Some(next) => {
                assert!(page.get("nextSyncToken").is_none(), "{page}");
                token = Some(next.to_string());
            }
            None => return (items, pages, page),
        }
    }
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

/// Asserts Google's error shape.
#[track_caller]
pub fn assert_google_error(a: &Answer, code: u16, reason: &str, status: &str) {
    assert_eq!(a.status.as_u16(), code, "{}", a.text);
    let error = &a.json()["error"];
    assert_eq!(error["code"], code, "{}", a.text);
    assert_eq!(error["status"], status, "{}", a.text);
    assert_eq!(error["errors"][0]["reason"], reason, "{}", a.text);
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        a.text
    );
}
