//! Events API deliveries (already verified and deduplicated by `event_id`) into record changes
//! and events: messages (new, edited, deleted), app mentions, and channel changes, for which
//! the channel is read again with `conversations.info` so its record stays whole.

use super::client::Api;
use super::sync::message_record;
use patchbay_core::{ConnectorError, EmittedEvent, InboundMessage, Record, WebhookOutcome};
use serde_json::{json, Value};

fn channel_event(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "channel_created" => "channel.created",
        "channel_rename" => "channel.renamed",
        "channel_archive" => "channel.archived",
        "channel_unarchive" => "channel.unarchived",
        "channel_deleted" => "channel.deleted",
        "member_joined_channel" => "member.joined_channel",
        "member_left_channel" => "member.left_channel",
        "group_rename" => "channel.renamed",
        "group_archive" => "channel.archived",
        "group_unarchive" => "channel.unarchived",
        _ => return None,
    })
}

/// The channel id of a channel event (`channel` is an object in `channel_created` and
/// `channel_rename`, a string elsewhere).
fn channel_id(event: &Value) -> Option<String> {
    match &event["channel"] {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id")?.as_str().map(str::to_string),
        _ => None,
    }
}

pub async fn outcome(api: &Api<'_>, body: &[u8]) -> Result<WebhookOutcome, ConnectorError> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|_| ConnectorError::BadPayload("an Events API delivery is JSON".into()))?;
    let mut out = WebhookOutcome {
        delivery_id: payload["event_id"].as_str().map(str::to_string),
        event_type: payload["type"].as_str().unwrap_or("unknown").to_string(),
        ..Default::default()
    };
    if payload["type"] != "event_callback" {
        return Ok(out);
    }
    let event = &payload["event"];
    let kind = event["type"].as_str().unwrap_or_default();
    out.event_type = kind.to_string();
    // The app's own bot user: its messages are not news to the application.
    let bot_user = payload
        .pointer("/authorizations/0/user_id")
        .and_then(Value::as_str)
        .filter(|_| payload.pointer("/authorizations/0/is_bot") == Some(&Value::Bool(true)));
    let base = json!({"team_id": payload["team_id"], "event_id": payload["event_id"],
                      "event_time": payload["event_time"]});
    match kind {
        "message" => message(&mut out, event, bot_user, base),
        "app_mention" => {
            let Some(channel) = event["channel"].as_str() else {
                return Err(ConnectorError::BadPayload(
                    "app_mention names no channel".into(),
                ));
            };
            if let Some(r) = message_record(channel, strip(event)) {
                out.events
                    .push(emitted("message.mentioned", &base, channel, &r.id, event));
                // The same message often comes as `message` too: routing keeps one by its id.
                out.messages.push(inbound(channel, &r.id, event));
                out.upserts.push(r);
            }
        }
        _ => {
            let Some(emit) = channel_event(kind) else {
                return Ok(out);
            };
            let Some(id) = channel_id(event) else {
                return Err(ConnectorError::BadPayload(format!(
                    "{kind} names no channel"
                )));
            };
            if kind == "channel_deleted" {
                out.deletions.push(("channels".into(), id.clone()));
            } else {
                // The event carries a fragment of the channel; the record keeps all of it.
                let data = match api.form("conversations.info", &[("channel", &id)]).await {
                    Ok(info) => info["channel"].clone(),
                    Err(ConnectorError::NotFound(_)) => Value::Null,
                    Err(e) => return Err(e),
                };
                if data.is_object() {
                    out.upserts.push(Record {
                        entity: "channels".into(),
                        id: id.clone(),
                        data,
                    });
                }
            }
            let mut p = base.clone();
            p["channel_id"] = json!(id);
            p["event"] = event.clone();
            out.events.push(EmittedEvent {
                event_type: emit.into(),
                payload: p,
            });
        }
    }
    Ok(out)
}

/// The message as Slack's history would show it (without the event's own fields).
fn strip(event: &Value) -> Value {
    let mut m = event.clone();
    if let Some(o) = m.as_object_mut() {
        for k in ["event_ts", "channel_type", "channel"] {
            o.remove(k);
        }
        o.insert("type".into(), json!("message"));
    }
    m
}

fn emitted(kind: &str, base: &Value, channel: &str, record_id: &str, m: &Value) -> EmittedEvent {
    let mut p = base.clone();
    p["record_id"] = json!(record_id);
    p["channel_id"] = json!(channel);
    p["channel_type"] = m["channel_type"].clone();
    p["user"] = m["user"].clone();
    p["text"] = m["text"].clone();
    p["ts"] = m["ts"].clone();
    p["thread_ts"] = m["thread_ts"].clone();
    EmittedEvent {
        event_type: kind.into(),
        payload: p,
    }
}

fn message(out: &mut WebhookOutcome, event: &Value, bot_user: Option<&str>, base: Value) {
    let Some(channel) = event["channel"].as_str() else {
        return;
    };
    match event["subtype"].as_str() {
        Some("message_changed") => {
            let inner = &event["message"];
            if let Some(r) = message_record(channel, inner.clone()) {
                let mut e = inner.clone();
                e["channel_type"] = event["channel_type"].clone();
                out.events
                    .push(emitted("message.edited", &base, channel, &r.id, &e));
                out.upserts.push(r);
            }
        }
        Some("message_deleted") => {
            if let Some(ts) = event["deleted_ts"].as_str() {
                let id = format!("{channel}:{ts}");
                out.deletions.push(("messages".into(), id.clone()));
                let mut p = base;
                p["record_id"] = json!(id);
                p["channel_id"] = json!(channel);
                p["ts"] = json!(ts);
                out.events.push(EmittedEvent {
                    event_type: "message.deleted".into(),
                    payload: p,
                });
            }
        }
        _ => {
            let Some(r) = message_record(channel, strip(event)) else {
                return;
            };
            let own = bot_user.is_some() && event["user"].as_str() == bot_user;
            // Joins, topic changes and the like are kept, but are not someone writing.
            let written = matches!(
                event["subtype"].as_str(),
                None | Some("thread_broadcast" | "file_share" | "me_message")
            );
            if !own && written && event["bot_id"].is_null() {
                out.events
                    .push(emitted("message.received", &base, channel, &r.id, event));
                out.messages.push(inbound(channel, &r.id, event));
            }
            out.upserts.push(r);
        }
    }
}

/// A person's message as channel bindings route it: the thread is its `thread_ts`.
fn inbound(channel: &str, record_id: &str, event: &Value) -> InboundMessage {
    let files = event["files"].as_array().map_or(Vec::new(), |files| {
        files
            .iter()
            .map(|f| {
                json!({"id": f["id"], "kind": "file", "name": f["name"],
                            "content_type": f["mimetype"], "size": f["size"]})
            })
            .collect()
    });
    InboundMessage {
        channel_type: "slack".into(),
        channel_id: channel.to_string(),
        thread: event["thread_ts"].as_str().map(str::to_string),
        message_id: record_id.to_string(),
        text: event["text"].as_str().unwrap_or_default().to_string(),
        author: json!({"id": event["user"], "team": event["team"]}),
        attachments: files,
    }
}
