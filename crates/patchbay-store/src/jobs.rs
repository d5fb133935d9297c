//! The durable job queue. Claiming takes a lease: `FOR UPDATE SKIP LOCKED` on PostgreSQL, a plain
//! `UPDATE … RETURNING` on SQLite, whose single writer already serialises claims. A job whose
//! lease ran out (its worker died) is claimable again.

use crate::{with_pool, with_reader, Backend, JobRow, Result, Store, StoreError};

/// What enqueueing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Created(String),
    /// A pending or running job with the same unique key exists; its id.
    Existing(String),
}

const INSERT_JOB: &str = "INSERT INTO jobs (id, kind, workspace_id, connection_id, unique_key, payload, status, attempts, max_attempts, run_at, lease_owner, lease_expires_at, last_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

macro_rules! insert_job {
    ($exec:expr, $j:expr) => {{
        let j: &JobRow = $j;
        sqlx::query(crate::jobs::INSERT_JOB_SQL)
            .bind(&j.id)
            .bind(&j.kind)
            .bind(&j.workspace_id)
            .bind(&j.connection_id)
            .bind(&j.unique_key)
            .bind(&j.payload)
            .bind(&j.status)
            .bind(j.attempts)
            .bind(j.max_attempts)
            .bind(j.run_at)
            .bind(&j.lease_owner)
            .bind(j.lease_expires_at)
            .bind(&j.last_error)
            .bind(j.created_at)
            .bind(j.updated_at)
            .execute($exec)
            .await
    }};
}
pub(crate) use insert_job;
pub(crate) const INSERT_JOB_SQL: &str = INSERT_JOB;

const CLAIM_PG: &str = "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $3, attempts = attempts + 1, updated_at = $2 \
    WHERE id = (SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $2) OR (status = 'running' AND lease_expires_at < $2) \
    ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *";
const CLAIM_SQLITE: &str = "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $3, attempts = attempts + 1, updated_at = $2 \
    WHERE id = (SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $2) OR (status = 'running' AND lease_expires_at < $2) \
    ORDER BY run_at, id LIMIT 1) RETURNING *";

impl Store {
    pub async fn enqueue_job(&self, job: &JobRow) -> Result<Enqueued> {
        let inserted = with_pool!(self, pool => insert_job!(pool, job).map(|r| r.rows_affected()));
        match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(Enqueued::Created(job.id.clone())),
            Err(StoreError::Unique { .. }) if job.unique_key.is_some() => {
                let existing: Option<String> = with_pool!(self, pool => sqlx::query_scalar(
                    "SELECT id FROM jobs WHERE unique_key = $1 AND status IN ('pending', 'running')")
                    .bind(&job.unique_key)
                    .fetch_optional(pool)
                    .await?);
                existing.map(Enqueued::Existing).ok_or_else(|| {
                    StoreError::Stale("the job holding that key ended meanwhile".into())
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Claims the next due job (or one whose lease expired) for `worker` until `lease_until`.
    pub async fn claim_job(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<JobRow>> {
        let sql = match self.backend {
            Backend::Postgres(_) => CLAIM_PG,
            Backend::Sqlite(_) => CLAIM_SQLITE,
        };
        Ok(with_pool!(self, pool => sqlx::query_as::<_, JobRow>(sql)
            .bind(worker)
            .bind(now)
            .bind(lease_until)
            .fetch_optional(pool)
            .await?))
    }

    /// Extends a lease; false when the job is no longer this worker's.
    pub async fn renew_lease(&self, id: &str, worker: &str, lease_until: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE jobs SET lease_expires_at = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
            .bind(id)
            .bind(worker)
            .bind(lease_until)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    pub async fn complete_job(&self, id: &str, worker: &str, now: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE jobs SET status = 'completed', lease_owner = NULL, lease_expires_at = NULL, updated_at = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
            .bind(id)
            .bind(worker)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Records a failure: back to pending at `retry_at`, or `dead` when `retry_at` is `None`.
    pub async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let (status, run_at) = match retry_at {
            Some(t) => ("pending", t),
            None => ("dead", now),
        };
        let n = with_pool!(self, pool => sqlx::query("UPDATE jobs SET status = $3, run_at = $4, last_error = $5, lease_owner = NULL, lease_expires_at = NULL, updated_at = $6 WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
            .bind(id)
            .bind(worker)
            .bind(status)
            .bind(run_at)
            .bind(error)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Cancels a job that has not finished; a running job's worker finds out at its next step.
    pub async fn cancel_job(&self, id: &str, now: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, updated_at = $2 WHERE id = $1 AND status IN ('pending', 'running')")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Gives back a lease without counting an attempt (shutdown).
    pub async fn release_job(&self, id: &str, worker: &str, now: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE jobs SET status = 'pending', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, run_at = $3, updated_at = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'")
            .bind(id)
            .bind(worker)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<JobRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?),
        )
    }
}

impl Store {
    /// Claims one particular job (the CLI runs a sync in the foreground this way).
    pub async fn claim_job_by_id(
        &self,
        id: &str,
        worker: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<JobRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, JobRow>(
            "UPDATE jobs SET status = 'running', lease_owner = $2, lease_expires_at = $4, attempts = attempts + 1, updated_at = $3 \
             WHERE id = $1 AND (status = 'pending' OR (status = 'running' AND lease_expires_at < $3)) RETURNING *")
            .bind(id)
            .bind(worker)
            .bind(now)
            .bind(lease_until)
            .fetch_optional(pool)
            .await?))
    }

    /// Enabled connections with a sync schedule that is due.
    pub async fn due_connections(&self, now: i64, limit: i64) -> Result<Vec<crate::ConnectionRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, crate::ConnectionRow>(
            "SELECT * FROM connections WHERE lifecycle = 'enabled' AND sync_frequency <> 'manual' AND (next_sync_at IS NULL OR next_sync_at <= $1) ORDER BY id LIMIT $2")
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?),
        )
    }

    /// Moves a connection's next sync time from `seen` to `next`; only one scheduler wins.
    pub async fn claim_schedule(&self, id: &str, seen: Option<i64>, next: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE connections SET next_sync_at = $3 WHERE id = $1 AND ((CAST($2 AS BIGINT) IS NULL AND next_sync_at IS NULL) OR next_sync_at = $2)")
            .bind(id)
            .bind(seen)
            .bind(next)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }
}
