//! Inbound updates: a message (text, `/command@bot args`, photo, voice, audio, document), an
//! edit or a button press becomes records (`messages` keyed `{chat_id}:{message_id}`,
//! `chats`, `callback_queries`), events (`message.received`, `command.received`,
//! `message.edited`, `callback_query.received`) and attachments: media are fetched with
//! `getFile` within the connection's size limit and referenced from the message by id.

use super::client::Api;
use super::spec::max_attachment_bytes;
use patchbay_core::{
    Attachment, ConnectorContext, ConnectorError, EmittedEvent, InboundMessage, Record,
    WebhookOutcome,
};
use serde_json::{json, Map, Value};

/// A file a message carries, before it is fetched.
struct Media {
    kind: &'static str,
    file_id: String,
    unique_id: String,
    size: Option<u64>,
    content_type: String,
    file_name: Option<String>,
}

/// What a `/command` in a message says.
pub struct Command {
    pub name: String,
    pub bot: Option<String>,
    pub args: String,
}

/// The command starting `text`, from its `bot_command` entity (offsets in UTF-16 units).
pub fn command_of(text: &str, entities: Option<&Value>) -> Option<Command> {
    let entity = entities?
        .as_array()?
        .iter()
        .find(|e| e["type"] == "bot_command" && e["offset"] == 0)?;
    let length = entity["length"].as_u64()? as usize;
    let utf16: Vec<u16> = text.encode_utf16().collect();
    let raw = String::from_utf16(utf16.get(..length)?).ok()?;
    let args = String::from_utf16(&utf16[length..])
        .ok()?
        .trim()
        .to_string();
    let raw = raw.strip_prefix('/')?;
    let (name, bot) = match raw.split_once('@') {
        Some((n, b)) => (n, Some(b.to_string())),
        None => (raw, None),
    };
    if name.is_empty() {
        return None;
    }
    Some(Command {
        name: name.to_ascii_lowercase(),
        bot,
        args,
    })
}

fn media_of(message: &Value) -> Option<Media> {
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let build = |kind, v: &Value, default_type: &str| {
        Some(Media {
            kind,
            file_id: str_of(v, "file_id")?,
            unique_id: str_of(v, "file_unique_id")?,
            size: v.get("file_size").and_then(Value::as_u64),
            content_type: str_of(v, "mime_type").unwrap_or_else(|| default_type.into()),
            file_name: str_of(v, "file_name"),
        })
    };
    if let Some(sizes) = message.get("photo").and_then(Value::as_array) {
        // The largest size: by bytes when given, else by pixels (Telegram lists it last).
        let largest = sizes.iter().max_by_key(|s| {
            let area = s["width"].as_u64().unwrap_or(0) * s["height"].as_u64().unwrap_or(0);
            (s["file_size"].as_u64().unwrap_or(0), area)
        })?;
        return build("photo", largest, "image/jpeg");
    }
    for (key, kind, default) in [
        ("voice", "voice", "audio/ogg"),
        ("audio", "audio", "audio/mpeg"),
        ("document", "document", "application/octet-stream"),
        ("video", "video", "video/mp4"),
        ("video_note", "video_note", "video/mp4"),
    ] {
        if let Some(v) = message.get(key) {
            return build(kind, v, default);
        }
    }
    None
}

/// An attachment id usable in a URL path: the file's unique id when it is plain.
fn attachment_id(unique_id: &str) -> String {
    let plain = unique_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain && (1..=128).contains(&unique_id.len()) {
        unique_id.to_string()
    } else {
        use sha2::Digest;
        sha2::Sha256::digest(unique_id.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Fetches `media` into an attachment unless it is over the limit; returns its description
/// for the record either way.
async fn fetch(
    api: &Api<'_>,
    ctx: &ConnectorContext,
    media: &Media,
    attachments: &mut Vec<Attachment>,
) -> Result<Value, ConnectorError> {
    let limit = max_attachment_bytes(&ctx.config);
    let id = attachment_id(&media.unique_id);
    let mut meta = json!({
        "id": id, "kind": media.kind, "content_type": media.content_type,
        "file_name": media.file_name, "size": media.size, "file_id": media.file_id,
    });
    let too_large = |meta: &mut Value| {
        meta["stored"] = false.into();
        meta["reason"] = format!("larger than the {limit}-byte limit").into();
    };
    if media.size.is_some_and(|s| s > limit) {
        too_large(&mut meta);
        return Ok(meta);
    }
    let file = api
        .call("getFile", &json!({"file_id": media.file_id}))
        .await?;
    if file["file_size"].as_u64().is_some_and(|s| s > limit) {
        too_large(&mut meta);
        return Ok(meta);
    }
    let path = file["file_path"]
        .as_str()
        .ok_or_else(|| ConnectorError::BadResponse("getFile named no file_path".into()))?;
    let data = api.download(path, limit).await?;
    meta["size"] = data.len().into();
    meta["stored"] = true.into();
    meta["url"] = format!("/v1/connections/{}/attachments/{id}", ctx.connection_id).into();
    attachments.push(Attachment {
        id,
        content_type: media.content_type.clone(),
        filename: media.file_name.clone(),
        data,
    });
    Ok(meta)
}

/// Reads the update and fetches its media. `bot_username` answers whether a
/// `/command@name` is addressed to this bot.
pub async fn outcome(
    api: &Api<'_>,
    ctx: &ConnectorContext,
    body: &[u8],
    bot_username: impl AsyncFnOnce() -> Option<String>,
) -> Result<WebhookOutcome, ConnectorError> {
    let update: Value = serde_json::from_slice(body)
        .map_err(|e| ConnectorError::BadPayload(format!("the update is not JSON: {e}")))?;
    let update_id = update["update_id"]
        .as_i64()
        .ok_or_else(|| ConnectorError::BadPayload("the update has no update_id".into()))?;
    let mut out = WebhookOutcome {
        delivery_id: Some(update_id.to_string()),
        ..Default::default()
    };
    let kinds = [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
    ];
    if let Some((kind, message)) = kinds.iter().find_map(|k| Some((*k, update.get(k)?))) {
        let edited = kind.starts_with("edited");
        out.event_type = kind.to_string();
        message_outcome(api, ctx, update_id, message, edited, &mut out, bot_username).await?;
    } else if let Some(query) = update.get("callback_query") {
        out.event_type = "callback_query".into();
        callback_outcome(update_id, query, &mut out)?;
    } else {
        let kind = update
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "update_id").cloned())
            .unwrap_or_else(|| "unknown".into());
        out.event_type = kind;
    }
    Ok(out)
}

async fn message_outcome(
    api: &Api<'_>,
    ctx: &ConnectorContext,
    update_id: i64,
    message: &Value,
    edited: bool,
    out: &mut WebhookOutcome,
    bot_username: impl AsyncFnOnce() -> Option<String>,
) -> Result<(), ConnectorError> {
    let chat_id = message["chat"]["id"]
        .as_i64()
        .ok_or_else(|| ConnectorError::BadPayload("the message has no chat.id".into()))?;
    let message_id = message["message_id"]
        .as_i64()
        .ok_or_else(|| ConnectorError::BadPayload("the message has no message_id".into()))?;
    let record_id = format!("{chat_id}:{message_id}");
    let (text, entities) = match message.get("text").and_then(Value::as_str) {
        Some(t) => (Some(t), message.get("entities")),
        None => (
            message.get("caption").and_then(Value::as_str),
            message.get("caption_entities"),
        ),
    };
    let mut command = text.and_then(|t| command_of(t, entities));
    if let Some(addressed) = command.as_ref().and_then(|c| c.bot.clone()) {
        let ours = bot_username().await;
        if ours.is_some_and(|u| !u.eq_ignore_ascii_case(&addressed)) {
            command = None;
        }
    }
    let media = media_of(message);
    let mut attachments = Vec::new();
    if let Some(m) = &media {
        attachments.push(fetch(api, ctx, m, &mut out.attachments).await?);
    }
    let kind = match (&media, &command) {
        (Some(m), _) => m.kind,
        (None, Some(_)) => "command",
        (None, None) if text.is_some() => "text",
        _ => "other",
    };
    let mut data = Map::new();
    data.insert("id".into(), record_id.clone().into());
    data.insert("update_id".into(), update_id.into());
    data.insert("chat_id".into(), chat_id.into());
    data.insert("message_id".into(), message_id.into());
    data.insert("kind".into(), kind.into());
    data.insert("text".into(), text.into());
    data.insert(
        "from".into(),
        message.get("from").cloned().unwrap_or(Value::Null),
    );
    data.insert("chat".into(), message["chat"].clone());
    data.insert("date".into(), message["date"].clone());
    data.insert("edited".into(), edited.into());
    if let Some(d) = message.get("edit_date") {
        data.insert("edit_date".into(), d.clone());
    }
    if let Some(reply) = message.pointer("/reply_to_message/message_id") {
        data.insert("reply_to_message_id".into(), reply.clone());
    }
    if let Some(e) = entities {
        data.insert("entities".into(), e.clone());
    }
    if let Some(c) = &command {
        data.insert(
            "command".into(),
            json!({"name": c.name, "args": c.args, "bot": c.bot}),
        );
    }
    data.insert("attachments".into(), attachments.clone().into());
    let data = Value::Object(data);
    out.upserts.push(Record {
        entity: "messages".into(),
        id: record_id.clone(),
        data: data.clone(),
    });
    let chat = &message["chat"];
    out.upserts.push(Record {
        entity: "chats".into(),
        id: chat_id.to_string(),
        data: json!({"id": chat_id, "type": chat["type"], "title": chat["title"],
            "username": chat["username"], "first_name": chat["first_name"],
            "last_name": chat["last_name"]}),
    });
    let mut payload = json!({
        "update_id": update_id, "record_id": record_id, "chat_id": chat_id,
        "message_id": message_id, "kind": kind, "text": text, "from": data["from"],
        "attachments": attachments,
    });
    let event_type = if edited {
        "message.edited"
    } else if let Some(c) = &command {
        payload["command"] = c.name.clone().into();
        payload["args"] = c.args.clone().into();
        "command.received"
    } else {
        "message.received"
    };
    if !edited {
        out.messages.push(InboundMessage {
            channel_type: "telegram".into(),
            channel_id: chat_id.to_string(),
            thread: None,
            message_id: record_id,
            text: text.unwrap_or_default().to_string(),
            author: data["from"].clone(),
            attachments: attachments.clone(),
        });
    }
    out.events.push(EmittedEvent {
        event_type: event_type.into(),
        payload,
    });
    Ok(())
}

fn callback_outcome(
    update_id: i64,
    query: &Value,
    out: &mut WebhookOutcome,
) -> Result<(), ConnectorError> {
    let id = query["id"]
        .as_str()
        .ok_or_else(|| ConnectorError::BadPayload("the callback query has no id".into()))?;
    let chat_id = query
        .pointer("/message/chat/id")
        .cloned()
        .unwrap_or(Value::Null);
    let message_id = query
        .pointer("/message/message_id")
        .cloned()
        .unwrap_or(Value::Null);
    let payload = json!({
        "update_id": update_id, "callback_query_id": id, "data": query["data"],
        "from": query["from"], "chat_id": chat_id, "message_id": message_id,
        "chat_instance": query["chat_instance"],
    });
    out.upserts.push(Record {
        entity: "callback_queries".into(),
        id: id.to_string(),
        data: payload.clone(),
    });
    out.events.push(EmittedEvent {
        event_type: "callback_query.received".into(),
        payload,
    });
    Ok(())
}
