//! The Bot API methods: each takes the bot and its parameters and answers the `result` (and
//! the `description` some methods add) or Telegram's error.

use super::html::parse_html;
use super::routes::{ApiError, InputFile, Params, Upload};
use super::{Bot, StoredFile, Webhook};
use serde_json::{json, Value};

type Answer = Result<(Value, Option<&'static str>), ApiError>;

/// Longest message text and caption, in UTF-16 code units after entity parsing.
pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;
/// Bots may download files up to this size.
const MAX_DOWNLOAD: usize = 20 * 1024 * 1024;

pub fn dispatch(bot: &mut Bot, method: &str, p: &Params) -> Answer {
    let plain = |v: Value| Ok((v, None));
    match method {
        "getme" => plain(bot.user()),
        "setwebhook" => set_webhook(bot, p),
        "deletewebhook" => {
            let had = bot.webhook.take().is_some();
            let d = if had {
                "Webhook was deleted"
            } else {
                "Webhook is already deleted"
            };
            Ok((true.into(), Some(d)))
        }
        "getwebhookinfo" => plain(webhook_info(bot)),
        "setmycommands" => set_my_commands(bot, p),
        "getmycommands" => plain(Value::Array(bot.commands.clone())),
        "deletemycommands" => {
            bot.commands.clear();
            plain(true.into())
        }
        "sendmessage" => send_message(bot, p),
        "editmessagetext" => edit_message_text(bot, p),
        "answercallbackquery" => answer_callback_query(bot, p),
        "sendphoto" => send_media(bot, p, "photo"),
        "senddocument" => send_media(bot, p, "document"),
        "getfile" => get_file(bot, p),
        _ => Err(ApiError {
            code: 404,
            description: "Not Found".into(),
            retry_after: None,
        }),
    }
}

fn set_webhook(bot: &mut Bot, p: &Params) -> Answer {
    let url = p.str("url").unwrap_or_default();
    if url.is_empty() {
        bot.webhook = None;
        return Ok((true.into(), Some("Webhook was deleted")));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::bad(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    let secret_token = p.str("secret_token").filter(|s| !s.is_empty());
    if let Some(secret) = &secret_token {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if secret.len() > 256 || !secret.chars().all(allowed) {
            return Err(ApiError::bad("secret token contains unallowed characters"));
        }
    }
    let allowed_updates = match p.json("allowed_updates")? {
        None => bot.webhook.as_ref().and_then(|w| w.allowed_updates.clone()),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::bad("can't parse allowed updates"))?,
        ),
        Some(_) => return Err(ApiError::bad("can't parse allowed updates")),
    };
    let max_connections = p.int("max_connections")?.unwrap_or(40);
    if !(1..=100).contains(&max_connections) {
        return Err(ApiError::bad(
            "bad webhook: max_connections must be between 1 and 100",
        ));
    }
    let same = bot.webhook.as_ref().is_some_and(|w| w.url == url);
    bot.webhook = Some(Webhook {
        url,
        secret_token,
        allowed_updates,
        max_connections: max_connections as u32,
        last_error: None,
    });
    let d = if same {
        "Webhook is already set"
    } else {
        "Webhook was set"
    };
    Ok((true.into(), Some(d)))
}

fn webhook_info(bot: &Bot) -> Value {
    let Some(w) = &bot.webhook else {
        return json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0});
    };
    let mut info = json!({
        "url": w.url, "has_custom_certificate": false, "pending_update_count": 0,
        "max_connections": w.max_connections, "ip_address": "127.0.0.1"
    });
    if let Some(allowed) = &w.allowed_updates {
        info["allowed_updates"] = json!(allowed);
    }
    if let Some(error) = &w.last_error {
        info["last_error_date"] = chrono::Utc::now().timestamp().into();
        info["last_error_message"] = error.clone().into();
    }
    info
}

fn set_my_commands(bot: &mut Bot, p: &Params) -> Answer {
    let Some(Value::Array(commands)) = p.json("commands")? else {
        return Err(ApiError::bad("parameter \"commands\" is required"));
    };
    if commands.len() > 100 {
        return Err(ApiError::bad("too many commands specified"));
    }
    let mut stored = Vec::new();
    for c in &commands {
        let command = c["command"].as_str().unwrap_or_default();
        let description = c["description"].as_str().unwrap_or_default();
        let valid = (1..=32).contains(&command.len())
            && command
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !valid {
            return Err(ApiError::bad("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&description.chars().count()) {
            return Err(ApiError::bad("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
        stored.push(json!({"command": command, "description": description}));
    }
    bot.commands = stored;
    Ok((true.into(), None))
}

/// `(text, entities)` of a text or caption after its `parse_mode`.
fn formatted(
    p: &Params,
    field: &str,
    max: usize,
    too_long: &str,
) -> Result<(String, Vec<Value>), ApiError> {
    let raw = p.str(field).unwrap_or_default();
    let (text, entities) = match p.str("parse_mode").as_deref() {
        Some(mode) if mode.eq_ignore_ascii_case("html") => {
            parse_html(&raw).map_err(|e| ApiError::bad(format!("can't parse entities: {e}")))?
        }
        _ => (raw, Vec::new()),
    };
    if text.encode_utf16().count() > max {
        return Err(ApiError::bad(too_long));
    }
    Ok((text, entities.iter().map(|e| e.to_json()).collect()))
}

fn chat(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({"id": chat_id, "first_name": "Ada", "username": "ada", "type": "private"})
    } else {
        json!({"id": chat_id, "title": "Patchbay group", "type": "supergroup"})
    }
}

pub fn chat_of(chat_id: i64) -> Value {
    chat(chat_id)
}

fn chat_id(p: &Params) -> Result<i64, ApiError> {
    p.int("chat_id")?
        .ok_or_else(|| ApiError::bad("chat not found"))
}

/// A new message from the bot with the common fields and the reply, if any.
fn new_message(bot: &mut Bot, p: &Params, chat_id: i64) -> Result<Value, ApiError> {
    let reply_to = match p.int("reply_to_message_id")? {
        Some(id) => Some(id),
        None => p
            .json("reply_parameters")?
            .and_then(|r| r["message_id"].as_i64()),
    };
    let mut message = json!({
        "message_id": 0, "from": bot.user(), "chat": chat(chat_id),
        "date": chrono::Utc::now().timestamp(),
    });
    if let Some(id) = reply_to {
        let original = bot
            .messages
            .get(&(chat_id, id))
            .cloned()
            .ok_or_else(|| ApiError::bad("message to be replied not found"))?;
        message["reply_to_message"] = original;
    }
    if let Some(markup) = p.json("reply_markup")? {
        if markup.get("inline_keyboard").is_some() {
            message["reply_markup"] = markup;
        }
    }
    message["message_id"] = bot.message_id().into();
    Ok(message)
}

fn send_message(bot: &mut Bot, p: &Params) -> Answer {
    let chat_id = chat_id(p)?;
    let (text, entities) = formatted(p, "text", MAX_TEXT, "message is too long")?;
    if text.trim().is_empty() {
        return Err(ApiError::bad("message text is empty"));
    }
    let mut message = new_message(bot, p, chat_id)?;
    message["text"] = text.into();
    if !entities.is_empty() {
        message["entities"] = entities.into();
    }
    let id = message["message_id"].as_i64().unwrap_or_default();
    bot.messages.insert((chat_id, id), message.clone());
    Ok((message, None))
}

fn edit_message_text(bot: &mut Bot, p: &Params) -> Answer {
    if p.str("inline_message_id").is_some() {
        return Err(ApiError::bad("inline messages are not emulated"));
    }
    let chat_id = chat_id(p)?;
    let message_id = p
        .int("message_id")?
        .ok_or_else(|| ApiError::bad("message identifier is not specified"))?;
    let (text, entities) = formatted(p, "text", MAX_TEXT, "MESSAGE_TOO_LONG")?;
    if text.trim().is_empty() {
        return Err(ApiError::bad("message text is empty"));
    }
    let bot_id = bot.seed.id;
    let markup = p.json("reply_markup")?;
    let message = bot
        .messages
        .get_mut(&(chat_id, message_id))
        .filter(|m| m["from"]["id"].as_i64() == Some(bot_id))
        .ok_or_else(|| ApiError::bad("message to edit not found"))?;
    let entities = Value::from(entities);
    let same_entities = message.get("entities").unwrap_or(&json!([])) == &entities;
    if message["text"] == text && same_entities && markup.as_ref() == message.get("reply_markup") {
        return Err(ApiError::bad(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    message["text"] = text.into();
    message["entities"] = entities;
    message["edit_date"] = chrono::Utc::now().timestamp().into();
    if let Some(markup) = markup {
        message["reply_markup"] = markup;
    }
    Ok((message.clone(), None))
}

fn answer_callback_query(bot: &mut Bot, p: &Params) -> Answer {
    let id = p.str("callback_query_id").unwrap_or_default();
    if !bot.callbacks.remove(&id) {
        return Err(ApiError::bad(
            "query is too old and response timeout expired or query ID is invalid",
        ));
    }
    let text = p.str("text").unwrap_or_default();
    if text.chars().count() > 200 {
        return Err(ApiError::bad("MESSAGE_TOO_LONG"));
    }
    bot.answered_callbacks.push(json!({
        "callback_query_id": id, "text": text, "show_alert": p.bool("show_alert"),
    }));
    Ok((true.into(), None))
}

/// The file a send method names: a new upload or a file id the bot may use.
fn input_file(
    bot: &mut Bot,
    p: &Params,
    field: &str,
    dir: &str,
) -> Result<(StoredFile, Option<Upload>), ApiError> {
    match p.file(field) {
        Some(InputFile::Upload(upload)) => {
            if upload.bytes.is_empty() {
                return Err(ApiError::bad("file must be non-empty"));
            }
            let ext = upload
                .filename
                .as_deref()
                .and_then(|f| f.rsplit_once('.').map(|(_, e)| e.to_string()))
                .unwrap_or_else(|| {
                    if dir == "photos" {
                        "jpg".into()
                    } else {
                        "bin".into()
                    }
                });
            let stored = bot.store_file(dir, &ext, upload.bytes.clone());
            Ok((stored, Some(upload)))
        }
        Some(InputFile::Named(id)) => bot
            .files
            .get(&id)
            .cloned()
            .map(|f| (f, None))
            .ok_or_else(|| ApiError::bad("wrong file identifier/HTTP URL specified")),
        None => Err(ApiError::bad(format!("there is no {field} in the request"))),
    }
}

/// `photo` or `document`.
fn send_media(bot: &mut Bot, p: &Params, kind: &str) -> Answer {
    let chat_id = chat_id(p)?;
    let dir = if kind == "photo" {
        "photos"
    } else {
        "documents"
    };
    let (caption, entities) = formatted(p, "caption", MAX_CAPTION, "message caption is too long")?;
    let (file, upload) = input_file(bot, p, kind, dir)?;
    let mut message = new_message(bot, p, chat_id)?;
    if kind == "photo" {
        message["photo"] = photo_sizes(bot, &file);
    } else {
        let upload = upload.unwrap_or(Upload {
            bytes: file.bytes.clone(),
            filename: None,
            content_type: None,
        });
        message["document"] = json!({
            "file_id": file.file_id, "file_unique_id": file.file_unique_id,
            "file_name": upload.filename.unwrap_or_else(|| "document".into()),
            "mime_type": upload.content_type.unwrap_or_else(|| "application/octet-stream".into()),
            "file_size": file.bytes.len(),
        });
    }
    if !caption.is_empty() {
        message["caption"] = caption.into();
    }
    if !entities.is_empty() {
        message["caption_entities"] = entities.into();
    }
    let id = message["message_id"].as_i64().unwrap_or_default();
    bot.messages.insert((chat_id, id), message.clone());
    Ok((message, None))
}

/// The sizes Telegram makes of a photo, smallest first; the largest is the stored file and
/// the thumbnails share its bytes (the emulator does not scale images).
pub fn photo_sizes(bot: &mut Bot, file: &StoredFile) -> Value {
    let mut sizes = Vec::new();
    for (w, h, part) in [(90, 67, 8), (320, 240, 2)] {
        let cut = (file.bytes.len() / part).max(1).min(file.bytes.len());
        let thumb = bot.store_file("photos", "jpg", file.bytes[..cut].to_vec());
        sizes.push(
            json!({"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id,
            "file_size": thumb.bytes.len(), "width": w, "height": h}),
        );
    }
    sizes.push(
        json!({"file_id": file.file_id, "file_unique_id": file.file_unique_id,
        "file_size": file.bytes.len(), "width": 800, "height": 600}),
    );
    Value::Array(sizes)
}

fn get_file(bot: &mut Bot, p: &Params) -> Answer {
    let id = p.str("file_id").unwrap_or_default();
    let file = bot
        .files
        .get(&id)
        .ok_or_else(|| ApiError::bad("invalid file_id"))?;
    if file.bytes.len() > MAX_DOWNLOAD {
        return Err(ApiError::bad("file is too big"));
    }
    Ok((
        json!({"file_id": file.file_id, "file_unique_id": file.file_unique_id,
               "file_size": file.bytes.len(), "file_path": file.file_path}),
        None,
    ))
}
