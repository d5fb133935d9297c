//! Triggers for webhook events: each applies its change to the emulated data, then builds
//! the signed delivery (`*_event`) or also sends it to the webhook URL (`emit_*`).

use super::{Delivery, GitHub};
use crate::{EmulatorHandle, SignedCallback};
use serde_json::Value;

impl EmulatorHandle<GitHub> {
    /// Applies a pull request `action` and builds its `pull_request` event: `opened`,
    /// `reopened`, `closed`, `merged` (closes with a merge; sent as `closed`),
    /// `ready_for_review`, `converted_to_draft`, or anything else unchanged.
    pub fn pull_request_event(
        &self,
        full_name: &str,
        number: u64,
        action: &str,
    ) -> Option<SignedCallback> {
        let now = self.state.data().now();
        let pull = self.update_item(full_name, number, |p| match action {
            "opened" | "reopened" => {
                p["state"] = "open".into();
                p["closed_at"] = Value::Null;
            }
            "closed" | "merged" => {
                p["state"] = "closed".into();
                p["closed_at"] = now.clone().into();
                if action == "merged" {
                    p["merged"] = true.into();
                    p["merged_at"] = now.clone().into();
                }
            }
            "ready_for_review" => p["draft"] = false.into(),
            "converted_to_draft" => p["draft"] = true.into(),
            _ => {}
        })?;
        let sender = pull["user"]["login"].as_str()?.to_string();
        let action = if action == "merged" { "closed" } else { action };
        self.state.item_event(
            "pull_request",
            action,
            full_name,
            &sender,
            "pull_request",
            &pull,
        )
    }

    /// Applies an issue `action` (`closed`, `reopened`, `deleted` removes it, others leave it)
    /// and builds its `issues` event.
    pub fn issue_event(
        &self,
        full_name: &str,
        number: u64,
        action: &str,
    ) -> Option<SignedCallback> {
        let issue = match action {
            "deleted" => {
                let mut data = self.state.data();
                let r = data.repos.get_mut(full_name)?;
                let item = r.items.remove(&number)?;
                r.issue_view(&item)
            }
            _ => self.update_item(full_name, number, |v| match action {
                "closed" => v["state"] = "closed".into(),
                "reopened" => v["state"] = "open".into(),
                _ => {}
            })?,
        };
        let sender = issue["user"]["login"].as_str()?.to_string();
        self.state
            .item_event("issues", action, full_name, &sender, "issue", &issue)
    }

    /// Adds a comment by `author` and builds its `issue_comment` event.
    pub fn issue_comment_event(
        &self,
        full_name: &str,
        number: u64,
        author: &str,
        body: &str,
    ) -> Option<SignedCallback> {
        let (comment, issue) = self.state.add_comment(full_name, number, body, author)?;
        self.state
            .comment_event(full_name, author, &issue, &comment)
    }

    /// Pushes `count` new commits to `branch` and builds the `push` event.
    pub fn push_event(
        &self,
        full_name: &str,
        branch: &str,
        count: usize,
    ) -> Option<SignedCallback> {
        let owner = full_name.split('/').next()?.to_string();
        self.state.push(full_name, branch, count, &owner)
    }

    /// A signed event of any type with `payload` as its body.
    pub fn event(&self, event: &str, payload: &Value) -> SignedCallback {
        super::hooks::sign(event, &self.state.secret(), payload)
    }

    /// Sends a built event to the webhook URL; `None` when no webhook is set.
    pub async fn deliver(&self, cb: SignedCallback) -> Option<Delivery> {
        self.state.send(cb).await
    }

    pub async fn emit_pull_request(
        &self,
        full_name: &str,
        number: u64,
        action: &str,
    ) -> Option<Delivery> {
        let cb = self.pull_request_event(full_name, number, action)?;
        self.deliver(cb).await
    }

    pub async fn emit_push(&self, full_name: &str, branch: &str, count: usize) -> Option<Delivery> {
        let cb = self.push_event(full_name, branch, count)?;
        self.deliver(cb).await
    }

    pub async fn emit_issue(&self, full_name: &str, number: u64, action: &str) -> Option<Delivery> {
        let cb = self.issue_event(full_name, number, action)?;
        self.deliver(cb).await
    }

    pub async fn emit_issue_comment(
        &self,
        full_name: &str,
        number: u64,
        author: &str,
        body: &str,
    ) -> Option<Delivery> {
        let cb = self.issue_comment_event(full_name, number, author, body)?;
        self.deliver(cb).await
    }
}
