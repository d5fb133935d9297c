//! The organisation's repository registry.

use crate::{with_pool, with_reader, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RepositoryRow {
    pub id: String,
    pub workspace_id: String,
    pub provider: String,
    pub owner: String,
    pub name: String,
    pub full_name: String,
    pub enabled: bool,
    pub default_branch: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Store {
    pub async fn insert_repository(&self, r: &RepositoryRow) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO org_repositories (id, workspace_id, provider, owner, name, full_name, enabled, default_branch, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(&r.id).bind(&r.workspace_id).bind(&r.provider).bind(&r.owner).bind(&r.name)
            .bind(&r.full_name).bind(r.enabled).bind(&r.default_branch).bind(r.created_at).bind(r.updated_at)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn update_repository(&self, r: &RepositoryRow) -> Result<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE org_repositories SET enabled = $2, default_branch = $3, updated_at = $4 WHERE id = $1")
            .bind(&r.id).bind(r.enabled).bind(&r.default_branch).bind(r.updated_at)
            .execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound("repository"));
        }
        Ok(())
    }

    pub async fn delete_repository(&self, id: &str) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM org_repositories WHERE id = $1")
            .bind(id).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    pub async fn get_repository(&self, id: &str) -> Result<Option<RepositoryRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, RepositoryRow>(
            "SELECT * FROM org_repositories WHERE id = $1")
            .bind(id).fetch_optional(pool).await?),
        )
    }

    /// A workspace's repositories by full name; `enabled_only` for the read view.
    pub async fn list_repositories(
        &self,
        workspace_id: Option<&str>,
        enabled_only: bool,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RepositoryRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, RepositoryRow>(
            "SELECT * FROM org_repositories WHERE ($1 IS NULL OR workspace_id = $1) AND ($2 = FALSE OR enabled = TRUE) AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4")
            .bind(workspace_id).bind(enabled_only).bind(cursor).bind(limit)
            .fetch_all(pool).await?),
        )
    }
}
