//! Updates from users, as Telegram sends them to a bot's webhook: the `Update` JSON (a
//! message with `bot_command` entities, media as `PhotoSize` arrays, `voice`, `audio` and
//! `document` objects, edits, callback queries), POSTed with the webhook's secret token in
//! `X-Telegram-Bot-Api-Secret-Token`, only for the update types `allowed_updates` lets through.

use super::methods::{chat_of, photo_sizes};
use super::routes::ApiError;
use super::{Bot, Bots};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Something a user does that becomes an update.
#[derive(Debug, Clone)]
pub enum Push {
    /// A text message; `/commands` in it get `bot_command` entities.
    Text { chat_id: i64, text: String },
    Photo {
        chat_id: i64,
        bytes: Vec<u8>,
        caption: Option<String>,
    },
    Voice {
        chat_id: i64,
        bytes: Vec<u8>,
        duration: u32,
    },
    Audio {
        chat_id: i64,
        bytes: Vec<u8>,
        duration: u32,
        title: Option<String>,
    },
    Document {
        chat_id: i64,
        bytes: Vec<u8>,
        file_name: String,
        mime_type: String,
        caption: Option<String>,
    },
    /// The user edits a message they sent earlier.
    Edited {
        chat_id: i64,
        message_id: i64,
        text: String,
    },
    /// The user presses an inline keyboard button under a bot's message.
    Callback {
        chat_id: i64,
        message_id: i64,
        data: String,
    },
}

impl Push {
    pub fn text(chat_id: i64, text: &str) -> Self {
        Push::Text {
            chat_id,
            text: text.into(),
        }
    }

    /// A command such as `/status@my_bot now` (a text message starting with one).
    pub fn command(chat_id: i64, command: &str) -> Self {
        Self::text(chat_id, command)
    }
}

/// A delivered update and the webhook's answer.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub update_id: i64,
    pub status: u16,
    pub update: Value,
}

fn user(chat_id: i64) -> Value {
    let id = if chat_id > 0 { chat_id } else { 1001 };
    json!({"id": id, "is_bot": false, "first_name": "Ada", "last_name": "Lovelace",
           "username": "ada", "language_code": "en"})
}

/// `bot_command` entities for every `/command` starting a word.
fn command_entities(text: &str) -> Vec<Value> {
    let mut entities = Vec::new();
    let mut offset = 0usize;
    let mut prev_space = true;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && prev_space {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == '@')
            {
                j += 1;
            }
            if j > i + 1 {
                let length: usize = chars[i..j].iter().map(|c| c.len_utf16()).sum();
                entities.push(json!({"type": "bot_command", "offset": offset, "length": length}));
                offset += length;
                prev_space = false;
                i = j;
                continue;
            }
        }
        offset += c.len_utf16();
        prev_space = c.is_whitespace();
        i += 1;
    }
    entities
}

/// The update for `push` (stored as the bot would see it) and its type.
fn build(bot: &mut Bot, push: Push) -> Result<(Value, &'static str), String> {
    let now = chrono::Utc::now().timestamp();
    let update_id = bot.update_id();
    let chat_id = match &push {
        Push::Text { chat_id, .. }
        | Push::Photo { chat_id, .. }
        | Push::Voice { chat_id, .. }
        | Push::Audio { chat_id, .. }
        | Push::Document { chat_id, .. }
        | Push::Edited { chat_id, .. }
        | Push::Callback { chat_id, .. } => *chat_id,
    };
    let mut message = json!({"from": user(chat_id), "chat": chat_of(chat_id), "date": now});
    let caption = |message: &mut Value, caption: Option<String>| {
        if let Some(c) = caption.filter(|c| !c.is_empty()) {
            message["caption"] = c.into();
        }
    };
    match push {
        Push::Text { text, .. } => {
            let entities = command_entities(&text);
            if !entities.is_empty() {
                message["entities"] = entities.into();
            }
            message["text"] = text.into();
        }
        Push::Photo {
            bytes, caption: c, ..
        } => {
            let file = bot.store_file("photos", "jpg", bytes);
            message["photo"] = photo_sizes(bot, &file);
            caption(&mut message, c);
        }
        Push::Voice {
            bytes, duration, ..
        } => {
            let file = bot.store_file("voice", "oga", bytes);
            message["voice"] = json!({"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                "duration": duration, "mime_type": "audio/ogg", "file_size": file.bytes.len()});
        }
        Push::Audio {
            bytes,
            duration,
            title,
            ..
        } => {
            let file = bot.store_file("music", "mp3", bytes);
            message["audio"] = json!({"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                "duration": duration, "title": title, "file_name": "track.mp3",
                "mime_type": "audio/mpeg", "file_size": file.bytes.len()});
        }
        Push::Document {
            bytes,
            file_name,
            mime_type,
            caption: c,
            ..
        } => {
            let ext = file_name
                .rsplit_once('.')
                .map(|(_, e)| e)
                .unwrap_or("bin")
                .to_string();
            let file = bot.store_file("documents", &ext, bytes);
            message["document"] = json!({"file_id": file.file_id, "file_unique_id": file.file_unique_id,
                "file_name": file_name, "mime_type": mime_type, "file_size": file.bytes.len()});
            caption(&mut message, c);
        }
        Push::Edited {
            message_id, text, ..
        } => {
            let original = bot
                .messages
                .get_mut(&(chat_id, message_id))
                .filter(|m| m["from"]["is_bot"] == false)
                .ok_or("the user sent no such message")?;
            original["text"] = text.clone().into();
            original["edit_date"] = now.into();
            let mut edited = original.clone();
            let entities = command_entities(&text);
            if !entities.is_empty() {
                edited["entities"] = entities.into();
            }
            return Ok((
                json!({"update_id": update_id, "edited_message": edited}),
                "edited_message",
            ));
        }
        Push::Callback {
            message_id, data, ..
        } => {
            let original = bot
                .messages
                .get(&(chat_id, message_id))
                .cloned()
                .ok_or("the bot sent no such message")?;
            let id = format!("{}{:06}", bot.seed.id, update_id % 1_000_000);
            bot.callbacks.insert(id.clone());
            let query = json!({"id": id, "from": user(chat_id), "message": original,
                "chat_instance": format!("-{}", chat_id.unsigned_abs() * 31), "data": data});
            return Ok((
                json!({"update_id": update_id, "callback_query": query}),
                "callback_query",
            ));
        }
    }
    let message_id = bot.message_id();
    message["message_id"] = message_id.into();
    bot.messages.insert((chat_id, message_id), message.clone());
    Ok((
        json!({"update_id": update_id, "message": message}),
        "message",
    ))
}

pub async fn deliver(bots: &Bots, token: &str, push: Push) -> Result<Delivery, String> {
    let (update, url, secret) = bots
        .with_bot(token, |bot| {
            let webhook = bot.webhook.clone().ok_or("no webhook is set")?;
            let (update, kind) = build(bot, push)?;
            let allowed = webhook.allowed_updates.as_deref().unwrap_or_default();
            if !allowed.is_empty() && !allowed.iter().any(|a| a == kind) {
                return Err(format!("{kind} is not in the webhook's allowed_updates"));
            }
            Ok((update, webhook.url, webhook.secret_token))
        })
        .ok_or("no such bot")??;
    let status = send(bots, token, &url, &update, secret.as_deref()).await?;
    Ok(Delivery {
        update_id: update["update_id"].as_i64().unwrap_or_default(),
        status,
        update,
    })
}

pub async fn post_raw(
    bots: &Bots,
    token: &str,
    update: &Value,
    secret: Option<&str>,
) -> Result<u16, String> {
    let url = bots
        .with_bot(token, |b| b.webhook.as_ref().map(|w| w.url.clone()))
        .flatten()
        .ok_or("no webhook is set")?;
    send(bots, token, &url, update, secret).await
}

async fn send(
    bots: &Bots,
    token: &str,
    url: &str,
    update: &Value,
    secret: Option<&str>,
) -> Result<u16, String> {
    let mut req = bots
        .http
        .post(url)
        .header("Content-Type", "application/json")
        .body(update.to_string());
    if let Some(secret) = secret {
        req = req.header(SECRET_HEADER, secret);
    }
    let status = match req.send().await {
        Ok(resp) => resp.status(),
        Err(e) => {
            let error = format!("Connection refused: {}", e.without_url());
            bots.with_bot(token, |b| {
                if let Some(w) = &mut b.webhook {
                    w.last_error = Some(error.clone());
                }
            });
            return Err(error);
        }
    };
    if !status.is_success() {
        bots.with_bot(token, |b| {
            if let Some(w) = &mut b.webhook {
                w.last_error = Some(format!("Wrong response from the webhook: {status}"));
            }
        });
    }
    Ok(status.as_u16())
}

/// What the dev route takes: `{"kind": "text"|"command"|"photo"|"voice"|"audio"|"document"|
/// "edited"|"callback", "chat_id"?, "text"?, "caption"?, "data"?, "message_id"?,
/// "file_base64"?, "file_name"?, "mime_type"?}`.
#[derive(Deserialize)]
pub struct DevPush {
    kind: String,
    #[serde(default = "default_chat")]
    chat_id: i64,
    text: Option<String>,
    caption: Option<String>,
    data: Option<String>,
    message_id: Option<i64>,
    file_base64: Option<String>,
    file_name: Option<String>,
    mime_type: Option<String>,
}

fn default_chat() -> i64 {
    1001
}

/// A 1×1 PNG for media pushed without a file.
const PIXEL: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

impl DevPush {
    fn into_push(self) -> Result<Push, String> {
        let bytes = match &self.file_base64 {
            Some(b) => STANDARD
                .decode(b)
                .map_err(|_| "file_base64 is not base64")?,
            None => PIXEL.to_vec(),
        };
        let chat_id = self.chat_id;
        let need = |v: Option<String>, what: &str| v.ok_or(format!("{what} is required"));
        let need_id = |v: Option<i64>| v.ok_or("message_id is required".to_string());
        Ok(match self.kind.as_str() {
            "text" | "command" => Push::Text {
                chat_id,
                text: need(self.text, "text")?,
            },
            "photo" => Push::Photo {
                chat_id,
                bytes,
                caption: self.caption,
            },
            "voice" => Push::Voice {
                chat_id,
                bytes,
                duration: 3,
            },
            "audio" => Push::Audio {
                chat_id,
                bytes,
                duration: 3,
                title: self.caption,
            },
            "document" => Push::Document {
                chat_id,
                bytes,
                file_name: self.file_name.unwrap_or_else(|| "file.png".into()),
                mime_type: self.mime_type.unwrap_or_else(|| "image/png".into()),
                caption: self.caption,
            },
            "edited" => Push::Edited {
                chat_id,
                message_id: need_id(self.message_id)?,
                text: need(self.text, "text")?,
            },
            "callback" => Push::Callback {
                chat_id,
                message_id: need_id(self.message_id)?,
                data: need(self.data, "data")?,
            },
            other => return Err(format!("unknown kind '{other}'")),
        })
    }
}

/// `POST /_emulator/bot{token}/push`: pushes an update to the bot's webhook.
pub async fn dev_push(
    State(bots): State<Arc<Bots>>,
    Path(bot): Path<String>,
    Json(body): Json<DevPush>,
) -> Response {
    let Some(token) = bot
        .strip_prefix("bot")
        .filter(|t| bots.all().contains_key(*t))
    else {
        return ApiError {
            code: 401,
            description: "Unauthorized".into(),
            retry_after: None,
        }
        .into_response();
    };
    let token = token.to_string();
    let result = match body.into_push() {
        Ok(push) => deliver(&bots, &token, push).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(d) => Json(json!({"ok": true, "result": {"update_id": d.update_id, "webhook_status": d.status, "update": d.update}})).into_response(),
        Err(e) => ApiError::bad(e).into_response(),
    }
}
