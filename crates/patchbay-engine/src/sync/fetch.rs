//! Fetching pages for a run: retries with backoff, 429s waited out, one token refresh after
//! a 401, and records serialized and hashed before they are committed.

use super::Syncs;
use super::{record_hash, MAX_RATE_WAIT, PAGE_ATTEMPTS};
use patchbay_core::{Connector, ConnectorContext, ConnectorError, SyncPage, SyncRequest};
use patchbay_store::{ConnectionRow, PageRecord};
use std::time::Duration;

impl Syncs {
    /// Fetches one page: transient failures retried with backoff, 429 waited out, a 401 on an
    /// OAuth connection answered with one refresh.
    async fn fetch_page(
        &self,
        conn: &ConnectionRow,
        connector: &dyn Connector,
        ctx: &ConnectorContext,
        req: &SyncRequest,
        fresh_token: &mut Option<patchbay_core::Secret>,
    ) -> std::result::Result<SyncPage, String> {
        let provider_key = connector.spec().key.clone();
        let mut attempts = 0;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            self.ctx
                .rate_budget()
                .acquire(&self.ctx.rate_keys(&provider_key, &conn.id))
                .await;
            let mut local;
            let use_ctx = match fresh_token {
                Some(token) => {
                    local = ConnectorContext {
                        connection_id: ctx.connection_id.clone(),
                        config: ctx.config.clone(),
                        secrets: ctx.secrets.clone(),
                    };
                    local.secrets.insert("access_token".into(), token.clone());
                    &local
                }
                None => ctx,
            };
            match connector.sync(use_ctx, req.clone()).await {
                Ok(page) => return Ok(page),
                Err(ConnectorError::RateLimited { retry_after_secs }) => {
                    let pause = Duration::from_secs(retry_after_secs.unwrap_or(1).max(1));
                    waited += pause;
                    if waited > MAX_RATE_WAIT {
                        return Err(format!(
                            "{provider_key} kept rate limiting for over {} s",
                            MAX_RATE_WAIT.as_secs()
                        ));
                    }
                    self.ctx.pause_connection(&provider_key, &conn.id, pause);
                }
                Err(ConnectorError::Unauthorized { .. })
                    if !refreshed && ctx.secrets.contains_key("access_token") =>
                {
                    refreshed = true;
                    let stale = fresh_token
                        .clone()
                        .or_else(|| ctx.secrets.get("access_token").cloned());
                    match self
                        .tokens
                        .force_refresh(&conn.id, stale.as_ref().expect("token"))
                        .await
                    {
                        Ok(t) => *fresh_token = Some(t),
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Err(e) if e.is_transient() && attempts + 1 < PAGE_ATTEMPTS => {
                    attempts += 1;
                    tracing::warn!(connection = %conn.id, entity = %req.entity, attempt = attempts, error = %e, "page failed; retrying");
                    tokio::time::sleep(Duration::from_millis(250 << attempts)).await;
                }
                Err(e @ ConnectorError::Unauthorized { .. }) => {
                    if ctx.secrets.contains_key("access_token") {
                        let _ = self
                            .tokens
                            .mark_token_expired(&conn.id, &e.to_string())
                            .await;
                    }
                    return Err(e.to_string());
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    pub(super) async fn fetch_prepared(
        &self,
        conn: &ConnectionRow,
        connector: &dyn Connector,
        ctx: &ConnectorContext,
        req: &SyncRequest,
        fresh_token: &mut Option<patchbay_core::Secret>,
    ) -> std::result::Result<PreparedPage, String> {
        let page = self
            .fetch_page(conn, connector, ctx, req, fresh_token)
            .await?;
        let derived = connector.derive(ctx, &req.entity, &page.records);
        let records = page
            .records
            .into_iter()
            .map(|r| PageRecord {
                hash: record_hash(&r.data),
                id: r.id,
                data: r.data,
            })
            .collect();
        Ok(PreparedPage {
            records,
            derived,
            deleted_ids: page.deleted_ids,
            next_page_cursor: page.next_page_cursor,
            checkpoint: page.checkpoint,
            note: page.note,
        })
    }
}

/// A fetched page with each record serialized and hashed.
pub(super) struct PreparedPage {
    pub(super) records: Vec<PageRecord>,
    pub(super) derived: Vec<patchbay_core::DerivedRecord>,
    pub(super) deleted_ids: Vec<String>,
    pub(super) next_page_cursor: Option<String>,
    pub(super) checkpoint: Option<String>,
    pub(super) note: Option<String>,
}
