//! Push: `users.watch` asks Gmail to publish mailbox changes to the connection's Pub/Sub topic,
//! and the subscription pushes them here. A push names only the address and the new
//! `historyId`, so it triggers an incremental sync rather than carrying records.

use super::client::Api;
use base64::Engine as _;
use patchbay_core::{ConnectorError, Watch, WebhookOutcome};
use serde_json::{json, Value};

/// The connection's Pub/Sub topic, when it asks for push.
pub fn topic(config: &Value) -> Option<&str> {
    config
        .get("push_topic")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Starts or renews the watch (Gmail renews by watching again). It lapses after seven days.
pub async fn watch(api: &Api<'_>, config: &Value) -> Result<Watch, ConnectorError> {
    let topic =
        topic(config).ok_or_else(|| ConnectorError::Config("push_topic is not set".into()))?;
    let mut body = json!({"topicName": topic});
    let labels: Vec<&str> = config["push_label_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !labels.is_empty() {
        body["labelIds"] = json!(labels);
        body["labelFilterBehavior"] = json!("include");
    }
    let answer = api.post(&["watch"], &body).await?;
    let expires_at_ms = answer["expiration"]
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .or_else(|| answer["expiration"].as_i64())
        .ok_or_else(|| ConnectorError::BadResponse("the watch answer has no expiration".into()))?;
    Ok(Watch {
        expires_at_ms,
        state: json!({"topic": topic, "history_id": answer["historyId"]}),
    })
}

pub async fn stop(api: &Api<'_>) -> Result<(), ConnectorError> {
    api.post(&["stop"], &json!({})).await.map(|_| ())
}

/// Reads a Pub/Sub push: `{"message": {"data": base64 of {"emailAddress", "historyId"},
/// "messageId"}, "subscription"}`.
pub fn outcome(body: &[u8]) -> Result<WebhookOutcome, ConnectorError> {
    let bad = |why: &str| ConnectorError::BadPayload(format!("not a Pub/Sub push: {why}"));
    let value: Value = serde_json::from_slice(body).map_err(|_| bad("invalid JSON"))?;
    let message = value.get("message").ok_or_else(|| bad("no message"))?;
    let data = message["data"].as_str().ok_or_else(|| bad("no data"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(data))
        .map_err(|_| bad("data is not base64"))?;
    let change: Value = serde_json::from_slice(&decoded).map_err(|_| bad("data is not JSON"))?;
    let history_id = change["historyId"]
        .as_str()
        .map(str::to_string)
        .or_else(|| change["historyId"].as_u64().map(|n| n.to_string()))
        .ok_or_else(|| bad("no historyId"))?;
    Ok(WebhookOutcome {
        delivery_id: message["messageId"].as_str().map(str::to_string),
        event_type: format!("gmail.history:{history_id}"),
        resync: vec!["messages".into(), "threads".into()],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_asks_for_an_incremental_message_sync() {
        let data = base64::engine::general_purpose::STANDARD
            .encode(br#"{"emailAddress": "ada@example.com", "historyId": "9876543210"}"#);
        let body = json!({"message": {"data": data, "messageId": "2070443601311540",
            "publishTime": "2026-12-05T08:00:00Z"}, "subscription": "projects/p/subscriptions/s"});
        let out = outcome(body.to_string().as_bytes()).unwrap();
        assert_eq!(out.resync, ["messages", "threads"]);
        assert_eq!(out.delivery_id.as_deref(), Some("2070443601311540"));
        assert_eq!(out.event_type, "gmail.history:9876543210");
        for broken in [
            &b"not json"[..],
            br#"{"subscription": "s"}"#,
            br#"{"message": {"data": "%%%"}}"#,
            br#"{"message": {"data": "e30="}}"#,
        ] {
            assert!(
                matches!(outcome(broken), Err(ConnectorError::BadPayload(_))),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
        assert_eq!(topic(&json!({"push_topic": "  "})), None);
        assert_eq!(
            topic(&json!({"push_topic": "projects/p/topics/t"})),
            Some("projects/p/topics/t")
        );
    }
}
