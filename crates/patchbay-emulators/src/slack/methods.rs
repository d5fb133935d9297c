//! The Web API methods, over the workspace's state, with Slack's argument names, scopes,
//! error codes and paging (`limit`, an opaque `cursor`, `response_metadata.next_cursor`).

use super::routes::{Answer, Args, SlackError};
use super::{Token, Workspace, TEAM_ID, TEAM_NAME};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// Slack's documented tier of each method (chat writes are "special"; counted as tier 4).
pub fn tier(method: &str) -> u8 {
    match method {
        "users.list" | "conversations.list" => 2,
        "conversations.history"
        | "conversations.replies"
        | "conversations.info"
        | "conversations.open"
        | "reactions.add"
        | "chat.update"
        | "chat.delete" => 3,
        _ => 4,
    }
}

fn need(caller: &Token, scope: &'static str) -> Result<(), SlackError> {
    if caller.scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(SlackError("missing_scope"))
    }
}

fn kind(c: &Value) -> &'static str {
    if c["is_im"] == true {
        "im"
    } else if c["is_mpim"] == true {
        "mpim"
    } else if c["is_private"] == true {
        "private_channel"
    } else {
        "public_channel"
    }
}

fn scope_for(kind: &str, what: &str) -> &'static str {
    match (kind, what) {
        ("public_channel", "read") => "channels:read",
        ("private_channel", "read") => "groups:read",
        ("im", "read") => "im:read",
        ("mpim", "read") => "mpim:read",
        ("public_channel", _) => "channels:history",
        ("private_channel", _) => "groups:history",
        ("im", _) => "im:history",
        _ => "mpim:history",
    }
}

fn cursor_offset(args: &Args) -> Result<usize, SlackError> {
    match args.str("cursor") {
        None => Ok(0),
        Some(c) => STANDARD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:")?.parse().ok())
            .ok_or(SlackError("invalid_cursor")),
    }
}

/// One page of `items` with Slack's paging fields.
fn paged(items: Vec<Value>, args: &Args, field: &str, default: usize) -> Answer {
    let offset = cursor_offset(args)?;
    let limit = args.limit(default, 1000);
    let has_more = items.len() > offset + limit;
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let next = if has_more {
        STANDARD.encode(format!("offset:{}", offset + limit))
    } else {
        String::new()
    };
    Ok(json!({field: page, "has_more": has_more, "response_metadata": {"next_cursor": next}}))
}

fn ts_num(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

/// The conversation `args.channel`, readable by `caller` with `what` (read or history).
fn conversation(
    ws: &Workspace,
    caller: &Token,
    args: &Args,
    what: &str,
) -> Result<Value, SlackError> {
    let id = args.str("channel").ok_or(SlackError("channel_not_found"))?;
    let c = ws
        .channel(&id)
        .ok_or(SlackError("channel_not_found"))?
        .clone();
    need(caller, scope_for(kind(&c), what))?;
    let member = ws.is_member(&id, &caller.user);
    if c["is_private"] == true && !member {
        return Err(SlackError("channel_not_found"));
    }
    if what == "history" && caller.is_bot && !member {
        return Err(SlackError("not_in_channel"));
    }
    Ok(c)
}

fn view(ws: &Workspace, c: &Value, user: &str) -> Value {
    let mut c = c.clone();
    let id = c["id"].as_str().unwrap_or_default().to_string();
    if c["is_im"] != true {
        c["is_member"] = json!(ws.is_member(&id, user));
        c["num_members"] = json!(ws.members.get(&id).map_or(0, Vec::len));
    }
    c
}

fn text_or_blocks(args: &Args) -> Result<Value, SlackError> {
    let mut m = json!({});
    let blocks = args.json("blocks")?;
    if let Some(b) = &blocks {
        if !b
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x["type"].is_string()))
        {
            return Err(SlackError("invalid_blocks"));
        }
        m["blocks"] = b.clone();
    }
    match args.str("text") {
        Some(t) if t.chars().count() > 40_000 => return Err(SlackError("msg_too_long")),
        Some(t) => m["text"] = json!(t),
        None if blocks.is_some() => m["text"] = json!(""),
        None => return Err(SlackError("no_text")),
    }
    Ok(m)
}

fn find<'a>(ws: &'a mut Workspace, channel: &str, ts: &str) -> Result<&'a mut Value, SlackError> {
    ws.messages
        .get_mut(channel)
        .and_then(|ms| ms.iter_mut().find(|m| m["ts"] == ts))
        .ok_or(SlackError("message_not_found"))
}

pub fn dispatch(ws: &mut Workspace, caller: &Token, method: &str, args: &Args) -> Answer {
    match method {
        "auth.test" => Ok(json!({
            "url": "https://patchbay-demo.slack.com/", "team": TEAM_NAME, "user":
            if caller.is_bot { "patchbay" } else { "ada" }, "team_id": TEAM_ID,
            "user_id": caller.user, "bot_id": if caller.is_bot { json!("B0PATCHBAY") } else { Value::Null },
            "is_enterprise_install": false})),
        "users.list" => {
            need(caller, "users:read")?;
            let emails = caller.scopes.iter().any(|s| s == "users:read.email");
            let users: Vec<Value> = ws
                .users
                .iter()
                .map(|u| {
                    let mut u = u.clone();
                    if !emails {
                        if let Some(p) = u["profile"].as_object_mut() {
                            p.remove("email");
                        }
                    }
                    u
                })
                .collect();
            let mut page = paged(users, args, "members", 100)?;
            page["cache_ts"] = json!(chrono::Utc::now().timestamp());
            Ok(page)
        }
        "users.info" => {
            need(caller, "users:read")?;
            let id = args.required("user")?;
            let u = ws
                .users
                .iter()
                .find(|u| u["id"] == id.as_str())
                .ok_or(SlackError("user_not_found"))?;
            Ok(json!({"user": u}))
        }
        "conversations.list" => {
            let types = args.str("types").unwrap_or_else(|| "public_channel".into());
            let types: Vec<&str> = types.split(',').map(str::trim).collect();
            for t in &types {
                if !matches!(*t, "public_channel" | "private_channel" | "im" | "mpim") {
                    return Err(SlackError("invalid_types"));
                }
                need(caller, scope_for(t, "read"))?;
            }
            let exclude = args.bool("exclude_archived").unwrap_or(false);
            let list: Vec<Value> = ws
                .channels
                .iter()
                .filter(|c| types.contains(&kind(c)))
                .filter(|c| !(exclude && c["is_archived"] == true))
                .filter(|c| {
                    let id = c["id"].as_str().unwrap_or_default();
                    kind(c) == "public_channel" || ws.is_member(id, &caller.user)
                })
                .map(|c| view(ws, c, &caller.user))
                .collect();
            paged(list, args, "channels", 100)
        }
        "conversations.info" => {
            let c = conversation(ws, caller, args, "read")?;
            Ok(json!({"channel": view(ws, &c, &caller.user)}))
        }
        "conversations.history" => {
            let c = conversation(ws, caller, args, "history")?;
            let id = c["id"].as_str().unwrap_or_default();
            let oldest = args.str("oldest").map(|s| ts_num(&json!(s))).unwrap_or(0.0);
            let latest = args
                .str("latest")
                .map(|s| ts_num(&json!(s)))
                .unwrap_or(f64::MAX);
            let inclusive = args.bool("inclusive").unwrap_or(false);
            let mut msgs: Vec<Value> = ws
                .messages
                .get(id)
                .into_iter()
                .flatten()
                .filter(|m| {
                    m["thread_ts"].is_null()
                        || m["thread_ts"] == m["ts"]
                        || m["subtype"] == "thread_broadcast"
                })
                .filter(|m| {
                    let t = ts_num(&m["ts"]);
                    if inclusive {
                        t >= oldest && t <= latest
                    } else {
                        t > oldest && t < latest
                    }
                })
                .cloned()
                .collect();
            msgs.reverse();
            paged(msgs, args, "messages", 100)
        }
        "conversations.replies" => {
            let c = conversation(ws, caller, args, "history")?;
            let id = c["id"].as_str().unwrap_or_default();
            let ts = args.required("ts")?;
            let oldest = args.str("oldest").map(|s| ts_num(&json!(s))).unwrap_or(0.0);
            let all = ws.messages.get(id).cloned().unwrap_or_default();
            let parent = all
                .iter()
                .find(|m| m["ts"] == ts.as_str())
                .ok_or(SlackError("thread_not_found"))?
                .clone();
            let mut msgs = vec![parent];
            msgs.extend(
                all.into_iter()
                    .filter(|m| m["thread_ts"] == ts.as_str() && m["ts"] != ts.as_str())
                    .filter(|m| ts_num(&m["ts"]) > oldest),
            );
            paged(msgs, args, "messages", 1000)
        }
        "conversations.open" => {
            need(caller, "im:write")?;
            let users = args.required("users")?;
            let user = users
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            if !ws.users.iter().any(|u| u["id"] == user.as_str()) {
                return Err(SlackError("user_not_found"));
            }
            let existing = ws
                .channels
                .iter()
                .find(|c| {
                    c["is_im"] == true
                        && c["user"] == user.as_str()
                        && ws.is_member(c["id"].as_str().unwrap_or_default(), &caller.user)
                })
                .cloned();
            if let Some(c) = existing {
                return Ok(
                    json!({"channel": {"id": c["id"]}, "no_op": true, "already_open": true}),
                );
            }
            let id = ws.id("D0");
            ws.channels.push(
                json!({"id": id, "is_im": true, "is_org_shared": false, "user": user,
                "created": chrono::Utc::now().timestamp(), "is_user_deleted": false}),
            );
            ws.members
                .insert(id.clone(), vec![caller.user.clone(), user]);
            Ok(json!({"channel": {"id": id}}))
        }
        "chat.postMessage" => {
            need(caller, "chat:write")?;
            let id = args.str("channel").ok_or(SlackError("channel_not_found"))?;
            let c = ws
                .channel(&id)
                .ok_or(SlackError("channel_not_found"))?
                .clone();
            if c["is_archived"] == true {
                return Err(SlackError("is_archived"));
            }
            if !ws.is_member(&id, &caller.user) {
                return Err(SlackError("not_in_channel"));
            }
            let fields = text_or_blocks(args)?;
            let thread = args.str("thread_ts");
            if let Some(t) = &thread {
                find(ws, &id, t).map_err(|_| SlackError("thread_not_found"))?;
            }
            let mut m = ws.post(&id, &caller.user, fields, thread.as_deref());
            if thread.is_some() && args.bool("reply_broadcast") == Some(true) {
                m["subtype"] = json!("thread_broadcast");
                if let Ok(stored) = find(ws, &id, m["ts"].as_str().unwrap_or_default()) {
                    *stored = m.clone();
                }
            }
            Ok(json!({"channel": id, "ts": m["ts"], "message": m}))
        }
        "chat.update" => {
            need(caller, "chat:write")?;
            let id = args.str("channel").ok_or(SlackError("channel_not_found"))?;
            ws.channel(&id).ok_or(SlackError("channel_not_found"))?;
            let ts = args.required("ts")?;
            let fields = text_or_blocks(args)?;
            let user = caller.user.clone();
            let m = find(ws, &id, &ts)?;
            if m["user"] != user.as_str() {
                return Err(SlackError("cant_update_message"));
            }
            if let (Some(o), Value::Object(f)) = (m.as_object_mut(), fields) {
                o.extend(f);
                o.insert("edited".into(), json!({"user": user, "ts": ts}));
            }
            let text = m["text"].clone();
            Ok(json!({"channel": id, "ts": ts, "text": text, "message": m.clone()}))
        }
        "chat.delete" => {
            need(caller, "chat:write")?;
            let id = args.str("channel").ok_or(SlackError("channel_not_found"))?;
            ws.channel(&id).ok_or(SlackError("channel_not_found"))?;
            let ts = args.required("ts")?;
            if find(ws, &id, &ts)?["user"] != caller.user.as_str() {
                return Err(SlackError("cant_delete_message"));
            }
            if let Some(ms) = ws.messages.get_mut(&id) {
                ms.retain(|m| m["ts"] != ts.as_str());
            }
            Ok(json!({"channel": id, "ts": ts}))
        }
        "reactions.add" => {
            need(caller, "reactions:write")?;
            let id = args.str("channel").ok_or(SlackError("channel_not_found"))?;
            ws.channel(&id).ok_or(SlackError("channel_not_found"))?;
            let ts = args.required("timestamp")?;
            let name = args.required("name")?;
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+-'".contains(c))
            {
                return Err(SlackError("invalid_name"));
            }
            let user = caller.user.clone();
            let m = find(ws, &id, &ts)?;
            let mut reactions: Vec<Value> = m["reactions"].as_array().cloned().unwrap_or_default();
            match reactions.iter_mut().find(|r| r["name"] == name.as_str()) {
                Some(r)
                    if r["users"]
                        .as_array()
                        .is_some_and(|u| u.contains(&json!(user))) =>
                {
                    return Err(SlackError("already_reacted"))
                }
                Some(r) => {
                    if let Some(u) = r["users"].as_array_mut() {
                        u.push(json!(user));
                    }
                    r["count"] = json!(r["count"].as_u64().unwrap_or(0) + 1);
                }
                None => reactions.push(json!({"name": name, "users": [user], "count": 1})),
            }
            m["reactions"] = Value::Array(reactions);
            Ok(json!({}))
        }
        _ => Err(SlackError("unknown_method")),
    }
}
