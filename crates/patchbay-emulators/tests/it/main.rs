//! Integration tests for the emulators, over real HTTP.

mod gcal;
mod github;
mod gmail;
mod google;
mod oauth2;
mod openai_compat;
mod records;
mod slack;
mod todoist;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A client that leaves redirects to the test.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub async fn from(response: reqwest::Response) -> Self {
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    /// Asserts an RFC 6749 5.2 error answer.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.json()["error"], error, "{}", self.text);
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce(seed: &str) -> (String, String) {
    let verifier = format!("{seed}-verifier-0123456789-abcdefghijklmnopqrstuvwxyz");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An `Authorization: Basic` value, form-encoding id and secret first (RFC 6749 2.3.1).
pub fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let raw = format!("{}:{}", encode(id), encode(secret));
    format!("Basic {}", STANDARD.encode(raw))
}

/// The value of `name` in a URL's query.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let mut bytes = v.bytes();
            while let Some(b) = bytes.next() {
                if b == b'%' {
                    let hex: String = [bytes.next().unwrap(), bytes.next().unwrap()]
                        .iter()
                        .map(|&b| b as char)
                        .collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                } else {
                    out.push(b);
                }
            }
            String::from_utf8(out).unwrap()
        })
    })
}
