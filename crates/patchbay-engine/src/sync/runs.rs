//! Sync runs through the API: start one (queued as a job), list and read them, cancel, or
//! run one in the foreground for the CLI.

use super::Syncs;
use super::SYNC_JOB;
use crate::auth::Caller;
use crate::error::{EngineError, Result};
use crate::views::Page;
use patchbay_core::{ids, ms_to_rfc3339, now_ms, Capability, Lifecycle, SyncMode};
use patchbay_store::{ConnectionRow, JobRow, SyncRunRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

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
    /// What the connector said about the run, such as an expired cursor it recovered from by
    /// reading everything.
    pub notes: Vec<String>,
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
            notes: r
                .notes
                .as_deref()
                .map(|n| n.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }
}

impl Syncs {
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
        let row = self.ctx.load_connection(caller, connection_id).await?;
        self.queue_sync(&row, req.mode, req.entities).await
    }

    pub(crate) async fn queue_sync(
        &self,
        row: &ConnectionRow,
        mode: SyncMode,
        entities: Option<Vec<String>>,
    ) -> Result<SyncRunView> {
        let connector = self.ctx.connector_for(row)?;
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
            notes: None,
        };
        match self.ctx.store().create_sync_run(&run, &job).await? {
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
            .ctx
            .store()
            .get_connection(None, connection_id)
            .await?
            .ok_or(EngineError::NotFound("connection"))?;
        let run = self.queue_sync(&row, mode, None).await?;
        let job_id = self
            .ctx
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
                .ctx
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
        self.ctx.load_connection(caller, connection_id).await?;
        let limit = crate::page_limit(limit);
        let rows = self
            .ctx
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
        self.ctx.load_connection(caller, connection_id).await?;
        self.ctx
            .store()
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
            .ctx
            .store()
            .request_cancel(run_id, now)
            .await?
            .ok_or(EngineError::NotFound("sync run"))?;
        if row.status == "cancelled" {
            if let Some(job) = &row.job_id {
                self.ctx.store().cancel_job(job, now).await?;
            }
        }
        Ok(row.into())
    }
}
