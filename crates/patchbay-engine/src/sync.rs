//! The sync runner and the sync API. A run walks each entity page by page; every page commits
//! with its cursor, so a worker that dies resumes from the last committed page. Transient
//! provider failures are retried per page; 429 waits as told; anything else fails the run
//! cleanly, keeping what earlier pages committed. Deletions from a full run are applied only
//! when the whole run succeeded.

use crate::auth::{activity_row, Caller};
use crate::connections::connection_event;
use crate::error::{EngineError, Result};
use crate::views::Page;
use crate::Engine;
use patchbay_core::{
    ids, ms_to_rfc3339, now_ms, Capability, Connector, ConnectorContext, ConnectorError, Health,
    Lifecycle, SyncMode, SyncPage, SyncRequest,
};
use patchbay_store::{
    ActivityStore, ConnectionRow, ConnectionStore, EventRow, EventStore, JobRow, PageCommit,
    PageRecord, RecordQuery, RunEnd, SyncRunRow,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const SYNC_JOB: &str = "sync";
/// Consecutive failed runs that make a connection `failing`.
const FAILING_AFTER: i64 = 3;
const PAGE_ATTEMPTS: u32 = 3;
/// The longest a run waits out rate limits before giving up.
const MAX_RATE_WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSync {
    #[serde(default = "incremental")]
    pub mode: SyncMode,
    /// Entities to sync; all of the connector's by default.
    pub entities: Option<Vec<String>>,
}

fn incremental() -> SyncMode {
    SyncMode::Incremental
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncRunView {
    pub id: String,
    pub connection_id: String,
    pub mode: String,
    pub entities: Vec<String>,
    /// pending, running, completed, failed or cancelled.
    pub status: String,
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub pages: i64,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub created_at: String,
}

impl From<SyncRunRow> for SyncRunView {
    fn from(r: SyncRunRow) -> Self {
        SyncRunView {
            id: r.id,
            connection_id: r.connection_id,
            mode: r.mode,
            entities: serde_json::from_str(&r.entities).unwrap_or_default(),
            status: r.status,
            added: r.added,
            updated: r.updated,
            deleted: r.deleted,
            unchanged: r.unchanged,
            pages: r.pages,
            error: r.error,
            cancel_requested: r.cancel_requested,
            started_at: r.started_at.map(ms_to_rfc3339),
            finished_at: r.finished_at.map(ms_to_rfc3339),
            created_at: ms_to_rfc3339(r.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    pub id: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub deleted: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// Page size, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "crate::de_page_limit")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// RFC 3339; only records patchbay changed after this time.
    pub modified_after: Option<String>,
    #[serde(default)]
    pub include_deleted: bool,
}

/// The content hash of a record: XXH3-128 over its canonical JSON (keys sorted), streamed so
/// no text is built for records that turn out unchanged. Change detection needs speed and a
/// negligible accidental-collision rate, not resistance to an adversary: the provider's own
/// data is what is hashed.
pub fn record_hash(data: &Value) -> String {
    struct Hasher(xxhash_rust::xxh3::Xxh3);
    impl std::io::Write for Hasher {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hasher(xxhash_rust::xxh3::Xxh3::new());
    let _ = serde_json::to_writer(&mut h, data);
    format!("{:032x}", h.0.digest128())
}

fn encode_cursor(ts: i64, id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ts}:{id}"))
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (ts, id) = text.split_once(':')?;
    Some((ts.parse().ok()?, id.to_string()))
}

/// Builds a run's ending from its status, error and events.
type RunEnder<'a> = dyn Fn(&str, Option<String>, Vec<EventRow>) -> RunEnd + Sync + 'a;

/// How a sync job ended for the queue.
pub(crate) enum JobEnd {
    /// The run reached an end (completed, failed cleanly, cancelled): the job is done.
    Done,
    /// Another worker owns the run now; leave the job alone.
    LeaseLost,
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

impl Engine {
    /// Queues a sync run; `Conflict` (with the running run's id) while one is pending or running.
    pub async fn start_sync(
        &self,
        caller: &Caller,
        connection_id: &str,
        req: StartSync,
    ) -> Result<SyncRunView> {
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot start syncs".into(),
            ));
        }
        let row = self.load_connection(caller, connection_id).await?;
        self.queue_sync(&row, req.mode, req.entities).await
    }

    pub(crate) async fn queue_sync(
        &self,
        row: &ConnectionRow,
        mode: SyncMode,
        entities: Option<Vec<String>>,
    ) -> Result<SyncRunView> {
        let connector = self.connector_for(row)?;
        let spec = connector.spec();
        if !spec.supports(Capability::Sync) {
            return Err(EngineError::Incapable(format!(
                "{} does not sync",
                spec.key
            )));
        }
        if row.lifecycle != Lifecycle::Enabled.as_str() {
            return Err(EngineError::Conflict(format!(
                "the connection is {}; syncs need it enabled",
                row.lifecycle
            )));
        }
        let entities = match entities {
            Some(list) => {
                if let Some(bad) = list.iter().find(|e| spec.entity(e).is_none()) {
                    let known: Vec<&str> = spec.entities.iter().map(|e| e.key.as_str()).collect();
                    return Err(EngineError::Validation(vec![
                        patchbay_core::FieldError::new(
                            "entities",
                            "unknown",
                            format!(
                                "{} has no entity '{bad}'; known: {}",
                                spec.key,
                                known.join(", ")
                            ),
                        ),
                    ]));
                }
                list
            }
            None => spec.entities.iter().map(|e| e.key.clone()).collect(),
        };
        let now = now_ms();
        let run_id = ids::new_id(ids::IdKind::SyncRun);
        let job = JobRow {
            id: ids::new_id(ids::IdKind::Job),
            kind: SYNC_JOB.into(),
            workspace_id: Some(row.workspace_id.clone()),
            connection_id: Some(row.id.clone()),
            unique_key: Some(format!("sync:{}", row.id)),
            payload: json!({"sync_run_id": run_id}).to_string(),
            status: "pending".into(),
            attempts: 0,
            max_attempts: 5,
            run_at: now,
            lease_owner: None,
            lease_expires_at: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        let run = SyncRunRow {
            id: run_id,
            workspace_id: row.workspace_id.clone(),
            connection_id: row.id.clone(),
            job_id: Some(job.id.clone()),
            mode: match mode {
                SyncMode::Full => "full".into(),
                SyncMode::Incremental => "incremental".into(),
            },
            entities: serde_json::to_string(&entities).unwrap_or_else(|_| "[]".into()),
            status: "pending".into(),
            added: 0,
            updated: 0,
            deleted: 0,
            unchanged: 0,
            pages: 0,
            error: None,
            cancel_requested: false,
            started_at: None,
            finished_at: None,
            created_at: now,
        };
        match self.store().create_sync_run(&run, &job).await? {
            Ok(()) => Ok(run.into()),
            Err(existing) => Err(EngineError::Conflict(format!(
                "a sync of this connection is already pending or running: {existing}"
            ))),
        }
    }

    /// Queues a sync and runs it in this process, reporting progress until it ends (if a
    /// worker elsewhere claims it first, this watches that worker's progress instead).
    pub async fn run_sync_in_foreground(
        &self,
        connection_id: &str,
        mode: SyncMode,
        mut progress: impl FnMut(&SyncRunView),
    ) -> Result<SyncRunView> {
        let row = self
            .store()
            .get_connection(None, connection_id)
            .await?
            .ok_or(EngineError::NotFound("connection"))?;
        let run = self.queue_sync(&row, mode, None).await?;
        let job_id = self
            .store()
            .get_sync_run(connection_id, &run.id)
            .await?
            .and_then(|r| r.job_id)
            .ok_or(EngineError::NotFound("sync job"))?;
        let engine = self.clone();
        let worker = format!("cli-{}", std::process::id());
        let mut task = tokio::spawn(async move { engine.run_job_now(&job_id, &worker).await });
        let mut ran_here = false;
        loop {
            let view: SyncRunView = self
                .store()
                .get_sync_run(connection_id, &run.id)
                .await?
                .map(Into::into)
                .ok_or(EngineError::NotFound("sync run"))?;
            progress(&view);
            if !matches!(view.status.as_str(), "pending" | "running") {
                return Ok(view);
            }
            if ran_here {
                // Claimed by a worker elsewhere: watch it.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            tokio::select! {
                joined = &mut task => {
                    ran_here = true;
                    if let Ok(Err(e)) = joined {
                        return Err(e);
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    pub async fn list_sync_runs(
        &self,
        caller: &Caller,
        connection_id: &str,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<SyncRunView>> {
        self.load_connection(caller, connection_id).await?;
        let limit = crate::page_limit(limit);
        let rows = self
            .store()
            .list_sync_runs(connection_id, cursor, limit + 1)
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(SyncRunView::from).collect(),
            limit,
            |r| r.id.clone(),
        ))
    }

    pub async fn get_sync_run(
        &self,
        caller: &Caller,
        connection_id: &str,
        run_id: &str,
    ) -> Result<SyncRunView> {
        self.load_connection(caller, connection_id).await?;
        self.store()
            .get_sync_run(connection_id, run_id)
            .await?
            .map(Into::into)
            .ok_or(EngineError::NotFound("sync run"))
    }

    /// Cancels a pending run at once, or a running one at its next page; nothing is deleted.
    pub async fn cancel_sync_run(
        &self,
        caller: &Caller,
        connection_id: &str,
        run_id: &str,
    ) -> Result<SyncRunView> {
        if matches!(caller, Caller::Integration { .. }) {
            return Err(EngineError::Forbidden(
                "integration keys cannot cancel syncs".into(),
            ));
        }
        let run = self.get_sync_run(caller, connection_id, run_id).await?;
        if !matches!(run.status.as_str(), "pending" | "running") {
            return Err(EngineError::Conflict(format!(
                "the sync run is already {}",
                run.status
            )));
        }
        let now = now_ms();
        let row = self
            .store()
            .request_cancel(run_id, now)
            .await?
            .ok_or(EngineError::NotFound("sync run"))?;
        if row.status == "cancelled" {
            if let Some(job) = &row.job_id {
                use patchbay_store::JobStore;
                self.store().cancel_job(job, now).await?;
            }
        }
        Ok(row.into())
    }

    pub async fn list_records(
        &self,
        caller: &Caller,
        connection_id: &str,
        entity: &str,
        q: &RecordsQuery,
    ) -> Result<Page<RecordView>> {
        self.load_connection(caller, connection_id).await?;
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let after = match &q.cursor {
            Some(c) => Some(
                decode_cursor(c).ok_or_else(|| EngineError::BadRequest("invalid cursor".into()))?,
            ),
            None => None,
        };
        let modified_after = match &q.modified_after {
            Some(t) => Some(
                chrono::DateTime::parse_from_rfc3339(t)
                    .map_err(|_| {
                        EngineError::BadRequest(format!(
                            "modified_after '{t}' is not an RFC 3339 time"
                        ))
                    })?
                    .timestamp_millis(),
            ),
            None => None,
        };
        let rows = self
            .store()
            .list_records(&RecordQuery {
                connection_id: connection_id.into(),
                entity: entity.into(),
                after,
                modified_after,
                include_deleted: q.include_deleted,
                limit: limit + 1,
            })
            .await?;
        let views: Vec<(i64, RecordView)> = rows
            .into_iter()
            .map(|r| {
                (
                    r.updated_at,
                    RecordView {
                        id: r.id,
                        data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
                        deleted: r.deleted,
                        created_at: ms_to_rfc3339(r.created_at),
                        updated_at: ms_to_rfc3339(r.updated_at),
                    },
                )
            })
            .collect();
        let page = Page::from_overfetch(views, limit, |(ts, v)| encode_cursor(*ts, &v.id));
        Ok(Page {
            data: page.data.into_iter().map(|(_, v)| v).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Runs the sync a job carries. `lost` turns true when the job's lease could not be renewed.
    pub(crate) async fn run_sync_job(
        &self,
        job: &JobRow,
        worker: &str,
        lost: Arc<AtomicBool>,
    ) -> Result<JobEnd> {
        let Some(run) = self.store().sync_run_for_job(&job.id).await? else {
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
            self.store()
                .finish_sync_run(&end("cancelled", None, vec![]))
                .await?;
            return Ok(JobEnd::Done);
        }
        let first_start = run.started_at.is_none();
        if !self.store().start_sync_run(&run.id, now_ms()).await? {
            return Ok(JobEnd::Done);
        }
        let conn = match self
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
                self.store()
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
            self.store().record_event(&ev).await?;
            self.store()
                .record_activity(&activity_row(
                    Some(&run.workspace_id),
                    Some(&run.connection_id),
                    patchbay_store::SYNC_ACTOR,
                    "sync.started",
                    json!({"sync_run_id": run.id, "mode": run.mode, "entities": entities}),
                ))
                .await?;
        }
        let connector = self.connector_for(&conn)?;
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
                        self.store()
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
        self.store()
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
        self.store()
            .finish_sync_run(&end("failed", Some(message.clone()), vec![ev]))
            .await?;
        if let Some(conn) = self
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
                self.store()
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
        self.store()
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
            .store()
            .list_credentials("connection", &conn.id)
            .await?;
        let (mut secrets, errors) = self.open_secrets(&creds).await?;
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        if matches!(
            connector.spec().auth,
            patchbay_core::AuthKind::Oauth2 | patchbay_core::AuthKind::Oauth2ClientCredentials
        ) {
            secrets.insert("access_token".into(), self.access_token(&conn.id).await?);
        }
        Ok(ConnectorContext {
            connection_id: conn.id.clone(),
            config: serde_json::from_str(&conn.config).unwrap_or(Value::Null),
            secrets,
        })
    }

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
            self.rate_budget()
                .acquire(&self.rate_keys(&provider_key, &conn.id))
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
                    self.pause_connection(&provider_key, &conn.id, pause);
                }
                Err(ConnectorError::Unauthorized { .. })
                    if !refreshed && ctx.secrets.contains_key("access_token") =>
                {
                    refreshed = true;
                    let stale = fresh_token
                        .clone()
                        .or_else(|| ctx.secrets.get("access_token").cloned());
                    match self
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
                        let _ = self.mark_token_expired(&conn.id, &e.to_string()).await;
                    }
                    return Err(e.to_string());
                }
                Err(e) => return Err(e.to_string()),
            }
        }
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
        let assume_new = self.store().kind() == patchbay_store::BackendKind::Sqlite
            && cursor.page_cursor.is_none()
            && !self
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
                if run_checkpoint.as_ref().is_none_or(|c| cp > c) {
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
            let (committed, fetched) = tokio::join!(self.store().commit_page(&commit), fetch_next);
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

    async fn fetch_prepared(
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
            deleted_ids: page.deleted_ids,
            next_page_cursor: page.next_page_cursor,
            checkpoint: page.checkpoint,
        })
    }
}

/// A fetched page with each record serialized and hashed.
struct PreparedPage {
    records: Vec<PageRecord>,
    deleted_ids: Vec<String>,
    next_page_cursor: Option<String>,
    checkpoint: Option<String>,
}

enum EntityEnd {
    Done,
    /// Cancelled, or the lease moved to another worker.
    Stopped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_hashes_are_stable() {
        let c = encode_cursor(1_700_000_000_123, "rec_1:with:colons");
        assert_eq!(
            decode_cursor(&c),
            Some((1_700_000_000_123, "rec_1:with:colons".into()))
        );
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(
            record_hash(&json!({"a": 1, "b": [2]})),
            record_hash(&json!({"b": [2], "a": 1})),
            "key order does not matter"
        );
        assert_ne!(record_hash(&json!({"a": 1})), record_hash(&json!({"a": 2})));
        assert_eq!(record_hash(&json!("x")).len(), 32);
    }
}
