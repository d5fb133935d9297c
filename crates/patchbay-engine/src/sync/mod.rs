//! The sync runner and the sync API. A run walks each entity page by page; every page commits
//! with its cursor, so a worker that dies resumes from the last committed page. Transient
//! provider failures are retried per page; 429 waits as told; anything else fails the run
//! cleanly, keeping what earlier pages committed. Deletions from a full run are applied only
//! when the whole run succeeded.

mod fetch;
pub mod jobs;
mod records;
mod runs;
pub mod scheduler;

pub use records::{record_hash, RecordView, RecordsQuery};
pub use runs::{StartSync, SyncRunView};

use crate::auth::activity_row;
use crate::connections::connection_event;
use crate::error::{EngineError, Result};
use crate::oauth::Tokens;
use crate::Context;
use patchbay_core::{
    ids, now_ms, Connector, ConnectorContext, Health, Lifecycle, SyncMode, SyncRequest,
};
use patchbay_store::{ConnectionRow, EventRow, JobRow, PageCommit, RunEnd, SyncRunRow};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const SYNC_JOB: &str = "sync";

/// Syncs: the job queue and its workers, the scheduler, the runner and the records it writes.
#[derive(Clone)]
pub struct Syncs {
    ctx: Context,
    tokens: Tokens,
    state: Arc<SyncState>,
}

/// The sync side's own state: the job lease, and per provider a limit on the syncs this
/// process runs at once.
struct SyncState {
    job_lease_ms: i64,
    provider_concurrency: usize,
    provider_slots:
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl Syncs {
    pub(crate) fn new(
        ctx: Context,
        tokens: Tokens,
        job_lease: Duration,
        provider_concurrency: usize,
    ) -> Self {
        Syncs {
            ctx,
            tokens,
            state: Arc::new(SyncState {
                job_lease_ms: job_lease.as_millis() as i64,
                provider_concurrency: provider_concurrency.max(1),
                provider_slots: Default::default(),
            }),
        }
    }

    /// A slot for one more concurrent sync of `provider` in this process.
    pub(crate) async fn provider_slot(&self, provider: &str) -> tokio::sync::OwnedSemaphorePermit {
        let state = &self.state;
        let sem = {
            let mut slots = state.provider_slots.lock().expect("provider slots");
            slots
                .entry(provider.to_string())
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Semaphore::new(state.provider_concurrency))
                })
                .clone()
        };
        sem.acquire_owned().await.expect("semaphore never closes")
    }
}
/// Consecutive failed runs that make a connection `failing`.
const FAILING_AFTER: i64 = 3;
const PAGE_ATTEMPTS: u32 = 3;
/// The longest a run waits out rate limits before giving up.
const MAX_RATE_WAIT: Duration = Duration::from_secs(600);

/// Builds a run's ending from its status, error and events.
type RunEnder<'a> = dyn Fn(&str, Option<String>, Vec<EventRow>) -> RunEnd + Sync + 'a;

/// How a sync job ended for the queue.
pub(crate) enum JobEnd {
    /// The run reached an end (completed, failed cleanly, cancelled): the job is done.
    Done,
    /// Another worker owns the run now; leave the job alone.
    LeaseLost,
}

/// Whether checkpoint `a` is after `b`: numerically when both are numbers (Gmail's
/// `historyId`), else as text (timestamps).
fn later(a: &str, b: &str) -> bool {
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

fn sync_event(workspace_id: &str, connection_id: &str, event_type: &str, data: Value) -> EventRow {
    EventRow {
        id: ids::new_id(ids::IdKind::Event),
        workspace_id: workspace_id.to_string(),
        event_type: event_type.into(),
        connection_id: Some(connection_id.to_string()),
        payload: data.to_string(),
        created_at: now_ms(),
    }
}

impl Syncs {
    /// Runs the sync a job carries. `lost` turns true when the job's lease could not be renewed.
    pub(crate) async fn run_sync_job(
        &self,
        job: &JobRow,
        worker: &str,
        lost: Arc<AtomicBool>,
    ) -> Result<JobEnd> {
        let Some(run) = self.ctx.store().sync_run_for_job(&job.id).await? else {
            return Ok(JobEnd::Done);
        };
        if !matches!(run.status.as_str(), "pending" | "running") {
            return Ok(JobEnd::Done);
        }
        let entities: Vec<String> = serde_json::from_str(&run.entities).unwrap_or_default();
        let full = run.mode == "full";
        let end = |status: &str, error: Option<String>, events: Vec<EventRow>| RunEnd {
            run_id: run.id.clone(),
            connection_id: run.connection_id.clone(),
            workspace_id: run.workspace_id.clone(),
            entities: entities.clone(),
            full,
            status: status.into(),
            error,
            events,
        };
        if run.cancel_requested {
            self.ctx
                .store()
                .finish_sync_run(&end("cancelled", None, vec![]))
                .await?;
            return Ok(JobEnd::Done);
        }
        let first_start = run.started_at.is_none();
        if !self.ctx.store().start_sync_run(&run.id, now_ms()).await? {
            return Ok(JobEnd::Done);
        }
        let conn = match self
            .ctx
            .store()
            .get_connection(None, &run.connection_id)
            .await?
        {
            Some(c) if c.lifecycle == Lifecycle::Enabled.as_str() => c,
            Some(c) => {
                let msg = format!("the connection is {}", c.lifecycle);
                self.fail_run(&run, &end, msg).await?;
                return Ok(JobEnd::Done);
            }
            None => {
                self.ctx
                    .store()
                    .finish_sync_run(&end(
                        "failed",
                        Some("the connection was deleted".into()),
                        vec![],
                    ))
                    .await?;
                return Ok(JobEnd::Done);
            }
        };
        if first_start {
            let ev = sync_event(
                &run.workspace_id,
                &run.connection_id,
                "sync.started",
                json!({"sync_run_id": run.id, "mode": run.mode, "entities": entities}),
            );
            self.ctx.store().record_event(&ev).await?;
            self.ctx
                .store()
                .record_activity(&activity_row(
                    Some(&run.workspace_id),
                    Some(&run.connection_id),
                    patchbay_store::SYNC_ACTOR,
                    "sync.started",
                    json!({"sync_run_id": run.id, "mode": run.mode, "entities": entities}),
                ))
                .await?;
        }
        let connector = self.ctx.connector_for(&conn)?;
        let _slot = self.provider_slot(&connector.spec().key).await;
        let mut ctx = match self.context_for_sync(&conn, connector.as_ref()).await {
            Ok(ctx) => ctx,
            Err(e) => {
                self.fail_run(&run, &end, e.to_string()).await?;
                return Ok(JobEnd::Done);
            }
        };
        for entity in &entities {
            match self
                .sync_entity(
                    &conn,
                    connector.as_ref(),
                    &mut ctx,
                    &run,
                    entity,
                    worker,
                    &lost,
                )
                .await
            {
                Ok(EntityEnd::Done) => {}
                Ok(EntityEnd::Stopped) => {
                    // Cancelled, or another worker took over: which one?
                    let now = self
                        .ctx
                        .store()
                        .get_sync_run(&run.connection_id, &run.id)
                        .await?;
                    if now.as_ref().is_some_and(|r| r.cancel_requested) {
                        let ev = sync_event(
                            &run.workspace_id,
                            &run.connection_id,
                            "sync.failed",
                            json!({"sync_run_id": run.id, "error": "cancelled"}),
                        );
                        self.ctx
                            .store()
                            .finish_sync_run(&end("cancelled", None, vec![ev]))
                            .await?;
                        return Ok(JobEnd::Done);
                    }
                    return Ok(JobEnd::LeaseLost);
                }
                Err(message) => {
                    self.fail_run(&run, &end, message).await?;
                    return Ok(JobEnd::Done);
                }
            }
        }
        let done = self
            .ctx
            .store()
            .get_sync_run(&run.connection_id, &run.id)
            .await?
            .ok_or(EngineError::NotFound("sync run"))?;
        let ev = sync_event(
            &run.workspace_id,
            &run.connection_id,
            "sync.completed",
            json!({"sync_run_id": run.id, "mode": run.mode, "added": done.added, "updated": done.updated, "deleted": done.deleted, "unchanged": done.unchanged, "pages": done.pages}),
        );
        self.ctx
            .store()
            .finish_sync_run(&end("completed", None, vec![ev]))
            .await?;
        if conn.health == Health::Failing.as_str() {
            self.restore_health(&conn).await?;
        }
        Ok(JobEnd::Done)
    }

    async fn fail_run(&self, run: &SyncRunRow, end: &RunEnder<'_>, message: String) -> Result<()> {
        let ev = sync_event(
            &run.workspace_id,
            &run.connection_id,
            "sync.failed",
            json!({"sync_run_id": run.id, "error": message}),
        );
        self.ctx
            .store()
            .finish_sync_run(&end("failed", Some(message.clone()), vec![ev]))
            .await?;
        if let Some(conn) = self
            .ctx
            .store()
            .get_connection(None, &run.connection_id)
            .await?
        {
            if conn.sync_failures >= FAILING_AFTER && conn.health == Health::Healthy.as_str() {
                let reason = format!(
                    "{} sync runs failed in a row; last: {message}",
                    conn.sync_failures
                );
                let on_write = |row: &ConnectionRow| {
                    let mut new = row.clone();
                    new.health = Health::Failing.as_str().into();
                    (
                        Vec::new(),
                        vec![connection_event(
                            &new,
                            "connection.health_changed",
                            json!({"from": row.health, "reason": reason}),
                        )],
                    )
                };
                self.ctx
                    .store()
                    .update_health(
                        &conn.id,
                        Health::Failing.as_str(),
                        Some(&reason),
                        None,
                        &on_write,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn restore_health(&self, conn: &ConnectionRow) -> Result<()> {
        let on_write = |row: &ConnectionRow| {
            let mut new = row.clone();
            new.health = Health::Healthy.as_str().into();
            (
                Vec::new(),
                vec![connection_event(
                    &new,
                    "connection.health_changed",
                    json!({"from": row.health}),
                )],
            )
        };
        self.ctx
            .store()
            .update_health(&conn.id, Health::Healthy.as_str(), None, None, &on_write)
            .await?;
        Ok(())
    }

    async fn context_for_sync(
        &self,
        conn: &ConnectionRow,
        connector: &dyn Connector,
    ) -> Result<ConnectorContext> {
        let creds = self
            .ctx
            .store()
            .list_credentials("connection", &conn.id)
            .await?;
        let (mut secrets, errors) = self.ctx.open_secrets(&creds).await?;
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        if matches!(
            connector.spec().auth,
            patchbay_core::AuthKind::Oauth2 | patchbay_core::AuthKind::Oauth2ClientCredentials
        ) {
            secrets.insert(
                "access_token".into(),
                self.tokens.access_token(&conn.id).await?,
            );
        }
        Ok(ConnectorContext {
            connection_id: conn.id.clone(),
            config: serde_json::from_str(&conn.config).unwrap_or(Value::Null),
            secrets,
        })
    }
    #[allow(clippy::too_many_arguments)]
    async fn sync_entity(
        &self,
        conn: &ConnectionRow,
        connector: &dyn Connector,
        ctx: &mut ConnectorContext,
        run: &SyncRunRow,
        entity: &str,
        worker: &str,
        lost: &AtomicBool,
    ) -> std::result::Result<EntityEnd, String> {
        let full = run.mode == "full";
        let cursor = self
            .ctx
            .store()
            .begin_entity(&conn.id, entity, &run.id, now_ms())
            .await
            .map_err(|e| e.to_string())?;
        if cursor.run_done {
            return Ok(EntityEnd::Done);
        }
        let incremental = !full
            && connector
                .spec()
                .entity(entity)
                .is_some_and(|e| e.incremental);
        let since = if incremental {
            cursor.checkpoint.clone()
        } else {
            None
        };
        let mode = if full {
            SyncMode::Full
        } else {
            SyncMode::Incremental
        };
        let mut run_checkpoint = cursor.run_checkpoint.clone();
        // A first sync of an entity (nothing stored yet, not resuming) skips change detection on
        // SQLite. On PostgreSQL the lookups of a first sync also set the new rows' hint bits as
        // they go; skipping them moves that cost, with interest, into the next run.
        let assume_new = self.ctx.store().kind() == patchbay_store::BackendKind::Sqlite
            && cursor.page_cursor.is_none()
            && !self
                .ctx
                .store()
                .has_records(&conn.id, entity)
                .await
                .map_err(|e| e.to_string())?;
        let request = |page_cursor: Option<String>| SyncRequest {
            entity: entity.to_string(),
            mode,
            page_cursor,
            since: since.clone(),
        };
        let mut fresh_token = None;
        // A page is fetched and prepared (serialized, hashed) while the previous one commits.
        let mut page = self
            .fetch_prepared(
                conn,
                connector,
                ctx,
                &request(cursor.page_cursor.clone()),
                &mut fresh_token,
            )
            .await?;
        loop {
            if lost.load(Ordering::Relaxed) {
                return Ok(EntityEnd::Stopped);
            }
            let next = page.next_page_cursor.clone();
            if let Some(cp) = &page.checkpoint {
                if run_checkpoint.as_ref().is_none_or(|c| later(cp, c)) {
                    run_checkpoint = Some(cp.clone());
                }
            }
            let commit = PageCommit {
                workspace_id: conn.workspace_id.clone(),
                connection_id: conn.id.clone(),
                entity: entity.to_string(),
                run_id: run.id.clone(),
                worker: worker.to_string(),
                full,
                assume_new,
                records: std::mem::take(&mut page.records),
                deleted_ids: std::mem::take(&mut page.deleted_ids),
                next_page_cursor: next.clone(),
                run_checkpoint: run_checkpoint.clone(),
                derived: std::mem::take(&mut page.derived),
                run_note: page.note.take(),
            };
            let fetch_next = async {
                match &next {
                    Some(c) => Some(
                        self.fetch_prepared(
                            conn,
                            connector,
                            ctx,
                            &request(Some(c.clone())),
                            &mut fresh_token,
                        )
                        .await,
                    ),
                    None => None,
                }
            };
            let (committed, fetched) =
                tokio::join!(self.ctx.store().commit_page(&commit), fetch_next);
            match committed {
                Ok(_) => {}
                // The run's lease moved to another worker, or it was cancelled.
                Err(patchbay_store::StoreError::Stale(_)) => return Ok(EntityEnd::Stopped),
                Err(e) => return Err(format!("storing a page failed: {e}")),
            }
            match fetched {
                None => return Ok(EntityEnd::Done),
                Some(Ok(p)) => page = p,
                Some(Err(e)) => return Err(e),
            }
        }
    }
}

enum EntityEnd {
    Done,
    /// Cancelled, or the lease moved to another worker.
    Stopped,
}
