//! The Gmail emulator over HTTP: auth and quota errors, listing and search, message formats,
//! sending and threading, label changes, labels, drafts, history, watch and its Pub/Sub
//! pushes, generated mail. Requests, paging, Google's error shape, the token checks and the
//! push endpoint are shared with the Calendar tests (`google.rs`).

mod auth;
mod history;
mod mailbox;
mod messages;
mod push;
mod sending;

pub use crate::google::{assert_google_error, call, get, ok};
use crate::Answer;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use patchbay_emulators::gmail::{self, GmailConfig, GmailEmulator};
use reqwest::Method;
use serde_json::Value;

pub const TOKEN: &str = "gmail-emulator-token-0001";

pub async fn demo() -> GmailEmulator {
    let config = GmailConfig {
        seed_demo: true,
        ..Default::default()
    };
    gmail::spawn(config).await.unwrap()
}

pub async fn empty() -> GmailEmulator {
    gmail::spawn(GmailConfig::default()).await.unwrap()
}

pub async fn post(emu: &GmailEmulator, path: &str, body: Value) -> Answer {
    call(emu, Method::POST, path, &[], Some(body)).await
}

/// Ids of every listed message (or thread, or draft), following `nextPageToken`; also the
/// number of pages.
pub async fn all_ids(
    emu: &GmailEmulator,
    path: &str,
    query: &[(&str, &str)],
) -> (Vec<String>, usize) {
    let field = path.split('?').next().unwrap();
    let pages = crate::google::pages(emu, path, query).await;
    let items = pages
        .iter()
        .flat_map(|p| p[field].as_array().into_iter().flatten());
    let ids = items.map(|item| item["id"].as_str().unwrap().to_string());
    (ids.collect(), pages.len())
}

/// Ids of messages matching `q`.
pub async fn search(emu: &GmailEmulator, q: &str) -> Vec<String> {
    all_ids(emu, "messages", &[("q", q)]).await.0
}

pub fn b64(data: &[u8]) -> String {
    URL_SAFE.encode(data)
}

/// Decodes Gmail's base64url, padded or not.
pub fn unb64(data: &Value) -> Vec<u8> {
    let s = data.as_str().unwrap().trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

pub fn header(part: &Value, name: &str) -> Option<String> {
    let headers = part["headers"].as_array()?;
    let found = headers.iter().find(|h| {
        h["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    found.map(|h| h["value"].as_str().unwrap().to_string())
}

/// Every part of a payload, depth first.
pub fn parts(part: &Value) -> Vec<&Value> {
    let mut out = vec![part];
    for child in part["parts"].as_array().into_iter().flatten() {
        out.extend(parts(child));
    }
    out
}

pub fn labels(message: &Value) -> Vec<String> {
    let labels = message["labelIds"].as_array().cloned().unwrap_or_default();
    labels
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// A raw message as a client would build it.
pub fn raw_mail(to: &str, subject: &str, text: &str, extra: &str) -> Vec<u8> {
    let head = format!("To: {to}\r\nSubject: {subject}\r\n{extra}");
    format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").into_bytes()
}
