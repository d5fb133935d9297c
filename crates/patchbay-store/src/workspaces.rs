//! Workspaces and their API keys.

use crate::activity::insert_activity;
use crate::{with_pool, with_reader, ActivityRow, ApiKeyRow, Result, Store, WorkspaceRow};

const INSERT_KEY: &str = "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, created_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

macro_rules! insert_key {
    ($exec:expr, $k:expr) => {{
        let k: &ApiKeyRow = $k;
        sqlx::query(INSERT_KEY)
            .bind(&k.id)
            .bind(&k.workspace_id)
            .bind(&k.name)
            .bind(&k.prefix)
            .bind(&k.key_hash)
            .bind(k.created_at)
            .bind(k.last_used_at)
            .bind(k.revoked_at)
            .execute($exec)
            .await?;
    }};
}

impl Store {
    /// Creates a workspace with its first secret key, in one transaction.
    pub async fn create_workspace(
        &self,
        ws: &WorkspaceRow,
        key: &ApiKeyRow,
        activity: &ActivityRow,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&ws.id)
                .bind(&ws.name)
                .bind(ws.created_at)
                .execute(&mut *tx)
                .await?;
            insert_key!(&mut *tx, key);
            insert_activity!(&mut *tx, activity);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn get_workspace(&self, id: &str) -> Result<Option<WorkspaceRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, WorkspaceRow>("SELECT * FROM workspaces WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Workspaces ordered by id, after the cursor.
    pub async fn list_workspaces(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WorkspaceRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, WorkspaceRow>(
            "SELECT * FROM workspaces WHERE (CAST($1 AS TEXT) IS NULL OR id > $1) ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?),
        )
    }

    pub async fn create_api_key(&self, key: &ApiKeyRow) -> Result<()> {
        with_pool!(self, pool => insert_key!(pool, key));
        Ok(())
    }

    /// The unrevoked key with this hash.
    pub async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, ApiKeyRow>(
            "SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(pool)
            .await?))
    }

    pub async fn touch_api_key(&self, id: &str, at: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn count_workspaces(&self) -> Result<i64> {
        Ok(
            with_reader!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM workspaces")
            .fetch_one(pool)
            .await?),
        )
    }
}
