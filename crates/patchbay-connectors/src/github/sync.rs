//! Syncing repositories, issues, pull requests and commits, one provider page per call.
//!
//! The page cursor is JSON holding the run's start time, the repositories still to visit
//! (the first is the current one) and the next page's URL, so a run resumes where it stopped.
//! The run's start time becomes the checkpoint with the last page: the next incremental run
//! asks for what changed since then (`since` for issues and commits; pull requests, which
//! have no `since`, are read newest-updated first until an older one appears).

use super::client::Api;
use super::records::{self, RepoName};
use super::Github;
use crate::common::unknown_entity;
use patchbay_core::{ConnectorContext, ConnectorError, Record, SyncMode, SyncPage, SyncRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

/// Repositories visited per run when the connection names none.
const DEFAULT_MAX_REPOSITORIES: usize = 100;

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    started: String,
    #[serde(default)]
    repos: Vec<String>,
    next: Option<String>,
}

fn config_repos(ctx: &ConnectorContext) -> Option<Vec<String>> {
    let list = ctx.config.get("repositories")?.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
}

fn max_repos(ctx: &ConnectorContext) -> usize {
    ctx.config
        .get("max_repositories")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_MAX_REPOSITORIES, |n| n as usize)
}

/// The repositories in a list answer: an array, or `{"repositories": [...]}` for
/// installation tokens.
fn repo_items(body: &Value) -> Result<&Vec<Value>, ConnectorError> {
    body.as_array()
        .or_else(|| body.get("repositories").and_then(Value::as_array))
        .ok_or_else(|| ConnectorError::BadResponse("repository list is not an array".into()))
}

impl Github {
    /// The first page of the account's repositories: those of the GitHub App installation
    /// when one is configured, else the user's.
    fn repo_list_url(&self, api: &Api<'_>, ctx: &ConnectorContext, sort: &str) -> Url {
        let mut url = if ctx.config.get("installation_id").is_some() {
            api.url(&["installation", "repositories"])
        } else {
            let mut u = api.url(&["user", "repos"]);
            u.query_pairs_mut().append_pair("sort", sort);
            u
        };
        url.query_pairs_mut()
            .append_pair("per_page", &self.page_size.to_string());
        url
    }

    /// The repositories a run visits: the configured ones, else the most recently pushed.
    async fn target_repos(
        &self,
        api: &Api<'_>,
        ctx: &ConnectorContext,
    ) -> Result<Vec<String>, ConnectorError> {
        let max = max_repos(ctx);
        if let Some(list) = config_repos(ctx) {
            return Ok(list.into_iter().take(max).collect());
        }
        let mut names = Vec::new();
        let mut url = Some(self.repo_list_url(api, ctx, "pushed"));
        while let Some(u) = url.take() {
            let Some(page) = api.page(u, None).await? else {
                break;
            };
            for r in repo_items(&page.body)? {
                names.push(records::repository(r)?.id);
            }
            if names.len() >= max {
                break;
            }
            url = page.next.map(|n| api.trusted(&n)).transpose()?;
        }
        names.truncate(max);
        Ok(names)
    }

    pub(super) async fn sync_page(
        &self,
        ctx: &ConnectorContext,
        req: SyncRequest,
    ) -> Result<SyncPage, ConnectorError> {
        if !["repositories", "issues", "pull_requests", "commits"].contains(&req.entity.as_str()) {
            return Err(unknown_entity(&req.entity));
        }
        let api = self.api(ctx)?;
        let since = match req.mode {
            SyncMode::Incremental if req.entity != "repositories" => req.since.clone(),
            _ => None,
        };
        let mut cursor = match req.page_cursor.as_deref() {
            Some(raw) => serde_json::from_str::<Cursor>(raw)
                .map_err(|_| ConnectorError::Config("invalid page cursor".into()))?,
            None => Cursor {
                started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                repos: match req.entity.as_str() {
                    "repositories" => Vec::new(),
                    _ => self.target_repos(&api, ctx).await?,
                },
                next: None,
            },
        };
        if req.entity == "repositories" {
            return self.repositories_page(&api, ctx, cursor).await;
        }
        let Some(repo) = cursor.repos.first().cloned() else {
            return Ok(SyncPage {
                checkpoint: Some(cursor.started),
                ..Default::default()
            });
        };
        let full = RepoName::parse_plain(&repo)
            .ok()
            .ok_or_else(|| ConnectorError::Config(format!("'{repo}' is not owner/name")))?;
        let url = match cursor.next.take() {
            Some(next) => api.trusted(&next)?,
            None => self.first_url(&api, &req.entity, &full, since.as_deref()),
        };
        let page = match api.page(url, None).await {
            // An empty repository has no commits to list.
            Err(ConnectorError::Provider { status: 409, .. }) if req.entity == "commits" => None,
            other => other?,
        };
        let mut out = SyncPage::default();
        let mut next = None;
        if let Some(page) = page {
            let items = page
                .body
                .as_array()
                .ok_or_else(|| ConnectorError::BadResponse("list answer is not an array".into()))?;
            let mut older_seen = false;
            for item in items {
                if let Some(record) =
                    self.record_for(&req.entity, &repo, item, since.as_deref(), &mut older_seen)?
                {
                    out.records.push(record);
                }
            }
            next = page.next.filter(|_| !older_seen);
        }
        match next {
            Some(n) => cursor.next = Some(n),
            None => {
                cursor.repos.remove(0);
            }
        }
        if cursor.repos.is_empty() {
            out.checkpoint = Some(cursor.started);
        } else {
            out.next_page_cursor = Some(serde_json::to_string(&cursor).unwrap_or_default());
        }
        Ok(out)
    }

    fn first_url(&self, api: &Api<'_>, entity: &str, repo: &RepoName, since: Option<&str>) -> Url {
        let (owner, name) = (repo.owner.as_str(), repo.name.as_str());
        let per_page = self.page_size.to_string();
        let mut url = match entity {
            "issues" => api.url(&["repos", owner, name, "issues"]),
            "pull_requests" => api.url(&["repos", owner, name, "pulls"]),
            _ => api.url(&["repos", owner, name, "commits"]),
        };
        {
            let mut q = url.query_pairs_mut();
            match entity {
                "issues" => {
                    q.append_pair("state", "all")
                        .append_pair("sort", "updated")
                        .append_pair("direction", "asc");
                }
                "pull_requests" => {
                    q.append_pair("state", "all")
                        .append_pair("sort", "updated")
                        .append_pair("direction", "desc");
                }
                _ => {}
            }
            if entity != "pull_requests" {
                if let Some(s) = since {
                    q.append_pair("since", s);
                }
            }
            q.append_pair("per_page", &per_page);
        }
        url
    }

    /// The record for one list item; `None` for pull requests in the issue list and, in
    /// incremental runs, for pull requests older than `since` (which end the repository).
    fn record_for(
        &self,
        entity: &str,
        repo: &str,
        item: &Value,
        since: Option<&str>,
        older_seen: &mut bool,
    ) -> Result<Option<Record>, ConnectorError> {
        Ok(match entity {
            "issues" if item.get("pull_request").is_some() => None,
            "issues" => Some(records::issue(repo, item)?),
            "pull_requests" => {
                let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
                let updated = item
                    .get("updated_at")
                    .and_then(Value::as_str)
                    .and_then(parse);
                let old = match (since.and_then(parse), updated) {
                    (Some(s), Some(u)) => u < s,
                    _ => false,
                };
                if old {
                    *older_seen = true;
                    None
                } else {
                    Some(records::pull_request(repo, item)?)
                }
            }
            _ => Some(records::commit(repo, item)?),
        })
    }

    /// One page of the account's repositories, answered from the ETag cache when GitHub says
    /// the page has not changed (a 304 does not count against the rate limit).
    async fn repositories_page(
        &self,
        api: &Api<'_>,
        ctx: &ConnectorContext,
        mut cursor: Cursor,
    ) -> Result<SyncPage, ConnectorError> {
        let url = match cursor.next.take() {
            Some(n) => api.trusted(&n)?,
            None => self.repo_list_url(api, ctx, "full_name"),
        };
        let key = format!("{} {url}", ctx.connection_id);
        let cached = self.etags.get(&key);
        let (body, next) = match api
            .page(url, cached.as_ref().map(|c| c.etag.as_str()))
            .await?
        {
            Some(page) => {
                if let Some(etag) = &page.etag {
                    self.etags
                        .put(key, etag.clone(), page.body.clone(), page.next.clone());
                }
                (page.body, page.next)
            }
            None => match cached {
                Some(c) => (c.body, c.next),
                None => {
                    return Err(ConnectorError::BadResponse(
                        "304 without a cached page".into(),
                    ))
                }
            },
        };
        let only = config_repos(ctx);
        let mut out = SyncPage::default();
        for item in repo_items(&body)? {
            let record = records::repository(item)?;
            if only.as_ref().is_none_or(|names| names.contains(&record.id)) {
                out.records.push(record);
            }
        }
        match next {
            Some(n) => {
                api.trusted(&n)?;
                cursor.next = Some(n);
                out.next_page_cursor = Some(serde_json::to_string(&cursor).unwrap_or_default());
            }
            None => out.checkpoint = Some(cursor.started),
        }
        Ok(out)
    }
}
