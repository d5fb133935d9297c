//! The GitHub actions: open an issue, comment, open a pull request (on the default branch
//! unless told otherwise) and check a repository before using it.

use super::records::RepoName;
use super::Github;
use patchbay_core::{ConnectorContext, ConnectorError, FieldError};
use serde_json::{json, Value};

fn repo_input(input: &Value, field: &str) -> Result<RepoName, ConnectorError> {
    let raw = input.get(field).and_then(Value::as_str).unwrap_or_default();
    RepoName::parse_reference(raw).ok().ok_or_else(|| {
        ConnectorError::InvalidInput(vec![FieldError::new(
            format!("input.{field}"),
            "format",
            "must be owner/name or a repository URL",
        )])
    })
}

/// GitHub's 422 (`Validation Failed` with what was wrong) as an input error; a missing
/// repository named as such.
fn explain(repo: &RepoName, e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Provider {
            status: 422,
            message,
        } => ConnectorError::InvalidInput(vec![FieldError::new("input", "rejected", message)]),
        ConnectorError::NotFound(_) => ConnectorError::NotFound(format!(
            "repository {repo} does not exist or the account cannot see it"
        )),
        other => other,
    }
}

/// Copies the optional fields present in `input` into `body`.
fn copy(input: &Value, body: &mut Value, fields: &[&str]) {
    for f in fields {
        if let Some(v) = input.get(*f) {
            body[*f] = v.clone();
        }
    }
}

impl Github {
    pub(super) async fn action(
        &self,
        ctx: &ConnectorContext,
        action: &str,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        let api = self.api(ctx)?;
        match action {
            "create_issue" => {
                let repo = repo_input(&input, "repository")?;
                let mut body = json!({"title": input["title"]});
                copy(&input, &mut body, &["body", "labels", "assignees"]);
                api.post(&["repos", &repo.owner, &repo.name, "issues"], &body)
                    .await
                    .map_err(|e| explain(&repo, e))
            }
            "comment_on_issue" => {
                let repo = repo_input(&input, "repository")?;
                let number = input["number"].as_u64().unwrap_or_default().to_string();
                let path = [
                    "repos",
                    &repo.owner,
                    &repo.name,
                    "issues",
                    &number,
                    "comments",
                ];
                api.post(&path, &json!({"body": input["body"]}))
                    .await
                    .map_err(|e| explain(&repo, e))
            }
            "create_pull_request" => {
                let repo = repo_input(&input, "repository")?;
                let base = match input.get("base").and_then(Value::as_str) {
                    Some(b) => b.to_string(),
                    None => {
                        let r = api
                            .get(&["repos", &repo.owner, &repo.name])
                            .await
                            .map_err(|e| explain(&repo, e))?;
                        r.get("default_branch")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                ConnectorError::BadResponse(
                                    "repository has no default_branch".into(),
                                )
                            })?
                            .to_string()
                    }
                };
                let mut body =
                    json!({"title": input["title"], "head": input["head"], "base": base});
                copy(&input, &mut body, &["body", "draft"]);
                api.post(&["repos", &repo.owner, &repo.name, "pulls"], &body)
                    .await
                    .map_err(|e| explain(&repo, e))
            }
            "validate_repository" => {
                let field = if input.get("repository").is_some() {
                    "repository"
                } else {
                    "url"
                };
                if input.get(field).is_none() {
                    return Err(ConnectorError::InvalidInput(vec![FieldError::new(
                        "input.repository",
                        "required",
                        "give repository or url",
                    )]));
                }
                let repo = repo_input(&input, field)?;
                let r = api
                    .get(&["repos", &repo.owner, &repo.name])
                    .await
                    .map_err(|e| explain(&repo, e))?;
                Ok(json!({
                    "full_name": r.get("full_name").cloned().unwrap_or_else(|| repo.full_name().into()),
                    "default_branch": r.get("default_branch").cloned().unwrap_or(Value::Null),
                    "can_push": r.pointer("/permissions/push").and_then(Value::as_bool).unwrap_or(false),
                    "private": r.get("private").and_then(Value::as_bool).unwrap_or(false),
                }))
            }
            other => Err(ConnectorError::Unknown {
                kind: "action",
                key: other.into(),
            }),
        }
    }
}
