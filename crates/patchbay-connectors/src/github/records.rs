//! GitHub objects as records: their ids, the normalized pull request state, trimming of
//! oversized text, and item ids (`owner/name/number`).

use super::spec::KEY;
use patchbay_core::{ConnectorError, Record};
use serde_json::Value;

/// Longest issue or pull request body kept in a record, in characters.
const MAX_BODY_CHARS: usize = 64 * 1024;

pub use super::repo_name::RepoName;

/// `owner/repo/number` → the repository and number.
pub fn parse_item_id(id: &str) -> Result<(RepoName, u64), ConnectorError> {
    let bad = || ConnectorError::Config(format!("'{id}' is not owner/repo/number"));
    let (repo, number) = id.rsplit_once('/').ok_or_else(bad)?;
    let number = number.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    Ok((RepoName::parse_plain(repo).map_err(|_| bad())?, number))
}

fn text(v: &Value, field: &str) -> Result<String, ConnectorError> {
    v.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ConnectorError::BadResponse(format!("a {KEY} object has no '{field}'")))
}

fn number(v: &Value) -> Result<u64, ConnectorError> {
    v.get("number")
        .and_then(Value::as_u64)
        .ok_or_else(|| ConnectorError::BadResponse("an issue has no number".into()))
}

fn trim_body(mut v: Value) -> Value {
    if let Some(body) = v.get("body").and_then(Value::as_str) {
        if let Some((cut, _)) = body.char_indices().nth(MAX_BODY_CHARS) {
            v["body"] = format!("{}…", &body[..cut]).into();
        }
    }
    v
}

pub fn repository(v: &Value) -> Result<Record, ConnectorError> {
    Ok(Record {
        entity: "repositories".into(),
        id: text(v, "full_name")?,
        data: v.clone(),
    })
}

pub fn issue(repo: &str, v: &Value) -> Result<Record, ConnectorError> {
    Ok(Record {
        entity: "issues".into(),
        id: format!("{repo}/{}", number(v)?),
        data: trim_body(v.clone()),
    })
}

/// A pull request with `state` normalized to merged, closed, draft or open; GitHub's own
/// value stays in `github_state`.
pub fn pull_request(repo: &str, v: &Value) -> Result<Record, ConnectorError> {
    let mut data = trim_body(v.clone());
    let github_state = v.get("state").and_then(Value::as_str).unwrap_or("open");
    let merged = v.get("merged_at").is_some_and(|m| !m.is_null())
        || v.get("merged").and_then(Value::as_bool) == Some(true);
    let state = match github_state {
        "closed" if merged => "merged",
        "closed" => "closed",
        _ if v.get("draft").and_then(Value::as_bool) == Some(true) => "draft",
        _ => "open",
    };
    data["github_state"] = github_state.into();
    data["state"] = state.into();
    Ok(Record {
        entity: "pull_requests".into(),
        id: format!("{repo}/{}", number(v)?),
        data,
    })
}

pub fn commit(repo: &str, v: &Value) -> Result<Record, ConnectorError> {
    Ok(Record {
        entity: "commits".into(),
        id: format!("{repo}/{}", text(v, "sha")?),
        data: v.clone(),
    })
}

/// `owner/name` of an item from its `repository_url` (search results carry no repository).
pub fn repo_of(item: &Value) -> Option<String> {
    let url = item.get("repository_url")?.as_str()?;
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let name = parts.next()?;
    let owner = parts.next()?;
    Some(
        RepoName::parse_plain(&format!("{owner}/{name}"))
            .ok()?
            .full_name(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repository_references() {
        let r = |s| RepoName::parse_reference(s).ok().map(|r| r.full_name());
        assert_eq!(r("octo/app").as_deref(), Some("octo/app"));
        assert_eq!(
            r("https://github.com/octo/app").as_deref(),
            Some("octo/app")
        );
        assert_eq!(
            r("https://github.com/octo/app.git").as_deref(),
            Some("octo/app")
        );
        assert_eq!(
            r("git@github.com:octo/app.git").as_deref(),
            Some("octo/app")
        );
        assert_eq!(
            r("https://github.com/octo/app/pull/3").as_deref(),
            Some("octo/app")
        );
        assert_eq!(r("https://github.com/octo"), None);
        assert_eq!(r("../etc"), None);
        assert_eq!(r("a/b/c"), None);
        assert!(parse_item_id("octo/app/12").is_ok());
        assert!(parse_item_id("octo/app/x").is_err());
        assert!(parse_item_id("octo/12").is_err());
    }

    #[test]
    fn pull_request_states() {
        let state = |v: Value| pull_request("o/r", &v).unwrap().data["state"].clone();
        assert_eq!(
            state(json!({"number": 1, "state": "open", "draft": false})),
            "open"
        );
        assert_eq!(
            state(json!({"number": 1, "state": "open", "draft": true})),
            "draft"
        );
        assert_eq!(
            state(json!({"number": 1, "state": "closed", "merged_at": null})),
            "closed"
        );
        assert_eq!(
            state(json!({"number": 1, "state": "closed", "merged_at": "2024-01-01T00:00:00Z"})),
            "merged"
        );
    }

    #[test]
    fn long_bodies_are_trimmed() {
        let v = json!({"number": 1, "body": "x".repeat(MAX_BODY_CHARS + 10)});
        let body = issue("o/r", &v).unwrap().data["body"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(body.chars().count(), MAX_BODY_CHARS + 1);
    }
}
