//! Sync runs, per-entity cursors and the record store. A page of a sync commits in one
//! transaction: its record changes, its seen-ids (full runs), the cursor to resume from, the
//! run's counters and a `records.changed` event. Unchanged records are not written.

use crate::activity::{insert_activity, insert_event};
use crate::context::{
    lite_derived_sources, lite_derived_stored, lite_derived_upsert, pg_derived_sources,
    pg_derived_stored, pg_derived_upsert,
};
use crate::jobs::insert_job;
use crate::{
    with_pool, with_reader, Backend, EventRow, JobRow, RecordRow, Result, Store, StoreError,
    SyncCursorRow, SyncRunRow,
};
use patchbay_core::{ids, now_ms};
use std::collections::HashMap;
use std::fmt::Write;

/// One fetched record, ready to store.
#[derive(Debug, Clone)]
pub struct PageRecord {
    pub id: String,
    /// The record; serialized only when it is new or changed.
    pub data: serde_json::Value,
    /// Content hash of `data`; equal hashes mean nothing changed.
    pub hash: String,
}

/// Everything one page commits.
#[derive(Debug, Clone)]
pub struct PageCommit {
    pub workspace_id: String,
    pub connection_id: String,
    pub entity: String,
    pub run_id: String,
    /// The worker that must still hold the run's job lease for the page to land.
    pub worker: String,
    /// Full runs remember seen ids for deletion detection.
    pub full: bool,
    /// The entity held no records when the run began (a first sync): every record is new, so
    /// change detection is skipped.
    pub assume_new: bool,
    pub records: Vec<PageRecord>,
    pub deleted_ids: Vec<String>,
    pub next_page_cursor: Option<String>,
    pub run_checkpoint: Option<String>,
    /// Records derived from this page's (a message's people, invites, action items).
    pub derived: Vec<patchbay_core::DerivedRecord>,
    /// A note the connector made about the run, appended to the run's notes.
    pub run_note: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub run_id: String,
    pub connection_id: String,
    pub workspace_id: String,
    pub entities: Vec<String>,
    pub full: bool,
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    pub error: Option<String>,
    pub events: Vec<EventRow>,
}

/// Who syncs in the activity log.
pub const SYNC_ACTOR: &str = "system:sync";

/// A page of the records API, ordered by (updated_at, id).
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub connection_id: String,
    pub entity: String,
    pub after: Option<(i64, String)>,
    pub modified_after: Option<i64>,
    pub include_deleted: bool,
    pub limit: i64,
}

fn records_event(
    c: &PageCommit,
    counts: PageCounts,
    changed: &[&str],
    deleted: &[String],
) -> EventRow {
    let ids: Vec<&str> = changed
        .iter()
        .copied()
        .chain(deleted.iter().map(String::as_str))
        .take(100)
        .collect();
    EventRow {
        id: ids::new_id(ids::IdKind::Event),
        workspace_id: c.workspace_id.clone(),
        event_type: "records.changed".into(),
        connection_id: Some(c.connection_id.clone()),
        payload: serde_json::json!({
            "connection_id": c.connection_id, "entity": c.entity, "sync_run_id": (!c.run_id.is_empty()).then_some(&c.run_id),
            "added": counts.added, "updated": counts.updated, "deleted": counts.deleted, "ids": ids,
        })
        .to_string(),
        created_at: now_ms(),
    }
}

/// `["a","b"]` for SQLite's json_each.
fn json_ids<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&ids.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

// The statements of a page commit that differ by backend: PostgreSQL takes arrays
// (`ANY`, `UNNEST`), SQLite takes one JSON array per statement (`json_each`).
// Which records of a page are new or changed, decided in the database so an unchanged page
// sends nothing back. Returns (index in the page, is_new).
macro_rules! pg_changed {
    ($tx:expr, $c:expr, $rows:expr) => {{
        let ids: Vec<&str> = $rows.iter().map(|r| r.id.as_str()).collect();
        let hashes: Vec<&str> = $rows.iter().map(|r| r.hash.as_str()).collect();
        sqlx::query_as::<_, (i64, bool)>(
            "SELECT u.ord - 1, r.id IS NULL FROM UNNEST($3::text[], $4::text[]) WITH ORDINALITY AS u(id, hash, ord) \
             LEFT JOIN records r ON r.connection_id = $1 AND r.entity = $2 AND r.id = u.id \
             WHERE r.id IS NULL OR r.hash <> u.hash OR r.deleted")
            .bind(&$c.connection_id)
            .bind(&$c.entity)
            .bind(&ids)
            .bind(&hashes)
            .fetch_all(&mut *$tx)
            .await?
    }};
}
macro_rules! lite_changed {
    ($tx:expr, $c:expr, $rows:expr) => {{
        let mut pairs = String::with_capacity($rows.len() * 64);
        pairs.push('[');
        for (n, r) in $rows.iter().enumerate() {
            if n > 0 {
                pairs.push(',');
            }
            let _ = write!(pairs, "[{},\"{}\"]", serde_json::to_string(&r.id).unwrap_or_default(), r.hash);
        }
        pairs.push(']');
        sqlx::query_as::<_, (i64, bool)>(
            "SELECT j.key, r.id IS NULL FROM json_each($3) AS j \
             LEFT JOIN records r ON r.connection_id = $1 AND r.entity = $2 AND r.id = j.value ->> 0 \
             WHERE r.id IS NULL OR r.hash <> j.value ->> 1 OR r.deleted")
            .bind(&$c.connection_id)
            .bind(&$c.entity)
            .bind(pairs)
            .fetch_all(&mut *$tx)
            .await?
    }};
}
macro_rules! pg_upsert {
    ($tx:expr, $c:expr, $rows:expr, $now:expr) => {{
        let ids: Vec<&str> = $rows.iter().map(|r| r.id.as_str()).collect();
        let data: Vec<String> = $rows.iter().map(|r| r.data.to_string()).collect();
        let hashes: Vec<&str> = $rows.iter().map(|r| r.hash.as_str()).collect();
        sqlx::query("INSERT INTO records (connection_id, entity, id, workspace_id, data, hash, deleted, created_at, updated_at) \
            SELECT $1, $2, u.id, $3, u.data, u.hash, FALSE, $4, $4 FROM UNNEST($5::text[], $6::text[], $7::text[]) AS u(id, data, hash) \
            ON CONFLICT (connection_id, entity, id) DO UPDATE SET data = excluded.data, hash = excluded.hash, deleted = FALSE, updated_at = excluded.updated_at")
            .bind(&$c.connection_id)
            .bind(&$c.entity)
            .bind(&$c.workspace_id)
            .bind($now)
            .bind(&ids)
            .bind(&data)
            .bind(&hashes)
            .execute(&mut *$tx)
            .await?;
    }};
}
macro_rules! lite_upsert {
    ($tx:expr, $c:expr, $rows:expr, $now:expr) => {{
        // One statement per page: the rows travel as one JSON array.
        let mut rows = String::with_capacity($rows.len() * 1100);
        rows.push('[');
        for (n, r) in $rows.iter().enumerate() {
            if n > 0 {
                rows.push(',');
            }
            let _ = write!(rows, "{{\"i\":{},\"h\":\"{}\",\"d\":{}}}", serde_json::to_string(&r.id).unwrap_or_default(), r.hash, r.data);
        }
        rows.push(']');
        sqlx::query("INSERT INTO records (connection_id, entity, id, workspace_id, data, hash, deleted, created_at, updated_at) \
            SELECT $1, $2, j.value ->> '$.i', $3, j.value -> '$.d', j.value ->> '$.h', FALSE, $4, $4 FROM json_each($5) AS j WHERE true \
            ON CONFLICT (connection_id, entity, id) DO UPDATE SET data = excluded.data, hash = excluded.hash, deleted = FALSE, updated_at = excluded.updated_at")
            .bind(&$c.connection_id)
            .bind(&$c.entity)
            .bind(&$c.workspace_id)
            .bind($now)
            .bind(rows)
            .execute(&mut *$tx)
            .await?;
    }};
}
macro_rules! pg_delete {
    ($tx:expr, $c:expr, $now:expr) => {
        sqlx::query_scalar::<_, String>("UPDATE records SET deleted = TRUE, updated_at = $3 WHERE connection_id = $1 AND entity = $2 AND deleted = FALSE AND id = ANY($4) RETURNING id")
            .bind(&$c.connection_id)
            .bind(&$c.entity)
            .bind($now)
            .bind(&$c.deleted_ids)
            .fetch_all(&mut *$tx)
            .await?
    };
}
macro_rules! lite_delete {
    ($tx:expr, $c:expr, $now:expr) => {
        sqlx::query_scalar::<_, String>("UPDATE records SET deleted = TRUE, updated_at = $3 WHERE connection_id = $1 AND entity = $2 AND deleted = FALSE AND id IN (SELECT value FROM json_each($4)) RETURNING id")
            .bind(&$c.connection_id)
            .bind(&$c.entity)
            .bind($now)
            .bind(json_ids($c.deleted_ids.iter().map(String::as_str)))
            .fetch_all(&mut *$tx)
            .await?
    };
}
macro_rules! pg_seen {
    ($tx:expr, $c:expr, $ids:expr) => {
        lite_seen!($tx, $c, $ids)
    };
}
macro_rules! lite_seen {
    ($tx:expr, $c:expr, $ids:expr) => {
        sqlx::query("INSERT INTO sync_seen (run_id, entity, ids) VALUES ($1, $2, $3)")
            .bind(&$c.run_id)
            .bind(&$c.entity)
            .bind(json_ids($ids.iter().copied()))
            .execute(&mut *$tx)
            .await?
    };
}

/// The page transaction, with the backend's statements plugged in.
macro_rules! commit_page_body {
    ($pool:expr, $c:expr, $changed:ident, $upsert:ident, $delete:ident, $seen:ident, $d_sources:ident, $d_stored:ident, $d_upsert:ident) => {{
        let c: &PageCommit = $c;
        let now = now_ms();
        let page_ids: Vec<&str> = c.records.iter().map(|r| r.id.as_str()).collect();
        let mut tx = $pool.begin().await?;
        // Writes from a webhook belong to no run: no fencing, cursor or counters.
        let in_run = !c.run_id.is_empty();
        // Fencing: only the worker holding the job's lease may write the run's pages.
        let owned = if !in_run { 1 } else { sqlx::query("UPDATE sync_runs SET pages = pages + 1 WHERE id = $1 AND status = 'running' AND NOT cancel_requested \
            AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id = sync_runs.job_id AND jobs.lease_owner = $2 AND jobs.status = 'running')")
            .bind(&c.run_id)
            .bind(&c.worker)
            .execute(&mut *tx)
            .await?
            .rows_affected() };
        if owned == 0 {
            return Err(StoreError::Stale(format!("sync run {} is no longer running here", c.run_id)));
        }
        // A page may repeat an id (providers do); the last copy counts, once.
        let mut last_copy: HashMap<&str, usize> = HashMap::with_capacity(c.records.len());
        for (n, r) in c.records.iter().enumerate() {
            last_copy.insert(r.id.as_str(), n);
        }
        let unique: Vec<&PageRecord> = c.records.iter().enumerate().filter(|(n, r)| last_copy[r.id.as_str()] == *n).map(|(_, r)| r).collect();
        let flagged: Vec<(i64, bool)> = if unique.is_empty() {
            Vec::new()
        } else if c.assume_new {
            (0..unique.len() as i64).map(|i| (i, true)).collect()
        } else {
            $changed!(tx, c, unique)
        };
        let mut counts = PageCounts::default();
        let mut changed: Vec<&PageRecord> = Vec::with_capacity(flagged.len());
        for (index, is_new) in &flagged {
            if let Some(r) = unique.get(*index as usize) {
                changed.push(r);
                if *is_new {
                    counts.added += 1;
                } else {
                    counts.updated += 1;
                }
            }
        }
        counts.unchanged = unique.len() as i64 - changed.len() as i64;
        if !changed.is_empty() {
            $upsert!(tx, c, changed, now);
        }
        let gone: Vec<String> = if c.deleted_ids.is_empty() { Vec::new() } else { $delete!(tx, c, now) };
        counts.deleted = gone.len() as i64;
        if !c.derived.is_empty() {
            crate::context::write_derived!(tx, c, now, $d_sources, $d_stored, $d_upsert);
        }
        if c.full && !page_ids.is_empty() {
            $seen!(tx, c, &page_ids);
        }
        if in_run {
        sqlx::query("UPDATE sync_cursors SET page_cursor = $4, run_checkpoint = $5, run_done = $6, updated_at = $7 WHERE connection_id = $1 AND entity = $2 AND run_id = $3")
            .bind(&c.connection_id)
            .bind(&c.entity)
            .bind(&c.run_id)
            .bind(&c.next_page_cursor)
            .bind(&c.run_checkpoint)
            .bind(c.next_page_cursor.is_none())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if let Some(note) = &c.run_note {
            sqlx::query("UPDATE sync_runs SET notes = CASE WHEN notes IS NULL THEN $2 ELSE notes || $3 || $2 END WHERE id = $1")
                .bind(&c.run_id)
                .bind(note)
                .bind("\n")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE sync_runs SET added = added + $2, updated = updated + $3, deleted = deleted + $4, unchanged = unchanged + $5 WHERE id = $1")
            .bind(&c.run_id)
            .bind(counts.added)
            .bind(counts.updated)
            .bind(counts.deleted)
            .bind(counts.unchanged)
            .execute(&mut *tx)
            .await?;
        }
        if counts.added + counts.updated + counts.deleted > 0 {
            let changed_ids: Vec<&str> = changed.iter().map(|r| r.id.as_str()).collect();
            let event = records_event(c, counts, &changed_ids, &gone);
            insert_event!(&mut *tx, &event);
        }
        tx.commit().await?;
        Ok(counts)
    }};
}

impl Store {
    /// Creates a run and its job unless a sync of the connection is already pending or running;
    /// then `Err(existing run id)`.
    pub async fn create_sync_run(
        &self,
        run: &SyncRunRow,
        job: &JobRow,
    ) -> Result<Result<(), String>> {
        if let Some(existing) = self.active_sync_run(&run.connection_id).await? {
            return Ok(Err(existing));
        }
        let outcome = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            match insert_job!(&mut *tx, job) {
                Ok(_) => {}
                Err(e) => return match StoreError::from(e) {
                    StoreError::Unique { .. } => match self.active_sync_run(&run.connection_id).await? {
                        Some(existing) => Ok(Err(existing)),
                        None => Err(StoreError::Stale("a sync is starting".into())),
                    },
                    other => Err(other),
                },
            }
            sqlx::query("INSERT INTO sync_runs (id, workspace_id, connection_id, job_id, mode, entities, status, added, updated, deleted, unchanged, pages, error, cancel_requested, started_at, finished_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0, 0, NULL, FALSE, NULL, NULL, $8)")
                .bind(&run.id)
                .bind(&run.workspace_id)
                .bind(&run.connection_id)
                .bind(&run.job_id)
                .bind(&run.mode)
                .bind(&run.entities)
                .bind(&run.status)
                .bind(run.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Ok(()))
        })?;
        Ok(outcome)
    }

    /// The pending or running sync of a connection.
    pub async fn active_sync_run(&self, connection_id: &str) -> Result<Option<String>> {
        Ok(with_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT id FROM sync_runs WHERE connection_id = $1 AND status IN ('pending', 'running') ORDER BY id DESC LIMIT 1")
            .bind(connection_id)
            .fetch_optional(pool)
            .await?))
    }

    pub async fn get_sync_run(
        &self,
        connection_id: &str,
        run_id: &str,
    ) -> Result<Option<SyncRunRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, SyncRunRow>("SELECT * FROM sync_runs WHERE id = $1 AND connection_id = $2")
            .bind(run_id)
            .bind(connection_id)
            .fetch_optional(pool)
            .await?),
        )
    }

    pub async fn sync_run_for_job(&self, job_id: &str) -> Result<Option<SyncRunRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, SyncRunRow>("SELECT * FROM sync_runs WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Runs of a connection, newest first; `before` is the cursor.
    pub async fn list_sync_runs(
        &self,
        connection_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SyncRunRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, SyncRunRow>(
            "SELECT * FROM sync_runs WHERE connection_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id < $2) ORDER BY id DESC LIMIT $3")
            .bind(connection_id)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    /// Marks a run running (again, after a worker restart); false when it already ended.
    pub async fn start_sync_run(&self, run_id: &str, now: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE sync_runs SET status = 'running', started_at = COALESCE(started_at, $2) WHERE id = $1 AND status IN ('pending', 'running')")
            .bind(run_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Asks a run to stop at its next page; a pending run is cancelled at once.
    pub async fn request_cancel(&self, run_id: &str, now: i64) -> Result<Option<SyncRunRow>> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE sync_runs SET cancel_requested = TRUE WHERE id = $1 AND status IN ('pending', 'running')")
                .bind(run_id)
                .execute(pool)
                .await?;
            sqlx::query("UPDATE sync_runs SET status = 'cancelled', finished_at = $2 WHERE id = $1 AND status = 'pending'")
                .bind(run_id)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, SyncRunRow>("SELECT * FROM sync_runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await?),
        )
    }

    pub async fn sync_cursor(
        &self,
        connection_id: &str,
        entity: &str,
    ) -> Result<Option<SyncCursorRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, SyncCursorRow>("SELECT * FROM sync_cursors WHERE connection_id = $1 AND entity = $2")
            .bind(connection_id)
            .bind(entity)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Points the entity's cursor at `run_id`, keeping the page cursor when the run is resuming.
    pub async fn begin_entity(
        &self,
        connection_id: &str,
        entity: &str,
        run_id: &str,
        now: i64,
    ) -> Result<SyncCursorRow> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO sync_cursors (connection_id, entity, checkpoint, run_id, page_cursor, run_checkpoint, run_done, updated_at) VALUES ($1, $2, NULL, $3, NULL, NULL, FALSE, $4) \
                ON CONFLICT (connection_id, entity) DO UPDATE SET run_id = excluded.run_id, page_cursor = NULL, run_checkpoint = NULL, run_done = FALSE, updated_at = excluded.updated_at \
                WHERE sync_cursors.run_id IS NULL OR sync_cursors.run_id <> excluded.run_id")
                .bind(connection_id)
                .bind(entity)
                .bind(run_id)
                .bind(now)
                .execute(pool)
                .await?;
        });
        self.sync_cursor(connection_id, entity)
            .await?
            .ok_or(StoreError::NotFound("sync cursor"))
    }

    /// Commits one page; fails with `Conflict` when the run is no longer this worker's to write.
    pub async fn commit_page(&self, c: &PageCommit) -> Result<PageCounts> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                commit_page_body!(
                    pool,
                    c,
                    lite_changed,
                    lite_upsert,
                    lite_delete,
                    lite_seen,
                    lite_derived_sources,
                    lite_derived_stored,
                    lite_derived_upsert
                )
            }
            Backend::Postgres(pool) => {
                commit_page_body!(
                    pool,
                    c,
                    pg_changed,
                    pg_upsert,
                    pg_delete,
                    pg_seen,
                    pg_derived_sources,
                    pg_derived_stored,
                    pg_derived_upsert
                )
            }
        }
    }

    /// Ends a run. A completed full run marks every record it did not see as deleted; a failed
    /// or cancelled run deletes nothing. Returns the records deleted by the sweep.
    pub async fn finish_sync_run(&self, end: &RunEnd) -> Result<i64> {
        let now = now_ms();
        let sweep_sql = match self.backend {
            Backend::Sqlite(_) => "UPDATE records SET deleted = TRUE, updated_at = $4 WHERE connection_id = $1 AND entity = $2 AND deleted = FALSE \
                AND id NOT IN (SELECT j.value FROM sync_seen s, json_each(s.ids) j WHERE s.run_id = $3 AND s.entity = $2) RETURNING id",
            // An anti-join, so PostgreSQL can hash the seen ids instead of rescanning them.
            Backend::Postgres(_) => "WITH seen AS (SELECT jsonb_array_elements_text(s.ids::jsonb) AS id FROM sync_seen s WHERE s.run_id = $3 AND s.entity = $2) \
                UPDATE records r SET deleted = TRUE, updated_at = $4 WHERE r.connection_id = $1 AND r.entity = $2 AND r.deleted = FALSE \
                AND NOT EXISTS (SELECT 1 FROM seen WHERE seen.id = r.id) RETURNING r.id",
        };
        let completed = end.status == "completed";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut swept_total = 0i64;
            if completed {
                for entity in &end.entities {
                    let swept: Vec<String> = if end.full {
                        sqlx::query_scalar(sweep_sql)
                            .bind(&end.connection_id)
                            .bind(entity)
                            .bind(&end.run_id)
                            .bind(now)
                            .fetch_all(&mut *tx)
                            .await?
                    } else {
                        Vec::new()
                    };
                    if !swept.is_empty() {
                        swept_total += swept.len() as i64;
                        let commit = PageCommit {
                            workspace_id: end.workspace_id.clone(),
                            connection_id: end.connection_id.clone(),
                            entity: entity.clone(),
                            run_id: end.run_id.clone(),
                            worker: String::new(),
                            full: true,
                            assume_new: false,
                            records: Vec::new(),
                            deleted_ids: Vec::new(),
                            next_page_cursor: None,
                            run_checkpoint: None,
                            derived: Vec::new(),
                            run_note: None,
                        };
                        let counts = PageCounts { deleted: swept.len() as i64, ..Default::default() };
                        insert_event!(&mut *tx, &records_event(&commit, counts, &[], &swept));
                    }
                    // The run's checkpoint becomes where the next incremental run starts.
                    sqlx::query("UPDATE sync_cursors SET checkpoint = COALESCE(run_checkpoint, checkpoint), run_id = NULL, page_cursor = NULL, run_checkpoint = NULL, run_done = FALSE, updated_at = $3 WHERE connection_id = $1 AND entity = $2")
                        .bind(&end.connection_id)
                        .bind(entity)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("UPDATE connections SET last_sync_at = $2, sync_failures = 0 WHERE id = $1")
                    .bind(&end.connection_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            } else if end.status == "failed" {
                sqlx::query("UPDATE connections SET sync_failures = sync_failures + 1 WHERE id = $1")
                    .bind(&end.connection_id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM sync_seen WHERE run_id = $1").bind(&end.run_id).execute(&mut *tx).await?;
            sqlx::query("UPDATE sync_runs SET status = $2, error = $3, finished_at = $4, deleted = deleted + $5 WHERE id = $1")
                .bind(&end.run_id)
                .bind(&end.status)
                .bind(&end.error)
                .bind(now)
                .bind(swept_total)
                .execute(&mut *tx)
                .await?;
            for e in &end.events {
                insert_event!(&mut *tx, e);
            }
            // The activity entry carries the run's final counts, sweep included.
            let (added, updated, deleted, unchanged, pages): (i64, i64, i64, i64, i64) = sqlx::query_as(
                "SELECT added, updated, deleted, unchanged, pages FROM sync_runs WHERE id = $1",
            )
            .bind(&end.run_id)
            .fetch_one(&mut *tx)
            .await?;
            let details = serde_json::json!({
                "sync_run_id": end.run_id,
                "mode": if end.full { "full" } else { "incremental" },
                "entities": end.entities,
                "added": added, "updated": updated, "deleted": deleted,
                "unchanged": unchanged, "pages": pages,
                "error": end.error,
            });
            insert_activity!(&mut *tx, &crate::ActivityRow {
                id: ids::new_id(ids::IdKind::Activity),
                workspace_id: Some(end.workspace_id.clone()),
                connection_id: Some(end.connection_id.clone()),
                actor: SYNC_ACTOR.into(),
                action: format!("sync.{}", end.status),
                details: details.to_string(),
                created_at: now,
            });
            tx.commit().await?;
            Ok(swept_total)
        })
    }

    pub async fn list_records(&self, q: &RecordQuery) -> Result<Vec<RecordRow>> {
        let (after_ts, after_id) = match &q.after {
            Some((ts, id)) => (Some(*ts), Some(id.clone())),
            None => (None, None),
        };
        Ok(with_reader!(self, pool => sqlx::query_as::<_, RecordRow>(
            "SELECT * FROM records WHERE connection_id = $1 AND entity = $2 \
               AND (CAST($3 AS BIGINT) IS NULL OR updated_at > $3 OR (updated_at = $3 AND id > $4)) \
               AND (CAST($5 AS BIGINT) IS NULL OR updated_at > $5) \
               AND ($6 OR deleted = FALSE) \
             ORDER BY updated_at, id LIMIT $7")
            .bind(&q.connection_id)
            .bind(&q.entity)
            .bind(after_ts)
            .bind(after_id)
            .bind(q.modified_after)
            .bind(q.include_deleted)
            .bind(q.limit)
            .fetch_all(pool)
            .await?))
    }

    /// One stored record, deleted or not.
    pub async fn get_record(
        &self,
        connection_id: &str,
        entity: &str,
        id: &str,
    ) -> Result<Option<RecordRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, RecordRow>(
            "SELECT * FROM records WHERE connection_id = $1 AND entity = $2 AND id = $3")
            .bind(connection_id)
            .bind(entity)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    /// Refreshes PostgreSQL's statistics of the record store after a large load, so page
    /// lookups keep using the primary key instead of scanning a table the planner still thinks
    /// is small. SQLite needs nothing here.
    pub async fn analyze_records(&self) -> Result<()> {
        if let Backend::Postgres(pool) = &self.backend {
            sqlx::query("ANALYZE records").execute(pool).await?;
        }
        Ok(())
    }

    /// Whether a connection holds any record of an entity.
    pub async fn has_records(&self, connection_id: &str, entity: &str) -> Result<bool> {
        let found: Option<i64> = with_pool!(self, pool => sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM records WHERE connection_id = $1 AND entity = $2 LIMIT 1")
            .bind(connection_id)
            .bind(entity)
            .fetch_optional(pool)
            .await?);
        Ok(found.is_some())
    }

    /// (live, deleted) record counts of an entity.
    pub async fn count_records(&self, connection_id: &str, entity: &str) -> Result<(i64, i64)> {
        let rows: Vec<(bool, i64)> = with_reader!(self, pool => sqlx::query_as(
            "SELECT deleted, COUNT(*) FROM records WHERE connection_id = $1 AND entity = $2 GROUP BY deleted")
            .bind(connection_id)
            .bind(entity)
            .fetch_all(pool)
            .await?);
        let get = |d: bool| rows.iter().find(|(x, _)| *x == d).map_or(0, |(_, n)| *n);
        Ok((get(false), get(true)))
    }
}

impl Store {
    /// Inserts records as a plain batch: one statement, no change detection, no cursors. The
    /// sync benchmark's baseline, and a bulk import path.
    pub async fn insert_records_plain(
        &self,
        workspace_id: &str,
        connection_id: &str,
        entity: &str,
        rows: &[PageRecord],
    ) -> Result<()> {
        let c = PageCommit {
            workspace_id: workspace_id.into(),
            connection_id: connection_id.into(),
            entity: entity.into(),
            run_id: String::new(),
            worker: String::new(),
            full: false,
            assume_new: true,
            records: Vec::new(),
            deleted_ids: Vec::new(),
            next_page_cursor: None,
            run_checkpoint: None,
            derived: Vec::new(),
            run_note: None,
        };
        let now = now_ms();
        let rows: Vec<&PageRecord> = rows.iter().collect();
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                lite_upsert!(tx, c, rows, now);
                tx.commit().await?;
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                pg_upsert!(tx, c, rows, now);
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Record rows of a connection written at or after `since` (benchmarks check that an
    /// unchanged resync writes none).
    pub async fn records_written_since(&self, connection_id: &str, since: i64) -> Result<i64> {
        Ok(
            with_reader!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM records WHERE connection_id = $1 AND updated_at >= $2")
            .bind(connection_id)
            .bind(since)
            .fetch_one(pool)
            .await?),
        )
    }
}
