//! Dashboard widgets of a workspace, in the order they are shown, each with the last data its
//! endpoint answered.

use crate::{with_pool, with_reader, Result, Store};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WidgetRow {
    pub id: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub endpoint: String,
    pub title: Option<String>,
    pub refresh_seconds: i32,
    pub position: i32,
    pub created_at: i64,
    pub updated_at: i64,
    /// The last data the endpoint answered (JSON); `None` until it first answered.
    pub last_data: Option<String>,
    pub last_fetched_at: Option<i64>,
}

impl Store {
    pub async fn insert_widget(&self, w: &WidgetRow) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO widgets (id, workspace_id, connection_id, endpoint, title, refresh_seconds, position, created_at, updated_at, last_data, last_fetched_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(&w.id).bind(&w.workspace_id).bind(&w.connection_id).bind(&w.endpoint)
            .bind(&w.title).bind(w.refresh_seconds).bind(w.position).bind(w.created_at)
            .bind(w.updated_at).bind(&w.last_data).bind(w.last_fetched_at)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// A workspace's widgets by position (then creation), at most `limit`.
    pub async fn list_widgets(&self, workspace_id: &str, limit: i64) -> Result<Vec<WidgetRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, WidgetRow>(
            "SELECT * FROM widgets WHERE workspace_id = $1 ORDER BY position, id LIMIT $2")
            .bind(workspace_id).bind(limit).fetch_all(pool).await?))
    }

    pub async fn get_widget(&self, workspace_id: &str, id: &str) -> Result<Option<WidgetRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, WidgetRow>(
            "SELECT * FROM widgets WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id).bind(id).fetch_optional(pool).await?))
    }

    /// Removes a widget of the workspace; `false` when there was none.
    pub async fn delete_widget(&self, workspace_id: &str, id: &str) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "DELETE FROM widgets WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id).bind(id).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Keeps `data` as the widget's last data unless what is kept was fetched later; `true`
    /// when it was kept.
    pub async fn widget_data_seen(&self, id: &str, data: &str, fetched_at: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE widgets SET last_data = $2, last_fetched_at = $3 WHERE id = $1 AND (last_fetched_at IS NULL OR last_fetched_at < $3)")
            .bind(id).bind(data).bind(fetched_at).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }
}
