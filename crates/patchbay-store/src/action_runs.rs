//! Action runs kept by idempotency key, and the lookup of connections by provider account
//! that payload-routed webhooks use.

use crate::{with_pool, with_reader, ConnectionRow, Result, Store, StoreError};

/// An action run kept under its idempotency key.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ActionRunRow {
    pub connection_id: String,
    pub idempotency_key: String,
    pub workspace_id: String,
    pub action: String,
    pub input_hash: String,
    pub status: String,
    pub result: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionClaim {
    /// The key is new: this caller runs the action.
    Claimed,
    /// The key was used before (finished or still running).
    Existing(ActionRunRow),
}

/// Most connections one routed delivery may fan out to.
const ROUTE_LIMIT: i64 = 32;

impl Store {
    /// Live connections of `connector` whose provider account is `account_id`, oldest first.
    pub async fn find_connections_by_route(
        &self,
        connector: &str,
        account_id: &str,
    ) -> Result<Vec<ConnectionRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM connections WHERE connector = $1 AND account_id = $2 AND lifecycle <> 'revoked' ORDER BY id LIMIT $3")
            .bind(connector).bind(account_id).bind(ROUTE_LIMIT)
            .fetch_all(pool).await?),
        )
    }

    /// Takes an idempotency key for a run, or returns the run that already holds it. A run of
    /// the same request still `running` since before `stale_before` (its process died) is taken
    /// over, so a key is never stuck.
    pub async fn claim_action_run(
        &self,
        run: &ActionRunRow,
        stale_before: i64,
    ) -> Result<ActionClaim> {
        let inserted = with_pool!(self, pool => sqlx::query(
            "INSERT INTO action_runs (connection_id, idempotency_key, workspace_id, action, input_hash, status, result, created_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, NULL) ON CONFLICT (connection_id, idempotency_key) DO NOTHING")
            .bind(&run.connection_id).bind(&run.idempotency_key).bind(&run.workspace_id).bind(&run.action)
            .bind(&run.input_hash).bind(&run.status).bind(run.created_at)
            .execute(pool).await?.rows_affected());
        if inserted == 1 {
            return Ok(ActionClaim::Claimed);
        }
        let taken = with_pool!(self, pool => sqlx::query(
            "UPDATE action_runs SET created_at = $5 WHERE connection_id = $1 AND idempotency_key = $2 AND action = $3 AND input_hash = $4 AND status = 'running' AND created_at < $6")
            .bind(&run.connection_id).bind(&run.idempotency_key).bind(&run.action)
            .bind(&run.input_hash).bind(run.created_at).bind(stale_before)
            .execute(pool).await?.rows_affected());
        if taken == 1 {
            return Ok(ActionClaim::Claimed);
        }
        // Read through the writer: the row may have been committed a moment ago.
        let existing = with_pool!(self, pool => sqlx::query_as::<_, ActionRunRow>(
            "SELECT * FROM action_runs WHERE connection_id = $1 AND idempotency_key = $2")
            .bind(&run.connection_id).bind(&run.idempotency_key)
            .fetch_optional(pool).await?);
        existing.map(ActionClaim::Existing).ok_or(StoreError::Stale(
            "the idempotency key was released; retry".into(),
        ))
    }

    /// Stores a finished run's outcome under its key.
    pub async fn finish_action_run(
        &self,
        connection_id: &str,
        key: &str,
        status: &str,
        result: &str,
        at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE action_runs SET status = $3, result = $4, completed_at = $5 WHERE connection_id = $1 AND idempotency_key = $2")
            .bind(connection_id).bind(key).bind(status).bind(result).bind(at)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Frees a key whose run may be tried again (it failed for a passing reason).
    pub async fn release_action_run(&self, connection_id: &str, key: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "DELETE FROM action_runs WHERE connection_id = $1 AND idempotency_key = $2")
            .bind(connection_id).bind(key)
            .execute(pool).await?.rows_affected());
        Ok(())
    }
}
