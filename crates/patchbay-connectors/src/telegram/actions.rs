//! The actions: messages (Markdown to Telegram HTML, split into messages Telegram accepts),
//! photos and documents (multipart uploads, URLs or file ids), edits, and answers to button
//! presses. The engine has checked each input against its schema.

use super::client::Api;
use super::markdown::{escape, to_html};
use super::split::{split, visible_len, MESSAGE_LIMIT};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use patchbay_core::{ConnectorError, FieldError};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

/// Telegram's limit for a caption.
const CAPTION_LIMIT: usize = 1024;

fn invalid(field: &str, code: &str, message: impl Into<String>) -> ConnectorError {
    ConnectorError::InvalidInput(vec![FieldError::new(field, code, message)])
}

/// `text` in `format` as Telegram HTML.
pub fn html_of(text: &str, format: Option<&str>) -> String {
    match format.unwrap_or("markdown") {
        "html" => text.to_string(),
        "text" => escape(text),
        _ => to_html(text),
    }
}

pub async fn run(api: &Api<'_>, action: &str, input: &Value) -> Result<Value, ConnectorError> {
    match action {
        "send_message" => send_message(api, input).await,
        "send_photo" => send_file(api, input, "photo", "sendPhoto").await,
        "send_document" => send_file(api, input, "document", "sendDocument").await,
        "edit_message" => edit_message(api, input).await,
        "answer_callback_query" => {
            let mut params = json!({"callback_query_id": input["callback_query_id"]});
            for field in ["text", "show_alert", "url", "cache_time"] {
                if let Some(v) = input.get(field) {
                    params[field] = v.clone();
                }
            }
            api.call("answerCallbackQuery", &params).await?;
            Ok(json!({"answered": true}))
        }
        other => Err(ConnectorError::Unknown {
            kind: "action",
            key: other.into(),
        }),
    }
}

async fn send_message(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let text = input["text"].as_str().unwrap_or_default();
    let html = html_of(text, input["format"].as_str());
    let chunks = split(&html, MESSAGE_LIMIT);
    if chunks.is_empty() {
        return Err(invalid(
            "text",
            "empty",
            "the text has nothing to show once converted",
        ));
    }
    let last = chunks.len() - 1;
    let mut sent = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut params = json!({"chat_id": input["chat_id"], "text": chunk, "parse_mode": "HTML"});
        if i == 0 {
            if let Some(reply) = input.get("reply_to_message_id") {
                params["reply_parameters"] = json!({"message_id": reply});
            }
        }
        if i == last {
            if let Some(markup) = input.get("reply_markup") {
                params["reply_markup"] = markup.clone();
            }
        }
        if let Some(quiet) = input.get("disable_notification") {
            params["disable_notification"] = quiet.clone();
        }
        let message = api.call("sendMessage", &params).await?;
        sent.push(message["message_id"].clone());
    }
    Ok(json!({"chat_id": input["chat_id"], "message_ids": sent, "parts": chunks.len()}))
}

async fn edit_message(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let text = input["text"].as_str().unwrap_or_default();
    let html = html_of(text, input["format"].as_str());
    if visible_len(&html) > MESSAGE_LIMIT {
        return Err(invalid(
            "text",
            "too_long",
            format!("an edited message holds at most {MESSAGE_LIMIT} characters"),
        ));
    }
    let mut params = json!({"chat_id": input["chat_id"], "message_id": input["message_id"],
                            "text": html, "parse_mode": "HTML"});
    if let Some(markup) = input.get("reply_markup") {
        params["reply_markup"] = markup.clone();
    }
    let message = api.call("editMessageText", &params).await?;
    Ok(json!({"chat_id": input["chat_id"], "message_id": message["message_id"], "edited": true}))
}

/// `photo` or `document`, from bytes, a URL or a file id (exactly one).
async fn send_file(
    api: &Api<'_>,
    input: &Value,
    field: &str,
    method: &str,
) -> Result<Value, ConnectorError> {
    let b64 = input[format!("{field}_base64")].as_str();
    let url = input[format!("{field}_url")].as_str();
    let file_id = input["file_id"].as_str();
    let given = [b64.is_some(), url.is_some(), file_id.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(invalid(
            field,
            "one_of",
            format!("give exactly one of {field}_base64, {field}_url or file_id"),
        ));
    }
    let caption = input["caption"]
        .as_str()
        .map(|c| html_of(c, input["format"].as_str()));
    if caption
        .as_deref()
        .is_some_and(|c| visible_len(c) > CAPTION_LIMIT)
    {
        return Err(invalid(
            "caption",
            "too_long",
            format!("a caption holds at most {CAPTION_LIMIT} characters"),
        ));
    }
    let chat_id = match &input["chat_id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut form = Form::new().text("chat_id", chat_id);
    if let Some(c) = caption {
        form = form.text("caption", c).text("parse_mode", "HTML");
    }
    if let Some(reply) = input.get("reply_to_message_id") {
        form = form.text("reply_parameters", json!({"message_id": reply}).to_string());
    }
    if let Some(markup) = input.get("reply_markup") {
        form = form.text("reply_markup", markup.to_string());
    }
    form = match (b64, url.or(file_id)) {
        (Some(b64), _) => {
            let bytes = STANDARD
                .decode(b64.trim())
                .map_err(|_| invalid(&format!("{field}_base64"), "base64", "not valid base64"))?;
            if bytes.is_empty() {
                return Err(invalid(
                    &format!("{field}_base64"),
                    "empty",
                    "the file is empty",
                ));
            }
            let default_name = if field == "photo" {
                "photo.jpg"
            } else {
                "file"
            };
            let name = input["filename"]
                .as_str()
                .unwrap_or(default_name)
                .to_string();
            let mut part = Part::bytes(bytes).file_name(name);
            if let Some(ct) = input["content_type"].as_str() {
                part = part
                    .mime_str(ct)
                    .map_err(|_| invalid("content_type", "format", "not a media type"))?;
            }
            form.part(field.to_string(), part)
        }
        (None, Some(named)) => form.text(field.to_string(), named.to_string()),
        (None, None) => form,
    };
    let message = api.call_multipart(method, form).await?;
    let file = match field {
        "photo" => message["photo"]
            .as_array()
            .and_then(|sizes| sizes.last())
            .cloned()
            .unwrap_or(Value::Null),
        _ => message[field].clone(),
    };
    Ok(
        json!({"chat_id": input["chat_id"], "message_id": message["message_id"],
              "file_id": file["file_id"], "file_unique_id": file["file_unique_id"]}),
    )
}
