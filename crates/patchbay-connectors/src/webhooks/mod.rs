//! Inbound webhook verification for the schemes a connector can declare ([`WebhookScheme`]).
//!
//! Every check runs over the raw body bytes as received: re-serialising JSON changes spacing
//! and key order, and with them the signature. Secrets and MACs are compared in constant time.
//! Besides [`verify`], the module extracts the provider's delivery id for deduplication
//! ([`delivery_id`]), picks the headers worth storing with an event ([`kept_headers`]) and
//! produces the headers a provider would send ([`sign`]) for tests, benches and emulators.

mod discord;
mod github;
mod google_channel;
mod pubsub;
mod routing;
mod shared_secret;
mod slack;
mod standard;
mod telegram;

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use patchbay_core::{WebhookRequest, WebhookScheme};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub use discord::discord_public_key_hex;
pub use pubsub::{bearer_token, token_key_id, verify_push, PushExpectation};
pub use routing::{handshake, route_account};

/// How far a signed timestamp may lie from now, in either direction, before the delivery is
/// refused as stale (Slack and Standard Webhooks both recommend five minutes).
pub const TIMESTAMP_TOLERANCE_SECS: u64 = 300;

/// Why an inbound webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is outside the allowed window")]
    Stale,
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("no secret is configured for this webhook")]
    NoSecret,
    #[error("the token is signed with a key the issuer does not publish")]
    UnknownKey,
    #[error("the token's {0} claim is not the expected one")]
    Claim(&'static str),
    #[error("this scheme is verified with the issuer's published keys")]
    KeysRequired,
}

/// Verifies `req` over its raw body with `secret` (for Discord: the application's public key,
/// hex) at `now` (unix seconds).
///
/// The shared-secret and Telegram schemes compare a token header with the secret and do not
/// cover the body; the other schemes sign it.
pub fn verify(
    scheme: WebhookScheme,
    req: &WebhookRequest,
    secret: &str,
    now: i64,
) -> Result<(), VerifyError> {
    if scheme == WebhookScheme::PubsubOidc {
        return Err(VerifyError::KeysRequired);
    }
    // An empty secret would make an unsigned or trivially signed request pass.
    if secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    match scheme {
        WebhookScheme::SharedSecretHeader => shared_secret::verify(req, secret),
        WebhookScheme::GithubHmacSha256 => github::verify(req, secret),
        WebhookScheme::SlackV0 => slack::verify(req, secret, now),
        WebhookScheme::TelegramSecretToken => telegram::verify(req, secret),
        WebhookScheme::DiscordEd25519 => discord::verify(req, secret),
        WebhookScheme::StandardWebhooks => standard::verify(req, secret, now),
        WebhookScheme::GoogleChannelToken => google_channel::verify(req, secret),
        WebhookScheme::PubsubOidc => Err(VerifyError::KeysRequired),
    }
}

/// The provider's delivery id used for deduplication, if the scheme/provider gives one:
/// GitHub `X-GitHub-Delivery`, Standard Webhooks `webhook-id`, Slack JSON body `event_id`
/// (Events API), Telegram JSON body `update_id` (as a string), Discord JSON body `id`, and for
/// the shared-secret scheme the `X-Patchbay-Delivery-Id` header if present, else JSON body
/// `id` or `event_id`; Pub/Sub the body's `message.messageId`; Google channels
/// `X-Goog-Channel-ID:X-Goog-Message-Number`.
pub fn delivery_id(scheme: WebhookScheme, req: &WebhookRequest) -> Option<String> {
    match scheme {
        WebhookScheme::GoogleChannelToken => google_channel::delivery_id(req),
        WebhookScheme::PubsubOidc => {
            let value: Value = serde_json::from_slice(&req.body).ok()?;
            let message = value.get("message")?;
            ["messageId", "message_id"]
                .iter()
                .find_map(|k| message.get(k)?.as_str().map(str::to_string))
        }
        WebhookScheme::GithubHmacSha256 => header_value(req, github::DELIVERY_HEADER),
        WebhookScheme::StandardWebhooks => header_value(req, standard::ID_HEADER),
        WebhookScheme::SlackV0 => body_field(&req.body, &["event_id"]),
        WebhookScheme::TelegramSecretToken => body_field(&req.body, &["update_id"]),
        WebhookScheme::DiscordEd25519 => body_field(&req.body, &["id"]),
        WebhookScheme::SharedSecretHeader => header_value(req, shared_secret::DELIVERY_HEADER)
            .or_else(|| body_field(&req.body, &["id", "event_id"])),
    }
}

/// Headers kept with a stored event, lower-cased: each scheme's signature, timestamp, id and
/// event-type headers.
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-hub-signature-256",
    "x-github-delivery",
    "x-github-event",
    "x-github-hook-id",
    "x-slack-request-timestamp",
    "x-slack-signature",
    "x-slack-retry-num",
    "x-slack-retry-reason",
    "x-signature-ed25519",
    "x-signature-timestamp",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-patchbay-delivery-id",
    "x-goog-channel-id",
    "x-goog-channel-expiration",
    "x-goog-message-number",
    "x-goog-resource-id",
    "x-goog-resource-state",
    "x-goog-resource-uri",
];

/// Headers worth keeping with a stored event (signature/timestamp/id/event-type headers of
/// each scheme, content-type, user-agent), with lower-cased names. Never `Authorization`, nor
/// the Telegram and shared-secret token headers, which carry the secret itself.
pub fn kept_headers(req: &WebhookRequest) -> BTreeMap<String, String> {
    req.headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name, value.clone()))
        .collect()
}

/// [`kept_headers`] as the JSON object stored with an event, written without building the map
/// when the names are already lower-case (as the server hands them over).
pub fn kept_headers_json(req: &WebhookRequest) -> String {
    struct Kept<'a>(&'a WebhookRequest);
    impl serde::Serialize for Kept<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(
                self.0
                    .headers
                    .iter()
                    .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str())),
            )
        }
    }
    let lower = req
        .headers
        .keys()
        .all(|k| !k.bytes().any(|b| b.is_ascii_uppercase()));
    let json = if lower {
        serde_json::to_string(&Kept(req))
    } else {
        serde_json::to_string(&kept_headers(req))
    };
    json.unwrap_or_else(|_| "{}".into())
}

/// For tests, benches and emulators: produce the headers a provider would send for `body`
/// signed with `secret` at `now`, with `id` as the delivery id where the provider sends one in a
/// header (GitHub, Standard Webhooks, shared secret).
///
/// For Discord `secret` is the signing key's 32-byte seed in hex, not the public key that
/// [`verify`] takes; [`discord_public_key_hex`] derives that from the seed.
///
/// # Panics
///
/// If `secret` cannot be used for the scheme: a Discord seed that is not 64 hex digits, or a
/// Standard Webhooks `whsec_` secret whose remainder is not base64.
pub fn sign(
    scheme: WebhookScheme,
    secret: &str,
    body: &[u8],
    now: i64,
    id: &str,
) -> Vec<(String, String)> {
    match scheme {
        WebhookScheme::SharedSecretHeader => shared_secret::sign(secret, id),
        WebhookScheme::GithubHmacSha256 => github::sign(secret, body, id),
        WebhookScheme::SlackV0 => slack::sign(secret, body, now),
        WebhookScheme::TelegramSecretToken => telegram::sign(secret),
        WebhookScheme::DiscordEd25519 => discord::sign(secret, body, now),
        WebhookScheme::StandardWebhooks => standard::sign(secret, body, now, id),
        WebhookScheme::GoogleChannelToken => google_channel::sign(secret, id),
        // The "secret" is the token itself, signed by the caller.
        WebhookScheme::PubsubOidc => vec![("Authorization".into(), format!("Bearer {secret}"))],
    }
}

fn required<'a>(req: &'a WebhookRequest, name: &'static str) -> Result<&'a str, VerifyError> {
    req.header(name).ok_or(VerifyError::MissingHeader(name))
}

/// Refuses a timestamp too far in the past (a replay) or the future (a clock that cannot be
/// trusted), before any MAC is computed.
fn check_fresh(timestamp: &str, header: &'static str, now: i64) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| VerifyError::Malformed(header))?;
    if now.abs_diff(ts) > TIMESTAMP_TOLERANCE_SECS {
        return Err(VerifyError::Stale);
    }
    Ok(())
}

/// HMAC-SHA256 of the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let pairs = s.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

fn header_value(req: &WebhookRequest, name: &str) -> Option<String> {
    req.header(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The first of `keys` present in a JSON object body, as a string; `None` for bodies that are
/// not JSON (Slack slash commands and interactivity arrive form-encoded).
fn body_field(body: &[u8], keys: &[&str]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    keys.iter().find_map(|key| match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
fn request(headers: Vec<(String, String)>, body: &[u8]) -> WebhookRequest {
    WebhookRequest {
        headers: headers.into_iter().collect(),
        body: body.to_vec(),
    }
}

#[cfg(test)]
fn request_with(pairs: &[(&str, &str)], body: &[u8]) -> WebhookRequest {
    request(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [WebhookScheme; 6] = [
        WebhookScheme::SharedSecretHeader,
        WebhookScheme::GithubHmacSha256,
        WebhookScheme::SlackV0,
        WebhookScheme::TelegramSecretToken,
        WebhookScheme::DiscordEd25519,
        WebhookScheme::StandardWebhooks,
    ];
    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"id":"evt_1","event_id":"Ev01","update_id":42,"n": 1}"#;
    // RFC 8032 section 7.1, tests 1 and 2: two valid Ed25519 seeds.
    const SEED_A: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const SEED_B: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

    /// (secret handed to `sign`, secret handed to `verify`)
    fn keys(scheme: WebhookScheme, alternate: bool) -> (String, String) {
        match (scheme, alternate) {
            (WebhookScheme::DiscordEd25519, false) => {
                (SEED_A.into(), discord_public_key_hex(SEED_A))
            }
            (WebhookScheme::DiscordEd25519, true) => {
                (SEED_B.into(), discord_public_key_hex(SEED_B))
            }
            (WebhookScheme::StandardWebhooks, false) => {
                let s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
                (s.clone(), s)
            }
            (WebhookScheme::StandardWebhooks, true) => {
                let s = "whsec_c2Vjb25kLXN0YW5kYXJkLXdlYmhvb2sta2V5".to_string();
                (s.clone(), s)
            }
            (_, false) => ("first-secret".into(), "first-secret".into()),
            (_, true) => ("second-secret".into(), "second-secret".into()),
        }
    }

    fn signed(scheme: WebhookScheme, body: &[u8]) -> WebhookRequest {
        let (signing, _) = keys(scheme, false);
        request(sign(scheme, &signing, body, NOW, "dlv-1"), body)
    }

    #[test]
    fn sign_then_verify_round_trips_for_every_scheme() {
        for scheme in ALL {
            let (_, verifying) = keys(scheme, false);
            let req = signed(scheme, BODY);
            assert_eq!(verify(scheme, &req, &verifying, NOW), Ok(()), "{scheme:?}");
        }
    }

    #[test]
    fn wrong_secret_fails_for_every_scheme() {
        for scheme in ALL {
            let (_, other) = keys(scheme, true);
            let req = signed(scheme, BODY);
            assert!(verify(scheme, &req, &other, NOW).is_err(), "{scheme:?}");
        }
    }

    #[test]
    fn one_altered_body_byte_fails_for_every_body_signing_scheme() {
        for scheme in ALL {
            let (_, verifying) = keys(scheme, false);
            let mut req = signed(scheme, BODY);
            req.body[BODY.len() - 2] ^= 0x01;
            let result = verify(scheme, &req, &verifying, NOW);
            match scheme {
                // Token schemes authenticate the sender only; the body is not covered.
                WebhookScheme::SharedSecretHeader | WebhookScheme::TelegramSecretToken => {
                    assert_eq!(result, Ok(()), "{scheme:?}")
                }
                _ => assert_eq!(result, Err(VerifyError::BadSignature), "{scheme:?}"),
            }
        }
    }

    #[test]
    fn empty_secret_is_refused_for_every_scheme() {
        for scheme in ALL {
            let req = signed(scheme, BODY);
            assert_eq!(
                verify(scheme, &req, "", NOW),
                Err(VerifyError::NoSecret),
                "{scheme:?}"
            );
        }
    }

    #[test]
    fn unsigned_request_reports_a_missing_header_for_every_scheme() {
        for scheme in ALL {
            let (_, verifying) = keys(scheme, false);
            let req = request(Vec::new(), BODY);
            assert!(
                matches!(
                    verify(scheme, &req, &verifying, NOW),
                    Err(VerifyError::MissingHeader(_))
                ),
                "{scheme:?}"
            );
        }
    }

    #[test]
    fn header_names_match_case_insensitively() {
        for scheme in ALL {
            let (signing, verifying) = keys(scheme, false);
            let headers = sign(scheme, &signing, BODY, NOW, "dlv-1")
                .into_iter()
                .map(|(k, v)| (k.to_ascii_uppercase(), v))
                .collect();
            let req = request(headers, BODY);
            assert_eq!(verify(scheme, &req, &verifying, NOW), Ok(()), "{scheme:?}");
        }
    }

    #[test]
    fn delivery_ids_per_scheme() {
        let expected = [
            (WebhookScheme::SharedSecretHeader, "dlv-1"),
            (WebhookScheme::GithubHmacSha256, "dlv-1"),
            (WebhookScheme::SlackV0, "Ev01"),
            (WebhookScheme::TelegramSecretToken, "42"),
            (WebhookScheme::DiscordEd25519, "evt_1"),
            (WebhookScheme::StandardWebhooks, "dlv-1"),
        ];
        for (scheme, id) in expected {
            let req = signed(scheme, BODY);
            assert_eq!(delivery_id(scheme, &req).as_deref(), Some(id), "{scheme:?}");
        }
    }

    #[test]
    fn delivery_id_is_none_when_the_provider_gives_none() {
        let bare = request(Vec::new(), b"token=abc&command=%2Fdeploy");
        for scheme in ALL {
            assert_eq!(delivery_id(scheme, &bare), None, "{scheme:?}");
        }
        let empty = request_with(&[("X-GitHub-Delivery", "")], b"{}");
        assert_eq!(delivery_id(WebhookScheme::GithubHmacSha256, &empty), None);
    }

    #[test]
    fn shared_secret_delivery_id_prefers_the_header_then_id_then_event_id() {
        let scheme = WebhookScheme::SharedSecretHeader;
        let both = br#"{"id":"body-id","event_id":"body-event"}"#;
        let with_header = request_with(&[("x-patchbay-delivery-id", "hdr-id")], both);
        assert_eq!(delivery_id(scheme, &with_header).as_deref(), Some("hdr-id"));
        let body_only = request(Vec::new(), both);
        assert_eq!(delivery_id(scheme, &body_only).as_deref(), Some("body-id"));
        let event_only = request(Vec::new(), br#"{"event_id":7}"#);
        assert_eq!(delivery_id(scheme, &event_only).as_deref(), Some("7"));
    }

    #[test]
    fn kept_headers_keeps_signature_headers_and_drops_credentials() {
        let req = request_with(
            &[
                ("Authorization", "Bearer t0ken"),
                ("authorization", "Basic abc"),
                ("Cookie", "session=1"),
                ("X-Telegram-Bot-Api-Secret-Token", "first-secret"),
                ("X-Patchbay-Integration-Secret", "first-secret"),
                ("X-Forwarded-For", "10.0.0.1"),
                ("Content-Type", "application/json"),
                ("User-Agent", "GitHub-Hookshot/abc"),
                ("X-GitHub-Event", "push"),
                ("X-GitHub-Delivery", "dlv-1"),
                ("X-Hub-Signature-256", "sha256=00"),
                ("X-Slack-Signature", "v0=00"),
                ("X-Slack-Request-Timestamp", "1"),
                ("X-Signature-Ed25519", "00"),
                ("X-Signature-Timestamp", "1"),
                ("webhook-id", "msg_1"),
                ("Webhook-Timestamp", "1"),
                ("webhook-signature", "v1,AA=="),
                ("X-Patchbay-Delivery-Id", "d-1"),
            ],
            b"{}",
        );
        let kept = kept_headers(&req);
        let names: Vec<&str> = kept.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "user-agent",
                "webhook-id",
                "webhook-signature",
                "webhook-timestamp",
                "x-github-delivery",
                "x-github-event",
                "x-hub-signature-256",
                "x-patchbay-delivery-id",
                "x-signature-ed25519",
                "x-signature-timestamp",
                "x-slack-request-timestamp",
                "x-slack-signature",
            ]
        );
        assert_eq!(kept["x-github-event"], "push");
        assert!(kept.values().all(|v| v != "first-secret"));
        // The stored JSON says the same, whether the names arrive mixed-case (from a caller)
        // or lower-case (from the server), and never carries a secret.
        let lower = WebhookRequest {
            headers: req
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body: req.body.clone(),
        };
        for r in [&req, &lower] {
            let json = kept_headers_json(r);
            let parsed: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
            assert_eq!(parsed, kept, "{json}");
            assert!(!json.contains("first-secret"));
        }
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let bytes = [0x00, 0x7f, 0x80, 0xff, 0x1a];
        assert_eq!(hex_encode(&bytes), "007f80ff1a");
        assert_eq!(hex_decode("007F80ff1A").as_deref(), Some(&bytes[..]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_decode("+1"), None);
    }

    #[test]
    fn freshness_window_is_inclusive_in_both_directions() {
        let limit = TIMESTAMP_TOLERANCE_SECS as i64;
        for ts in [NOW - limit, NOW, NOW + limit] {
            assert_eq!(check_fresh(&ts.to_string(), "t", NOW), Ok(()));
        }
        for ts in [NOW - limit - 1, NOW + limit + 1, i64::MIN, i64::MAX] {
            assert_eq!(
                check_fresh(&ts.to_string(), "t", NOW),
                Err(VerifyError::Stale)
            );
        }
        assert_eq!(
            check_fresh("soon", "t", NOW),
            Err(VerifyError::Malformed("t"))
        );
    }
}
