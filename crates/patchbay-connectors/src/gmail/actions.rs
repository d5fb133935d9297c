//! Gmail's write-back and live reads: search, threads, sending and replying, drafts, labels,
//! attachments and the trash.

use super::client::Api;
use super::compose::{self, draft_from, raw, reply_subject};
use super::message;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use patchbay_core::{ConnectorError, FieldError};
use serde_json::{json, Value};

/// Attachments larger than this are refused unless the input allows more.
const DEFAULT_ATTACHMENT_LIMIT: u64 = 10 * 1024 * 1024;

fn str_field<'a>(input: &'a Value, field: &str) -> &'a str {
    input[field].as_str().unwrap_or_default()
}

/// The sent or saved message as the caller gets it.
fn sent(v: &Value) -> Value {
    json!({"id": v["id"], "thread_id": v["threadId"], "label_ids": v["labelIds"]})
}

pub async fn search(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let max = input["max_results"].as_u64().unwrap_or(20).clamp(1, 100);
    let list = api
        .get(
            &["messages"],
            &[
                ("q", str_field(input, "q").to_string()),
                ("maxResults", max.to_string()),
            ],
        )
        .await?;
    let mut out = Vec::new();
    for m in list["messages"].as_array().into_iter().flatten() {
        let id = m["id"].as_str().unwrap_or_default();
        let msg = api
            .get(
                &["messages", id],
                &[
                    ("format", "metadata".into()),
                    ("metadataHeaders", "Subject".into()),
                    ("metadataHeaders", "From".into()),
                    ("metadataHeaders", "Date".into()),
                ],
            )
            .await?;
        let (data, _) = message::record(&msg);
        out.push(
            json!({"id": id, "thread_id": m["threadId"], "snippet": msg["snippet"],
                        "subject": data["subject"], "from": data["from"], "date": data["date"]}),
        );
    }
    Ok(json!({"messages": out, "result_size_estimate": list["resultSizeEstimate"]}))
}

pub async fn get_thread(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let id = str_field(input, "thread_id");
    let thread = api
        .get(&["threads", id], &[("format", "full".into())])
        .await?;
    let messages: Vec<Value> = thread["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| message::record(m).0)
        .collect();
    Ok(json!({"id": id, "history_id": thread["historyId"], "messages": messages}))
}

pub async fn send_email(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let draft = draft_from(input, true)?;
    let mut body = json!({"raw": raw(&draft, None)?});
    if let Some(t) = input["thread_id"].as_str() {
        body["threadId"] = json!(t);
    }
    Ok(sent(&api.post(&["messages", "send"], &body).await?))
}

/// Replies to the thread's last message: its Message-ID becomes In-Reply-To and joins
/// References; the recipients are its sender (and with `reply_all`, everyone else but us).
pub async fn reply_to_thread(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let thread_id = str_field(input, "thread_id");
    let thread = api
        .get(&["threads", thread_id], &[("format", "metadata".into())])
        .await?;
    let last = thread["messages"]
        .as_array()
        .and_then(|m| m.last())
        .ok_or_else(|| ConnectorError::NotFound(format!("thread {thread_id} has no messages")))?;
    let (last, _) = message::record(last);
    let me = api.get(&["profile"], &[]).await?["emailAddress"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut draft = draft_from(input, false)?;
    let mailbox = |a: &Value| compose::Mailbox {
        name: a["name"].as_str().map(str::to_string),
        address: a["address"].as_str().unwrap_or_default().to_string(),
    };
    let sender = last["reply_to"]
        .as_array()
        .filter(|r| !r.is_empty())
        .or_else(|| last["from"].as_array())
        .cloned()
        .unwrap_or_default();
    // Replying to our own last message goes to its recipients instead.
    let from_me = sender.iter().all(|a| a["address"] == me.as_str());
    let primary = if from_me {
        last["to"].as_array().cloned().unwrap_or_default()
    } else {
        sender
    };
    draft.to = primary.iter().map(mailbox).collect();
    if input["reply_all"].as_bool().unwrap_or(false) {
        for field in ["to", "cc"] {
            for a in last[field].as_array().into_iter().flatten() {
                let m = mailbox(a);
                if m.address != me && !draft.to.contains(&m) && !draft.cc.contains(&m) {
                    draft.cc.push(m);
                }
            }
        }
    }
    if draft.to.is_empty() {
        return Err(ConnectorError::InvalidInput(vec![FieldError::new(
            "thread_id",
            "no_recipient",
            "the thread's last message names no one to reply to",
        )]));
    }
    draft.subject = Some(reply_subject(last["subject"].as_str().unwrap_or_default()));
    if let Some(id) = last["message_id"].as_str() {
        draft.in_reply_to = Some(id.to_string());
        draft.references = last["references"]
            .as_str()
            .map(|r| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        draft.references.push(id.to_string());
    }
    let body = json!({"raw": raw(&draft, None)?, "threadId": thread_id});
    Ok(sent(&api.post(&["messages", "send"], &body).await?))
}

pub async fn create_draft(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let draft = draft_from(input, false)?;
    let d = api
        .post(
            &["drafts"],
            &json!({"message": {"raw": raw(&draft, None)?}}),
        )
        .await?;
    Ok(json!({"draft_id": d["id"], "message": sent(&d["message"])}))
}

pub async fn update_draft(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let id = str_field(input, "draft_id");
    let draft = draft_from(input, false)?;
    let d = api
        .put(
            &["drafts", id],
            &json!({"id": id, "message": {"raw": raw(&draft, None)?}}),
        )
        .await?;
    Ok(json!({"draft_id": d["id"], "message": sent(&d["message"])}))
}

pub async fn send_draft(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let id = str_field(input, "draft_id");
    Ok(sent(
        &api.post(&["drafts", "send"], &json!({"id": id})).await?,
    ))
}

pub async fn modify_labels(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let id = str_field(input, "message_id");
    let list = |f: &str| -> Vec<String> {
        input[f]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let (mut add, mut remove) = (list("add"), list("remove"));
    match input["mark_read"].as_bool() {
        Some(true) => remove.push("UNREAD".into()),
        Some(false) => add.push("UNREAD".into()),
        None => {}
    }
    if input["archive"].as_bool() == Some(true) {
        remove.push("INBOX".into());
    }
    if add.is_empty() && remove.is_empty() {
        return Err(ConnectorError::InvalidInput(vec![FieldError::new(
            "add",
            "required",
            "nothing to change: give add, remove, mark_read or archive",
        )]));
    }
    let m = api
        .post(
            &["messages", id, "modify"],
            &json!({"addLabelIds": add, "removeLabelIds": remove}),
        )
        .await?;
    Ok(sent(&m))
}

pub async fn get_attachment(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let (mid, aid) = (
        str_field(input, "message_id"),
        str_field(input, "attachment_id"),
    );
    let limit = input["max_bytes"]
        .as_u64()
        .unwrap_or(DEFAULT_ATTACHMENT_LIMIT);
    let a = api.get(&["messages", mid, "attachments", aid], &[]).await?;
    let size = a["size"].as_u64().unwrap_or(0);
    if size > limit {
        return Err(ConnectorError::InvalidInput(vec![FieldError::new(
            "max_bytes",
            "too_large",
            format!("the attachment has {size} bytes, more than the {limit} allowed"),
        )]));
    }
    let bytes = a["data"]
        .as_str()
        .and_then(message::decode_data)
        .ok_or_else(|| {
            ConnectorError::BadResponse("the attachment data is not base64url".into())
        })?;
    Ok(
        json!({"message_id": mid, "attachment_id": aid, "size": bytes.len(),
              "content_base64": STANDARD.encode(bytes)}),
    )
}

pub async fn trash(api: &Api<'_>, input: &Value) -> Result<Value, ConnectorError> {
    let id = str_field(input, "message_id");
    Ok(sent(
        &api.post(&["messages", id, "trash"], &json!({})).await?,
    ))
}
