//! What needs the account's attention (issues and pull requests assigned to it, pull requests
//! waiting for its review), found with the issue search API, and the live data endpoints.
//!
//! Every signal is a `task`: each is work the account owes someone.

use super::records::repo_of;
use super::spec::KEY;
use super::Github;
use patchbay_core::{ConnectorContext, ConnectorError, DataPayload, DataShape, Signal, SignalKind};
use serde_json::{json, Value};
use std::collections::HashSet;

const ASSIGNED: &str = "is:open is:issue assignee:@me";
const ASSIGNED_PRS: &str = "is:open is:pr assignee:@me";
const REVIEWS: &str = "is:open is:pr review-requested:@me";
/// GitHub refuses search queries longer than this.
const MAX_QUERY_CHARS: usize = 256;

/// `total_count` and the first page of items of an issue search.
struct Found {
    total: u64,
    items: Vec<Value>,
}

impl Github {
    async fn search(&self, ctx: &ConnectorContext, q: &str) -> Result<Found, ConnectorError> {
        let api = self.api(ctx)?;
        let mut url = api.url(&["search", "issues"]);
        url.query_pairs_mut()
            .append_pair("q", q)
            .append_pair("per_page", "100");
        let body = api.get_url(url).await?;
        Ok(Found {
            total: body.get("total_count").and_then(Value::as_u64).unwrap_or(0),
            items: body
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| ConnectorError::BadResponse("search answer has no items".into()))?,
        })
    }

    pub(super) async fn signal_list(
        &self,
        ctx: &ConnectorContext,
    ) -> Result<Vec<Signal>, ConnectorError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for q in [ASSIGNED, ASSIGNED_PRS, REVIEWS] {
            for item in self.search(ctx, q).await?.items {
                // A pull request can be both assigned to the account and awaiting its review.
                if let Some(signal) = signal(&item).filter(|s| seen.insert(s.id.clone())) {
                    out.push(signal);
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn data(
        &self,
        ctx: &ConnectorContext,
        endpoint: &str,
    ) -> Result<DataPayload, ConnectorError> {
        match endpoint {
            "open_pull_requests" => {
                let found = self.search(ctx, &open_prs_query(ctx)).await?;
                Ok(DataPayload {
                    shape: DataShape::Stat,
                    data: json!({"label": "Open pull requests", "value": found.total}),
                })
            }
            "rate_limit" => {
                let v = self.api(ctx)?.get(&["rate_limit"]).await?;
                let core = v
                    .pointer("/resources/core")
                    .or_else(|| v.get("rate"))
                    .ok_or_else(|| {
                        ConnectorError::BadResponse("rate_limit answer has no core".into())
                    })?;
                let num = |f: &str| core.get(f).and_then(Value::as_u64).unwrap_or(0);
                Ok(DataPayload {
                    shape: DataShape::Gauge,
                    data: json!({
                        "label": "API requests left",
                        "value": num("remaining"),
                        "min": 0,
                        "max": num("limit"),
                        "reset": num("reset"),
                    }),
                })
            }
            "review_requests" => {
                let found = self.search(ctx, REVIEWS).await?;
                let items: Vec<Value> = found
                    .items
                    .iter()
                    .map(|i| {
                        json!({
                            "title": i.get("title"),
                            "url": i.get("html_url"),
                            "subtitle": repo_of(i),
                            "updated_at": i.get("updated_at"),
                        })
                    })
                    .collect();
                Ok(DataPayload {
                    shape: DataShape::List,
                    data: json!({"label": "Review requests", "total": found.total, "items": items}),
                })
            }
            other => Err(ConnectorError::Unknown {
                kind: "data endpoint",
                key: other.into(),
            }),
        }
    }
}

/// Open pull requests in the configured repositories when they fit in one query, else
/// those the account opened.
fn open_prs_query(ctx: &ConnectorContext) -> String {
    let repos: Vec<&str> = ctx
        .config
        .get("repositories")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let scoped = format!(
        "is:open is:pr {}",
        repos
            .iter()
            .map(|r| format!("repo:{r}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !repos.is_empty() && scoped.len() <= MAX_QUERY_CHARS {
        scoped
    } else {
        "is:open is:pr author:@me".into()
    }
}

fn signal(item: &Value) -> Option<Signal> {
    let repo = repo_of(item)?;
    let number = item.get("number")?.as_u64()?;
    let title = item
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(Signal {
        id: format!("{repo}/{number}"),
        source: KEY.into(),
        kind: SignalKind::Task,
        title: format!("{title} ({repo}#{number})"),
        due: None,
        url: item
            .get("html_url")
            .and_then(Value::as_str)
            .map(str::to_string),
        priority: None,
        record: item.clone(),
    })
}
