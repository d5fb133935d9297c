//! What a verified delivery asks of the receiver before it is stored: handshakes that must be
//! answered in the response (Discord PING, Slack URL verification), and the provider account a
//! payload-routed delivery belongs to (GitHub App `installation.id`, Slack `team_id`).

use patchbay_core::WebhookScheme;
use serde_json::{json, Value};

/// The answer to a handshake delivery, or `None` for an ordinary event. Handshakes are
/// answered only after the delivery verified, and they are not stored: nothing happened at the
/// provider.
pub fn handshake(scheme: WebhookScheme, body: &[u8]) -> Option<Value> {
    // Only these schemes have handshakes; every other delivery skips the parse.
    if !matches!(
        scheme,
        WebhookScheme::DiscordEd25519 | WebhookScheme::SlackV0
    ) {
        return None;
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    match scheme {
        // Interaction type 1 is PING; Discord expects `{"type": 1}` (PONG).
        WebhookScheme::DiscordEd25519 => {
            (value.get("type").and_then(Value::as_u64) == Some(1)).then(|| json!({"type": 1}))
        }
        // The Events API confirms a request URL by asking for its challenge back.
        WebhookScheme::SlackV0 => {
            if value.get("type").and_then(Value::as_str) != Some("url_verification") {
                return None;
            }
            let challenge = value.get("challenge").and_then(Value::as_str)?;
            Some(json!({"challenge": challenge}))
        }
        _ => None,
    }
}

/// JSON Pointers to the provider account in payload-routed deliveries, tried in order.
fn route_pointers(scheme: Option<WebhookScheme>) -> &'static [&'static str] {
    const GITHUB: &[&str] = &["/installation/id"];
    const SLACK: &[&str] = &["/team_id", "/team/id", "/authorizations/0/team_id"];
    const ANY: &[&str] = &[
        "/installation/id",
        "/team_id",
        "/team/id",
        "/authorizations/0/team_id",
    ];
    match scheme {
        Some(WebhookScheme::GithubHmacSha256) => GITHUB,
        Some(WebhookScheme::SlackV0) => SLACK,
        None => ANY,
        Some(_) => &[],
    }
}

/// The provider account a delivery is for, read from its payload: GitHub App deliveries carry
/// `installation.id`, Slack Events API deliveries `team_id`, Slack interactivity a form field
/// `payload` holding JSON with `team.id`, and slash commands a form field `team_id`. `scheme`
/// `None` tries every known place.
pub fn route_account(scheme: Option<WebhookScheme>, body: &[u8]) -> Option<String> {
    let pointers = route_pointers(scheme);
    if pointers.is_empty() {
        return None;
    }
    let from_json = |value: &Value| {
        pointers.iter().find_map(|p| match value.pointer(p)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return from_json(&value);
    }
    // Slack sends slash commands and interactivity form-encoded.
    let mut payload = None;
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "team_id" if !value.is_empty() => return Some(value.into_owned()),
            "payload" => payload = serde_json::from_str::<Value>(&value).ok(),
            _ => {}
        }
    }
    payload.as_ref().and_then(from_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discord_ping_is_answered_with_pong_and_other_interactions_are_not() {
        let ping = br#"{"id":"1","type":1,"application_id":"2"}"#;
        assert_eq!(
            handshake(WebhookScheme::DiscordEd25519, ping),
            Some(json!({"type": 1}))
        );
        let command = br#"{"id":"1","type":2,"data":{"name":"deploy"}}"#;
        assert_eq!(handshake(WebhookScheme::DiscordEd25519, command), None);
        // The same body under another scheme is an ordinary event.
        assert_eq!(handshake(WebhookScheme::StandardWebhooks, ping), None);
    }

    #[test]
    fn slack_url_verification_returns_the_challenge() {
        let body = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            handshake(WebhookScheme::SlackV0, body),
            Some(json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}))
        );
        let event = br#"{"type":"event_callback","team_id":"T1","event_id":"Ev1"}"#;
        assert_eq!(handshake(WebhookScheme::SlackV0, event), None);
        assert_eq!(handshake(WebhookScheme::SlackV0, b"command=%2Fx"), None);
    }

    #[test]
    fn github_routes_by_installation_id() {
        let body = br#"{"action":"opened","installation":{"id":4242,"node_id":"x"}}"#;
        assert_eq!(
            route_account(Some(WebhookScheme::GithubHmacSha256), body).as_deref(),
            Some("4242")
        );
        assert_eq!(
            route_account(Some(WebhookScheme::GithubHmacSha256), b"{}"),
            None
        );
    }

    #[test]
    fn slack_routes_by_team_in_every_payload_shape() {
        let scheme = Some(WebhookScheme::SlackV0);
        let events = br#"{"type":"event_callback","team_id":"T061EG9R6"}"#;
        assert_eq!(route_account(scheme, events).as_deref(), Some("T061EG9R6"));
        let command = b"token=x&team_id=T0001&command=%2Fweather";
        assert_eq!(route_account(scheme, command).as_deref(), Some("T0001"));
        let interactivity = b"payload=%7B%22type%22%3A%22block_actions%22%2C%22team%22%3A%7B%22id%22%3A%22T9%22%7D%7D";
        assert_eq!(route_account(scheme, interactivity).as_deref(), Some("T9"));
        assert_eq!(route_account(scheme, b"token=x"), None);
    }

    #[test]
    fn schemes_without_payload_routing_route_nothing() {
        let body = br#"{"team_id":"T1","installation":{"id":1}}"#;
        assert_eq!(
            route_account(Some(WebhookScheme::StandardWebhooks), body),
            None
        );
        assert_eq!(route_account(None, body).as_deref(), Some("1"));
    }
}
