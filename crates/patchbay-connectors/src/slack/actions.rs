//! Actions: reads one Slack page at a time (the caller pages with `cursor`), and writes
//! through `chat.*` and `reactions.add` with JSON bodies (blocks nest).

use super::client::{next_cursor, Api};
use super::spec::channel_types;
use patchbay_core::{ConnectorContext, ConnectorError};
use serde_json::{json, Map, Value};

/// The fields of `input` named in `keys`, as a JSON body.
fn pick(input: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| {
            Some((
                k.to_string(),
                input.get(*k).filter(|v| !v.is_null())?.clone(),
            ))
        })
        .collect()
}

fn page(answer: &Value, field: &str) -> Value {
    json!({field: answer[field], "next_cursor": next_cursor(answer)})
}

fn s<'a>(input: &'a Value, key: &str) -> &'a str {
    input.get(key).and_then(Value::as_str).unwrap_or_default()
}

pub async fn run(
    api: &Api<'_>,
    ctx: &ConnectorContext,
    action: &str,
    input: &Value,
) -> Result<Value, ConnectorError> {
    let limit = input["limit"].as_u64().map(|l| l.to_string());
    let cursor = input["cursor"].as_str();
    let paged = |mut args: Vec<(&'static str, String)>| {
        if let Some(l) = &limit {
            args.push(("limit", l.clone()));
        }
        if let Some(c) = cursor {
            args.push(("cursor", c.to_string()));
        }
        args
    };
    match action {
        "list_channels" => {
            let types = match input["types"].as_array() {
                Some(list) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                None => channel_types(&ctx.config),
            };
            let exclude = input["exclude_archived"].as_bool().unwrap_or(true);
            let args = paged(vec![
                ("types", types),
                ("exclude_archived", exclude.to_string()),
            ]);
            let answer = api.form("conversations.list", &borrow(&args)).await?;
            Ok(page(&answer, "channels"))
        }
        "get_channel_history" => {
            let mut args = vec![("channel", s(input, "channel").to_string())];
            for k in ["oldest", "latest"] {
                if let Some(v) = input[k].as_str() {
                    args.push((k, v.to_string()));
                }
            }
            let args = paged(args);
            let answer = api.form("conversations.history", &borrow(&args)).await?;
            let mut out = page(&answer, "messages");
            out["has_more"] = answer["has_more"].clone();
            Ok(out)
        }
        "get_users" => {
            let args = paged(Vec::new());
            let answer = api.form("users.list", &borrow(&args)).await?;
            Ok(page(&answer, "members"))
        }
        "send_message" => {
            let body = pick(
                input,
                &[
                    "channel",
                    "text",
                    "blocks",
                    "thread_ts",
                    "reply_broadcast",
                    "unfurl_links",
                ],
            );
            posted(api.json("chat.postMessage", &body).await?)
        }
        "send_direct_message" => {
            let opened = api
                .form("conversations.open", &[("users", s(input, "user"))])
                .await?;
            let channel = opened
                .pointer("/channel/id")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ConnectorError::BadResponse("conversations.open named no channel".into())
                })?;
            let mut body = pick(input, &["text", "blocks"]);
            body.insert("channel".into(), json!(channel));
            posted(api.json("chat.postMessage", &body).await?)
        }
        "update_message" => {
            let body = pick(input, &["channel", "ts", "text", "blocks"]);
            let answer = api.json("chat.update", &body).await?;
            Ok(
                json!({"channel": answer["channel"], "ts": answer["ts"], "text": answer["text"],
                      "updated": true}),
            )
        }
        "delete_message" => {
            let body = pick(input, &["channel", "ts"]);
            let answer = api.json("chat.delete", &body).await?;
            Ok(json!({"channel": answer["channel"], "ts": answer["ts"], "deleted": true}))
        }
        "add_reaction" => {
            let body = pick(input, &["channel", "timestamp", "name"]);
            api.json("reactions.add", &body).await?;
            Ok(
                json!({"channel": input["channel"], "timestamp": input["timestamp"],
                      "name": input["name"], "added": true}),
            )
        }
        other => Err(ConnectorError::Unknown {
            kind: "action",
            key: other.into(),
        }),
    }
}

fn borrow<'a>(args: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    args.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn posted(answer: Value) -> Result<Value, ConnectorError> {
    Ok(json!({"channel": answer["channel"], "ts": answer["ts"], "message": answer["message"]}))
}
