//! GitHub's user, repository, commit, tarball and rate-limit endpoints, and the router that
//! joins them with the issue endpoints under the configured path prefix.

use super::gate::{self, error, not_found, page_of, with_link, ApiError, Caller};
use super::model::Repo;
use super::{issues, GitHub};
use crate::faults::{self, Faults};
use crate::paging::{time_param, Params};
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

pub type App = State<Arc<GitHub>>;
pub type Answer = Result<Response, ApiError>;

pub fn router(gh: Arc<GitHub>, faults: Arc<Faults>) -> Router {
    let api = Router::new()
        .route("/user", get(user))
        .route("/user/repos", get(user_repos))
        .route("/installation/repositories", get(installation_repos))
        .route("/orgs/{org}/repos", get(org_repos))
        .route("/repos/{owner}/{repo}", get(repo))
        .route("/repos/{owner}/{repo}/commits", get(commits))
        .route("/repos/{owner}/{repo}/tarball/{*git_ref}", get(tarball))
        .route("/rate_limit", get(rate_limit))
        .merge(issues::routes())
        .fallback(|| async { not_found() })
        .with_state(gh.clone());
    let prefix = gh.config.path_prefix.clone();
    let app = if prefix.is_empty() {
        api
    } else {
        Router::new().nest(&prefix, api)
    };
    // The OAuth flow is not API: no token, rate limit or API error shape applies to it.
    app.layer(from_fn_with_state(gh.clone(), gate::gate))
        .merge(super::oauth::routes(gh))
        .layer(from_fn_with_state(faults, faults::apply))
}

/// The repository `owner/repo` if the caller can see it; GitHub answers 404 for hidden ones.
pub fn visible_repo(gh: &GitHub, login: &str, owner: &str, repo: &str) -> Result<Value, ApiError> {
    let data = gh.data();
    data.repos
        .get(&format!("{owner}/{repo}"))
        .and_then(|r| r.view(login))
        .ok_or_else(not_found)
}

async fn user(State(gh): App, Extension(Caller(login)): Extension<Caller>) -> Answer {
    let mut user = gh.data().user(&login);
    user["name"] = login.clone().into();
    Ok(Json(user).into_response())
}

fn repo_list(gh: &GitHub, login: &str, keep: impl Fn(&Repo, &Value) -> bool) -> Vec<Value> {
    let data = gh.data();
    data.repos
        .values()
        .filter_map(|r| r.view(login).filter(|v| keep(r, v)))
        .collect()
}

async fn user_repos(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Query(q): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Answer {
    // Repositories the user owns or was given access to, not every public one.
    let mut repos = repo_list(&gh, &login, |r, _| r.access.contains_key(&login));
    if q.get("sort").map(String::as_str) == Some("pushed") {
        repos.sort_by(|a, b| b["pushed_at"].as_str().cmp(&a["pushed_at"].as_str()));
    }
    let (items, link) = page_of(repos, &q, &uri, &headers)?;
    Ok(with_link(Value::Array(items), link))
}

async fn installation_repos(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Query(q): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Answer {
    let repos = repo_list(&gh, &login, |_, v| v["permissions"]["push"] == true);
    let total = repos.len();
    let (items, link) = page_of(repos, &q, &uri, &headers)?;
    Ok(with_link(
        json!({"total_count": total, "repositories": items}),
        link,
    ))
}

async fn org_repos(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path(org): Path<String>,
    Query(q): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Answer {
    if !gh.data().orgs.contains_key(&org) {
        return Err(not_found());
    }
    let repos = repo_list(&gh, &login, |_, v| v["owner"]["login"] == org.as_str());
    let (items, link) = page_of(repos, &q, &uri, &headers)?;
    Ok(with_link(Value::Array(items), link))
}

async fn repo(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, repo)): Path<(String, String)>,
) -> Answer {
    Ok(Json(visible_repo(&gh, &login, &owner, &repo)?).into_response())
}

async fn commits(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, name)): Path<(String, String)>,
    Query(q): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Answer {
    let repo = visible_repo(&gh, &login, &owner, &name)?;
    let since = time_param(&q, "since").map_err(|m| error(StatusCode::UNPROCESSABLE_ENTITY, m))?;
    let branch = q.get("sha").cloned().unwrap_or_else(|| {
        repo["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string()
    });
    let list: Vec<Value> = {
        let data = gh.data();
        let Some(r) = data.repos.get(&format!("{owner}/{name}")) else {
            return Err(not_found());
        };
        if r.commits.is_empty() {
            return Err(error(StatusCode::CONFLICT, "Git Repository is empty."));
        }
        if !r.branches.contains_key(&branch)
            && !r.commits.iter().any(|(_, c)| c["sha"] == branch.as_str())
        {
            return Err(not_found());
        }
        r.commits
            .iter()
            .filter(|(b, c)| *b == branch || c["sha"] == branch.as_str())
            .map(|(_, c)| c.clone())
            .filter(|c| {
                let date = c["commit"]["author"]["date"]
                    .as_str()
                    .and_then(|d| d.parse().ok());
                since.is_none_or(|s| date.is_some_and(|d: chrono::DateTime<chrono::Utc>| d >= s))
            })
            .collect()
    };
    let (items, link) = page_of(list, &q, &uri, &headers)?;
    Ok(with_link(Value::Array(items), link))
}

/// A gzip-typed archive of the configured size, produced chunk by chunk while it is sent so
/// large answers never sit in memory.
async fn tarball(
    State(gh): App,
    Extension(Caller(login)): Extension<Caller>,
    Path((owner, repo, git_ref)): Path<(String, String, String)>,
) -> Answer {
    visible_repo(&gh, &login, &owner, &repo)?;
    let size = gh.data().tarball_bytes;
    const CHUNK: u64 = 64 * 1024;
    let stream = futures_util::stream::unfold(0u64, move |sent| async move {
        if sent >= size {
            return None;
        }
        let n = CHUNK.min(size - sent);
        let chunk: Vec<u8> = (sent..sent + n).map(|i| (i % 251) as u8).collect();
        Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), sent + n))
    });
    let disposition = format!(
        "attachment; filename={owner}-{repo}-{}.tar.gz",
        git_ref.replace('/', "-")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-gzip".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn rate_limit(State(gh): App) -> Answer {
    let data = gh.data();
    let core = data.core.json();
    Ok(Json(json!({
        "resources": {"core": core, "search": data.search.json()},
        "rate": core,
    }))
    .into_response())
}
