//! Files received with webhooks, one row per connection and attachment id. A redelivered
//! update stores its file once.

use crate::{with_pool, with_reader, Result, Store};

#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct AttachmentRow {
    pub connection_id: String,
    pub id: String,
    pub workspace_id: String,
    pub content_type: String,
    pub filename: Option<String>,
    pub size: i64,
    pub data: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for AttachmentRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentRow")
            .field("connection_id", &self.connection_id)
            .field("id", &self.id)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Stores an attachment unless the connection already has one with its id; returns
    /// whether it was new.
    pub async fn put_attachment(&self, a: &AttachmentRow) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "INSERT INTO attachments (connection_id, id, workspace_id, content_type, filename, size, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (connection_id, id) DO NOTHING")
            .bind(&a.connection_id).bind(&a.id).bind(&a.workspace_id).bind(&a.content_type)
            .bind(&a.filename).bind(a.size).bind(&a.data).bind(a.created_at)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    pub async fn get_attachment(
        &self,
        connection_id: &str,
        id: &str,
    ) -> Result<Option<AttachmentRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, AttachmentRow>(
            "SELECT * FROM attachments WHERE connection_id = $1 AND id = $2")
            .bind(connection_id).bind(id).fetch_optional(pool).await?),
        )
    }
}
