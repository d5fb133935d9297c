//! GitHub's issue, pull request, comment and issue search endpoints. Creating through the
//! API delivers the matching webhook event when a webhook is set.

use super::gate::{error, invalid, not_found, page_of, with_link, ApiError, Caller};
use super::model::Item;
use super::routes::{visible_repo, Answer, App};
use super::GitHub;
use crate::paging::{time_param, Params};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes() -> Router<Arc<GitHub>> {
    Router::new()
        .route(
            "/repos/{owner}/{repo}/issues",
            get(list_issues).post(create_issue),
        )
        .route("/repos/{owner}/{repo}/issues/{number}", get(get_issue))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            post(create_comment),
        )
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(list_pulls).post(create_pull),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}", get(get_pull))
        .route("/search/issues", get(search))
}

type RepoPath = Path<(String, String)>;
type ItemPath = Path<(String, String, u64)>;

fn time(v: &Value, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    v[field].as_str().and_then(|t| t.parse().ok())
}

fn state_matches(q: &Params, v: &Value) -> Result<bool, ApiError> {
    match q.get("state").map(String::as_str).unwrap_or("open") {
        "all" => Ok(true),
        s @ ("open" | "closed") => Ok(v["state"] == s),
        _ => Err(invalid("Issue", "state", "invalid", None)),
    }
}

/// Newest first by creation (number), or by `updated_at` when `sort=updated`.
fn sort(items: &mut [Value], q: &Params) {
    let asc = q.get("direction").map(String::as_str) == Some("asc");
    if q.get("sort").map(String::as_str) == Some("updated") {
        items.sort_by_key(|v| time(v, "updated_at"));
    } else {
        items.sort_by_key(|v| v["number"].as_u64());
    }
    if !asc {
        items.reverse();
    }
}

async fn list_issues(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name)): RepoPath,
    Query(q): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Answer {
    visible_repo(&gh, &login, &owner, &name)?;
    let since = time_param(&q, "since").map_err(|m| error(StatusCode::UNPROCESSABLE_ENTITY, m))?;
    let mut items = Vec::new();
    {
        let data = gh.data();
        let Some(r) = data.repos.get(&format!("{owner}/{name}")) else {
            return Err(not_found());
        };
        for item in r.items.values() {
            let v = r.issue_view(item);
            let recent = since.is_none_or(|s| time(&v, "updated_at").is_some_and(|u| u >= s));
            if recent && state_matches(&q, &v)? {
                items.push(v);
            }
        }
    }
    sort(&mut items, &q);
    let (page, link) = page_of(items, &q, &uri, &headers)?;
    Ok(with_link(Value::Array(page), link))
}

async fn get_issue(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, number)): ItemPath,
) -> Answer {
    visible_repo(&gh, &login, &owner, &name)?;
    let data = gh.data();
    let r = data
        .repos
        .get(&format!("{owner}/{name}"))
        .ok_or_else(not_found)?;
    let item = r.items.get(&number).ok_or_else(not_found)?;
    Ok(Json(r.issue_view(item)).into_response())
}

async fn list_pulls(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name)): RepoPath,
    Query(q): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Answer {
    visible_repo(&gh, &login, &owner, &name)?;
    let mut items = Vec::new();
    {
        let data = gh.data();
        let r = data
            .repos
            .get(&format!("{owner}/{name}"))
            .ok_or_else(not_found)?;
        for item in r.items.values() {
            if let Item::Pull(p) = item {
                if state_matches(&q, p)? {
                    items.push(p.clone());
                }
            }
        }
    }
    sort(&mut items, &q);
    let (page, link) = page_of(items, &q, &uri, &headers)?;
    Ok(with_link(Value::Array(page), link))
}

async fn get_pull(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, number)): ItemPath,
) -> Answer {
    visible_repo(&gh, &login, &owner, &name)?;
    let data = gh.data();
    let r = data
        .repos
        .get(&format!("{owner}/{name}"))
        .ok_or_else(not_found)?;
    match r.items.get(&number) {
        Some(Item::Pull(p)) => Ok(Json(p.clone()).into_response()),
        _ => Err(not_found()),
    }
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

async fn create_issue(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name)): RepoPath,
    body: Bytes,
) -> Answer {
    visible_repo(&gh, &login, &owner, &name)?;
    let input = json_body(&body)?;
    let title = input["title"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("Issue", "title", "missing_field", None))?;
    let full = format!("{owner}/{name}");
    let issue = {
        let mut data = gh.data();
        let t = data.now();
        let text = input["body"].as_str().unwrap_or_default();
        let mut issue = data
            .add_issue(&full, title, text, &login, t)
            .ok_or_else(not_found)?;
        let labels: Vec<Value> = strings(&input["labels"])
            .iter()
            .enumerate()
            .map(|(i, l)| json!({"id": i + 1, "name": l, "color": "ededed", "default": false}))
            .collect();
        let assignees: Vec<Value> = strings(&input["assignees"])
            .iter()
            .map(|a| data.user(a))
            .collect();
        issue["labels"] = labels.into();
        issue["assignee"] = assignees.first().cloned().unwrap_or(Value::Null);
        issue["assignees"] = assignees.into();
        let number = issue["number"].as_u64().unwrap_or_default();
        if let Some(r) = data.repos.get_mut(&full) {
            r.items.insert(number, Item::Issue(issue.clone()));
        }
        issue
    };
    gh.deliver_item_event("issues", "opened", &full, &login, "issue", &issue)
        .await;
    Ok((StatusCode::CREATED, Json(issue)).into_response())
}

async fn create_comment(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name, number)): ItemPath,
    body: Bytes,
) -> Answer {
    visible_repo(&gh, &login, &owner, &name)?;
    let input = json_body(&body)?;
    let text = input["body"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("IssueComment", "body", "missing_field", None))?;
    let full = format!("{owner}/{name}");
    let (comment, issue) = gh
        .add_comment(&full, number, text, &login)
        .ok_or_else(not_found)?;
    gh.deliver_comment_event(&full, &login, &issue, &comment)
        .await;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}

async fn create_pull(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name)): RepoPath,
    body: Bytes,
) -> Answer {
    visible_repo(&gh, &login, &owner, &name)?;
    let input = json_body(&body)?;
    let field = |f: &str| {
        input[f]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let head =
        field("head").ok_or_else(|| invalid("PullRequest", "head", "missing_field", None))?;
    let base =
        field("base").ok_or_else(|| invalid("PullRequest", "base", "missing_field", None))?;
    let title =
        field("title").ok_or_else(|| invalid("PullRequest", "title", "missing_field", None))?;
    // `head` may be `owner:branch`.
    let head_branch = head.rsplit(':').next().unwrap_or(&head).to_string();
    let full = format!("{owner}/{name}");
    let pull = {
        let mut data = gh.data();
        let r = data.repos.get(&full).ok_or_else(not_found)?;
        if !r.branches.contains_key(&head_branch) {
            return Err(invalid("PullRequest", "head", "invalid", None));
        }
        if !r.branches.contains_key(&base) {
            return Err(invalid("PullRequest", "base", "invalid", None));
        }
        if head_branch == base {
            let m = format!("No commits between {base} and {head_branch}");
            return Err(invalid("PullRequest", "base", "custom", Some(&m)));
        }
        let t = data.now();
        let text = input["body"].as_str().unwrap_or_default();
        let draft = input["draft"].as_bool().unwrap_or(false);
        data.add_pull(&full, &title, text, &head_branch, &base, draft, &login, t)
            .ok_or_else(not_found)?
    };
    gh.deliver_item_event(
        "pull_request",
        "opened",
        &full,
        &login,
        "pull_request",
        &pull,
    )
    .await;
    Ok((StatusCode::CREATED, Json(pull)).into_response())
}

/// The qualifiers of a search query that the emulator understands.
#[derive(Default)]
struct SearchQuery {
    state: Option<String>,
    kind: Option<String>,
    assignee: Option<String>,
    review_requested: Option<String>,
    author: Option<String>,
    repos: Vec<String>,
}

fn parse_query(q: &str, me: &str) -> SearchQuery {
    let mut out = SearchQuery::default();
    let who = |v: &str| {
        if v == "@me" {
            me.to_string()
        } else {
            v.to_string()
        }
    };
    for term in q.split_whitespace() {
        let Some((key, value)) = term.split_once(':') else {
            continue;
        };
        match (key, value) {
            ("is" | "state", "open" | "closed") => out.state = Some(value.into()),
            ("is" | "type", "issue" | "pr") => out.kind = Some(value.into()),
            ("type", "pull-request") => out.kind = Some("pr".into()),
            ("assignee", v) => out.assignee = Some(who(v)),
            ("review-requested", v) => out.review_requested = Some(who(v)),
            ("author", v) => out.author = Some(who(v)),
            ("repo", v) => out.repos.push(v.into()),
            _ => {}
        }
    }
    out
}

fn logins(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(|u| u["login"].as_str()).collect())
        .unwrap_or_default()
}

async fn search(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Query(q): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Answer {
    let text = q
        .get("q")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid("Search", "q", "missing", None))?;
    let query = parse_query(text, &login);
    let mut items = Vec::new();
    {
        let data = gh.data();
        for r in data.repos.values().filter(|r| r.view(&login).is_some()) {
            if !query.repos.is_empty() && !query.repos.iter().any(|n| n == r.full_name()) {
                continue;
            }
            for item in r.items.values() {
                let (is_pr, reviewers) = match item {
                    Item::Pull(p) => (true, logins(&p["requested_reviewers"])),
                    Item::Issue(_) => (false, vec![]),
                };
                let v = r.issue_view(item);
                let ok = query
                    .state
                    .as_ref()
                    .is_none_or(|s| v["state"] == s.as_str())
                    && query.kind.as_ref().is_none_or(|k| (k == "pr") == is_pr)
                    && query
                        .assignee
                        .as_ref()
                        .is_none_or(|a| logins(&v["assignees"]).contains(&a.as_str()))
                    && query
                        .review_requested
                        .as_ref()
                        .is_none_or(|a| reviewers.contains(&a.as_str()))
                    && query
                        .author
                        .as_ref()
                        .is_none_or(|a| v["user"]["login"] == a.as_str());
                if ok {
                    items.push(v);
                }
            }
        }
    }
    items.sort_by_key(|v| std::cmp::Reverse(time(v, "updated_at")));
    let total = items.len();
    let (page, link) = page_of(items, &q, &uri, &headers)?;
    Ok(with_link(
        json!({"total_count": total, "incomplete_results": false, "items": page}),
        link,
    ))
}
