//! Webhook deliveries as GitHub sends them: payloads for `pull_request`, `push`, `issues`,
//! `issue_comment` and `ping`, signed with `X-Hub-Signature-256`, and posted to the URL a
//! test sets.

use super::model::Item;
use super::GitHub;
use crate::SignedCallback;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What happened to one delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: String,
    pub id: String,
    /// The receiver's status, or `None` when it could not be reached.
    pub status: Option<u16>,
    pub body: Vec<u8>,
}

/// HMAC-SHA256 (RFC 2104) over `body`.
pub fn hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random GUID like GitHub's delivery ids.
fn guid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The headers and body GitHub would send for `payload`.
pub fn sign(event: &str, secret: &str, payload: &Value) -> SignedCallback {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let signature = format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &body)));
    let headers: BTreeMap<String, String> = [
        ("X-GitHub-Event", event.to_string()),
        ("X-GitHub-Delivery", guid()),
        ("X-GitHub-Hook-ID", "1".to_string()),
        ("X-Hub-Signature-256", signature),
        ("User-Agent", "GitHub-Hookshot/emulator".to_string()),
        ("Content-Type", "application/json".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    SignedCallback { headers, body }
}

impl GitHub {
    fn envelope(&self, full: &str, sender: &str, action: Option<&str>) -> Option<Value> {
        let mut data = self.data();
        let repo = data.repos.get(full)?.json.clone();
        let mut v = json!({"repository": repo, "sender": data.user(sender)});
        if let Some(a) = action {
            v["action"] = a.into();
        }
        if let Some(id) = self.config.installation_id {
            v["installation"] =
                json!({"id": id, "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{id}")});
        }
        Some(v)
    }

    pub(super) fn secret(&self) -> String {
        self.hook()
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| self.config.webhook_secret.clone())
    }

    /// A signed event about an issue or pull request (`key` is `issue` or `pull_request`).
    pub(super) fn item_event(
        &self,
        event: &str,
        action: &str,
        full: &str,
        sender: &str,
        key: &str,
        item: &Value,
    ) -> Option<SignedCallback> {
        let mut payload = self.envelope(full, sender, Some(action))?;
        payload[key] = item.clone();
        if key == "pull_request" {
            payload["number"] = item["number"].clone();
        }
        Some(sign(event, &self.secret(), &payload))
    }

    pub(super) fn comment_event(
        &self,
        full: &str,
        sender: &str,
        issue: &Value,
        comment: &Value,
    ) -> Option<SignedCallback> {
        let mut payload = self.envelope(full, sender, Some("created"))?;
        payload["issue"] = issue.clone();
        payload["comment"] = comment.clone();
        Some(sign("issue_comment", &self.secret(), &payload))
    }

    /// Sends `cb` to the webhook URL, if one is set, and records the outcome.
    pub(super) async fn send(&self, cb: SignedCallback) -> Option<Delivery> {
        let (url, _) = self.hook().clone()?;
        let event = cb
            .headers
            .get("X-GitHub-Event")
            .cloned()
            .unwrap_or_default();
        let id = cb
            .headers
            .get("X-GitHub-Delivery")
            .cloned()
            .unwrap_or_default();
        let mut req = self.client.post(&url).body(cb.body.clone());
        for (k, v) in &cb.headers {
            req = req.header(k, v);
        }
        let status = req.send().await.ok().map(|r| r.status().as_u16());
        let delivery = Delivery {
            event,
            id,
            status,
            body: cb.body,
        };
        self.deliveries().push(delivery.clone());
        Some(delivery)
    }

    pub(super) async fn deliver_item_event(
        &self,
        event: &str,
        action: &str,
        full: &str,
        sender: &str,
        key: &str,
        item: &Value,
    ) {
        if self.hook().is_none() {
            return;
        }
        if let Some(cb) = self.item_event(event, action, full, sender, key, item) {
            self.send(cb).await;
        }
    }

    pub(super) async fn deliver_comment_event(
        &self,
        full: &str,
        sender: &str,
        issue: &Value,
        comment: &Value,
    ) {
        if self.hook().is_none() {
            return;
        }
        if let Some(cb) = self.comment_event(full, sender, issue, comment) {
            self.send(cb).await;
        }
    }

    /// Adds a comment to issue or pull request `number`; the comment and the issue view.
    pub(super) fn add_comment(
        &self,
        full: &str,
        number: u64,
        text: &str,
        author: &str,
    ) -> Option<(Value, Value)> {
        let mut data = self.data();
        let t = data.now();
        let user = data.user(author);
        let api = data.api.clone();
        let id = 900_000 + data.repos.values().map(|r| r.comments.len()).sum::<usize>() as u64 + 1;
        let r = data.repos.get_mut(full)?;
        let item = r.items.get_mut(&number)?;
        let (Item::Issue(v) | Item::Pull(v)) = item;
        let html = v["html_url"].as_str().unwrap_or_default().to_string();
        v["comments"] = (v["comments"].as_u64().unwrap_or(0) + 1).into();
        v["updated_at"] = t.clone().into();
        let comment = json!({
            "id": id,
            "node_id": format!("IC_kwDO{id}"),
            "url": format!("{api}/repos/{full}/issues/comments/{id}"),
            "html_url": format!("{html}#issuecomment-{id}"),
            "issue_url": format!("{api}/repos/{full}/issues/{number}"),
            "body": text,
            "user": user,
            "author_association": "OWNER",
            "created_at": t,
            "updated_at": t,
        });
        r.comments.push(comment.clone());
        let issue = r.issue_view(r.items.get(&number)?);
        Some((comment, issue))
    }

    /// Adds `count` commits to `branch` and builds the `push` event for them.
    pub(super) fn push(
        &self,
        full: &str,
        branch: &str,
        count: usize,
        pusher: &str,
    ) -> Option<SignedCallback> {
        let (before, commits) = {
            let mut data = self.data();
            let before = data
                .repos
                .get(full)?
                .branches
                .get(branch)
                .cloned()
                .unwrap_or_default();
            let mut commits = Vec::new();
            for i in 0..count {
                let t = data.now();
                let c = data.add_commit(
                    full,
                    branch,
                    &format!("Change {} on {branch}", i + 1),
                    pusher,
                    t,
                )?;
                commits.push(c);
            }
            (before, commits)
        };
        let zero = "0".repeat(40);
        let before = if before.is_empty() {
            zero.clone()
        } else {
            before
        };
        let after = commits.last().map_or(before.clone(), |c| {
            c["sha"].as_str().unwrap_or_default().to_string()
        });
        let push_commits: Vec<Value> = commits
            .iter()
            .map(|c| {
                let person =
                    |p: &Value| json!({"name": p["name"], "email": p["email"], "username": pusher});
                json!({
                    "id": c["sha"],
                    "tree_id": c["commit"]["tree"]["sha"],
                    "distinct": true,
                    "message": c["commit"]["message"],
                    "timestamp": c["commit"]["author"]["date"],
                    "url": c["html_url"],
                    "author": person(&c["commit"]["author"]),
                    "committer": person(&c["commit"]["committer"]),
                    "added": [], "removed": [], "modified": ["README.md"],
                })
            })
            .collect();
        let mut payload = self.envelope(full, pusher, None)?;
        payload["ref"] = format!("refs/heads/{branch}").into();
        payload["before"] = before.clone().into();
        payload["after"] = after.into();
        payload["created"] = (before == zero).into();
        payload["deleted"] = false.into();
        payload["forced"] = false.into();
        payload["base_ref"] = Value::Null;
        payload["compare"] = format!(
            "https://github.com/{full}/compare/{}...{}",
            &before[..12],
            branch
        )
        .into();
        payload["head_commit"] = push_commits.last().cloned().unwrap_or(Value::Null);
        payload["commits"] = push_commits.into();
        payload["pusher"] =
            json!({"name": pusher, "email": format!("{pusher}@users.noreply.github.com")});
        Some(sign("push", &self.secret(), &payload))
    }
}
