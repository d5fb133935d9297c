//! GitHub webhook deliveries as record changes.
//!
//! - `pull_request`: the pull request record, state normalized (merged, closed, draft, open).
//! - `push` to a branch: one `commits` record per pushed commit (API-like shape with its
//!   `branch`), and a `branches` record `owner/repo/branch` with the head sha and the number of
//!   commits pushed; a deleted branch deletes that record. Tag pushes change nothing.
//! - `issues`: the issue record, deleted on `deleted`.
//! - `issue_comment`: a `comments` record `owner/repo/comment-id`, deleted on `deleted`.
//! - `ping` and other events: nothing. Deliveries from another GitHub App installation than
//!   the configured one change nothing either.

use super::records;
use crate::common::callback_json;
use crate::webhooks::{self, VerifyError};
use patchbay_core::{
    ConnectorContext, ConnectorError, InboundMessage, Record, WebhookOutcome, WebhookRequest,
    WebhookScheme,
};
use serde_json::{json, Value};

pub fn handle(
    ctx: &ConnectorContext,
    req: &WebhookRequest,
) -> Result<WebhookOutcome, ConnectorError> {
    // The engine verified already; checked again so the connector never trusts a body alone.
    let secret = ctx.secret("webhook_secret")?;
    let now = chrono::Utc::now().timestamp();
    webhooks::verify(WebhookScheme::GithubHmacSha256, req, secret.expose(), now).map_err(|e| {
        match e {
            VerifyError::NoSecret => ConnectorError::Config("webhook_secret is empty".into()),
            other => ConnectorError::Verification(other.to_string()),
        }
    })?;
    let event = req
        .header("X-GitHub-Event")
        .ok_or_else(|| ConnectorError::BadPayload("missing X-GitHub-Event header".into()))?
        .to_string();
    let payload = callback_json(&req.body)?;
    let action = payload.get("action").and_then(Value::as_str);
    let mut outcome = WebhookOutcome {
        delivery_id: req.header("X-GitHub-Delivery").map(str::to_string),
        event_type: match action {
            Some(a) => format!("{event}.{a}"),
            None => event.clone(),
        },
        ..Default::default()
    };
    if !same_installation(ctx, &payload) {
        return Ok(outcome);
    }
    let Some(repo) = payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
    else {
        return Ok(outcome);
    };
    match event.as_str() {
        "pull_request" => {
            let pr = object(&payload, "pull_request")?;
            outcome.upserts.push(records::pull_request(repo, pr)?);
        }
        "issues" => {
            let issue = object(&payload, "issue")?;
            let record = records::issue(repo, issue)?;
            if action == Some("deleted") {
                outcome.deletions.push((record.entity, record.id));
            } else {
                outcome.upserts.push(record);
            }
        }
        "issue_comment" => {
            let comment = object(&payload, "comment")?;
            let id = comment
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| ConnectorError::BadPayload("comment has no id".into()))?;
            let id = format!("{repo}/{id}");
            if action == Some("deleted") {
                outcome.deletions.push(("comments".into(), id));
            } else {
                let mut data = comment.clone();
                data["issue_number"] = payload
                    .pointer("/issue/number")
                    .cloned()
                    .unwrap_or(Value::Null);
                // New comments by people are chat for channel bindings; edits and bots are not.
                let by_bot = comment.pointer("/user/type").and_then(Value::as_str) == Some("Bot");
                if action == Some("created") && !by_bot {
                    if let Some(number) = data["issue_number"].as_u64() {
                        outcome.messages.push(InboundMessage {
                            channel_type: "github".into(),
                            channel_id: repo.to_string(),
                            thread: Some(number.to_string()),
                            message_id: id.clone(),
                            text: comment["body"].as_str().unwrap_or_default().to_string(),
                            author: comment.get("user").cloned().unwrap_or(Value::Null),
                            attachments: Vec::new(),
                        });
                    }
                }
                outcome.upserts.push(Record {
                    entity: "comments".into(),
                    id,
                    data,
                });
            }
        }
        "push" => push(repo, &payload, &mut outcome)?,
        _ => {}
    }
    Ok(outcome)
}

fn object<'a>(payload: &'a Value, key: &str) -> Result<&'a Value, ConnectorError> {
    payload
        .get(key)
        .filter(|v| v.is_object())
        .ok_or_else(|| ConnectorError::BadPayload(format!("missing {key}")))
}

/// False only when both the connection and the delivery name an installation, and they differ.
fn same_installation(ctx: &ConnectorContext, payload: &Value) -> bool {
    let configured = ctx.config.get("installation_id").and_then(installation);
    let sent = payload.pointer("/installation/id").and_then(installation);
    match (configured, sent) {
        (Some(c), Some(s)) => c == s,
        _ => true,
    }
}

/// An installation id given as a number or as a string of digits.
fn installation(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn push(repo: &str, payload: &Value, outcome: &mut WebhookOutcome) -> Result<(), ConnectorError> {
    let git_ref = payload
        .get("ref")
        .and_then(Value::as_str)
        .ok_or_else(|| ConnectorError::BadPayload("push has no ref".into()))?;
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return Ok(());
    };
    let branch_id = format!("{repo}/{branch}");
    if payload.get("deleted").and_then(Value::as_bool) == Some(true) {
        outcome.deletions.push(("branches".into(), branch_id));
        return Ok(());
    }
    let commits = payload
        .get("commits")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in &commits {
        let Some(sha) = c.get("id").and_then(Value::as_str) else {
            continue;
        };
        let person = |p: &str| {
            json!({
                "name": c.pointer(&format!("/{p}/name")),
                "email": c.pointer(&format!("/{p}/email")),
                "date": c.get("timestamp"),
            })
        };
        let data = json!({
            "sha": sha,
            "html_url": c.get("url"),
            "commit": {
                "message": c.get("message"),
                "author": person("author"),
                "committer": person("committer"),
            },
            "branch": branch,
            "distinct": c.get("distinct"),
        });
        outcome.upserts.push(records::commit(repo, &data)?);
    }
    outcome.upserts.push(Record {
        entity: "branches".into(),
        id: branch_id,
        data: json!({
            "repository": repo,
            "branch": branch,
            "head_sha": payload.get("after"),
            "before": payload.get("before"),
            "forced": payload.get("forced"),
            "pushed_commits": commits.len(),
            "pusher": payload.pointer("/pusher/name"),
        }),
    });
    Ok(())
}
