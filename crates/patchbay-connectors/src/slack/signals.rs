//! Signals: direct messages and mentions waiting for the owner (the user who connected, with
//! a user token; else the app's bot user), i.e. newer than the owner's last message in that
//! conversation. Reads a bounded number of conversations so a large workspace stays cheap.

use super::client::Api;
use super::spec::KEY;
use patchbay_core::{ConnectorError, Signal, SignalKind};
use serde_json::Value;

/// Conversations of each kind looked at.
const MAX_CONVERSATIONS: usize = 10;
const RECENT: &str = "30";

fn signal(channel: &str, m: &Value, title: String) -> Option<Signal> {
    let ts = m["ts"].as_str()?;
    let due = ts
        .split('.')
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339());
    Some(Signal {
        id: format!("{channel}:{ts}"),
        source: KEY.into(),
        kind: SignalKind::Message,
        title,
        due,
        url: None,
        priority: None,
        record: m.clone(),
    })
}

/// Messages (newest first) after the owner's last one, that `wanted` accepts.
fn waiting<'a>(msgs: &'a [Value], owner: &str, wanted: impl Fn(&Value) -> bool) -> Vec<&'a Value> {
    msgs.iter()
        .take_while(|m| m["user"].as_str() != Some(owner))
        .filter(|m| m["subtype"].is_null() && wanted(m))
        .collect()
}

pub async fn signals(api: &Api<'_>, types: &str) -> Result<Vec<Signal>, ConnectorError> {
    let me = api.form("auth.test", &[]).await?;
    let owner = me["user_id"]
        .as_str()
        .ok_or_else(|| ConnectorError::BadResponse("auth.test named no user".into()))?
        .to_string();
    let mention = format!("<@{owner}>");
    let mut out = Vec::new();
    let ims = api
        .form("conversations.list", &[("types", "im"), ("limit", "200")])
        .await?;
    for im in ims["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .take(MAX_CONVERSATIONS)
    {
        let Some(id) = im["id"].as_str() else {
            continue;
        };
        let history = api
            .form(
                "conversations.history",
                &[("channel", id), ("limit", RECENT)],
            )
            .await?;
        let msgs = history["messages"].as_array().cloned().unwrap_or_default();
        for m in waiting(&msgs, &owner, |_| true) {
            let who = m["user"].as_str().unwrap_or("someone");
            let text = m["text"].as_str().unwrap_or_default();
            out.extend(signal(
                id,
                m,
                format!("Direct message from <@{who}>: {text}"),
            ));
        }
    }
    let channel_types: Vec<&str> = types
        .split(',')
        .filter(|t| matches!(*t, "public_channel" | "private_channel" | "mpim"))
        .collect();
    if channel_types.is_empty() {
        return Ok(out);
    }
    let list = api
        .form(
            "conversations.list",
            &[
                ("types", &channel_types.join(",")),
                ("exclude_archived", "true"),
                ("limit", "200"),
            ],
        )
        .await?;
    let member = list["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["is_member"] == true || c["is_mpim"] == true)
        .take(MAX_CONVERSATIONS);
    for c in member {
        let Some(id) = c["id"].as_str() else { continue };
        let history = api
            .form(
                "conversations.history",
                &[("channel", id), ("limit", RECENT)],
            )
            .await?;
        let msgs = history["messages"].as_array().cloned().unwrap_or_default();
        let name = c["name"].as_str().unwrap_or(id);
        for m in waiting(&msgs, &owner, |m| {
            m["text"].as_str().is_some_and(|t| t.contains(&mention))
        }) {
            let who = m["user"].as_str().unwrap_or("someone");
            let text = m["text"].as_str().unwrap_or_default();
            out.extend(signal(
                id,
                m,
                format!("Mentioned in #{name} by <@{who}>: {text}"),
            ));
        }
    }
    Ok(out)
}
