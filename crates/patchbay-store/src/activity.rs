//! Activity (audit) log and event outbox.

use crate::{with_pool, with_reader, ActivityRow, EventRow, Result, Store};

pub(crate) const INSERT_ACTIVITY: &str = "INSERT INTO activity (id, workspace_id, connection_id, actor, action, details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (id, workspace_id, type, connection_id, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

/// Binds and runs an activity insert on any executor of either backend.
macro_rules! insert_activity {
    ($exec:expr, $a:expr) => {{
        let a: &$crate::ActivityRow = $a;
        sqlx::query($crate::activity::INSERT_ACTIVITY)
            .bind(&a.id)
            .bind(&a.workspace_id)
            .bind(&a.connection_id)
            .bind(&a.actor)
            .bind(&a.action)
            .bind(&a.details)
            .bind(a.created_at)
            .execute($exec)
            .await?;
    }};
}
pub(crate) use insert_activity;

macro_rules! insert_event {
    ($exec:expr, $e:expr) => {{
        let e: &$crate::EventRow = $e;
        sqlx::query($crate::activity::INSERT_EVENT)
            .bind(&e.id)
            .bind(&e.workspace_id)
            .bind(&e.event_type)
            .bind(&e.connection_id)
            .bind(&e.payload)
            .bind(e.created_at)
            .execute($exec)
            .await?;
    }};
}
pub(crate) use insert_event;

/// Filters for listing activity, newest first; `before` is the cursor (an activity id).
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// `None` lists every workspace (operators only).
    pub workspace_id: Option<String>,
    pub connection_id: Option<String>,
    pub before: Option<String>,
    pub limit: i64,
}

impl Store {
    pub async fn record_activity(&self, row: &ActivityRow) -> Result<()> {
        with_pool!(self, pool => insert_activity!(pool, row));
        Ok(())
    }

    pub async fn list_activity(&self, f: &ActivityFilter) -> Result<Vec<ActivityRow>> {
        let sql = "SELECT * FROM activity \
            WHERE (CAST($1 AS TEXT) IS NULL OR workspace_id = $1) \
              AND (CAST($2 AS TEXT) IS NULL OR connection_id = $2) \
              AND (CAST($3 AS TEXT) IS NULL OR id < $3) \
            ORDER BY id DESC LIMIT $4";
        let rows = with_reader!(self, pool => sqlx::query_as::<_, ActivityRow>(sql)
            .bind(&f.workspace_id)
            .bind(&f.connection_id)
            .bind(&f.before)
            .bind(f.limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }
}

impl Store {
    pub async fn record_event(&self, event: &EventRow) -> Result<()> {
        with_pool!(self, pool => insert_event!(pool, event));
        Ok(())
    }

    /// Events of a workspace after `after` (an event id), oldest first.
    pub async fn list_events(
        &self,
        workspace_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        let sql = "SELECT * FROM events WHERE workspace_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id > $2) ORDER BY id LIMIT $3";
        let rows = with_reader!(self, pool => sqlx::query_as::<_, EventRow>(sql)
            .bind(workspace_id)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }
}
