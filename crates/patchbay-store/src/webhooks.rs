//! Inbound webhook events: stored in batches (one statement per batch, so many concurrent
//! deliveries share one commit), claimed by workers with a lease, and kept for replay.

use crate::activity::insert_activity;
use crate::{with_pool, with_reader, Backend, Result, Store, WebhookEventRow};
use std::collections::HashSet;

impl Store {
    /// Inserts events in one statement; returns, for each row, whether it was new (the others
    /// were redeliveries of a (connection, delivery id) already stored).
    pub async fn insert_webhook_events(&self, rows: &[WebhookEventRow]) -> Result<Vec<bool>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // One parameter per column (arrays or one JSON document), not one per value: binding
        // thousands of values per statement costs more than the insert itself (measured: a
        // padded multi-row VALUES insert of bound values ingested 15k/s against 24k/s).
        // No RETURNING: each returned row costs a hand-off in the driver. Redeliveries are
        // rare, so the count usually says every row went in; only when it does not are the
        // new ids looked up, in one row.
        let affected: u64 = match &self.backend {
            Backend::Sqlite(pool) => {
                // Bodies and headers travel as one blob that rows slice by offset; the JSON
                // document carries only short fields, so SQLite never renders or re-parses
                // (nor hex-decodes) the bulk of a row.
                let mut blob =
                    Vec::with_capacity(rows.iter().map(|r| r.body.len() + r.headers.len()).sum());
                let mut doc = Vec::with_capacity(rows.len() * 256);
                doc.push(b'[');
                for (n, r) in rows.iter().enumerate() {
                    if n > 0 {
                        doc.push(b',');
                    }
                    let headers_at = blob.len() + 1;
                    blob.extend_from_slice(r.headers.as_bytes());
                    let body_at = blob.len() + 1;
                    blob.extend_from_slice(&r.body);
                    let row = (
                        &r.id,
                        &r.workspace_id,
                        &r.connection_id,
                        &r.connector,
                        &r.delivery_id,
                        r.received_at,
                        headers_at,
                        r.headers.len(),
                        body_at,
                        r.body.len(),
                    );
                    serde_json::to_writer(&mut doc, &row).expect("writing to memory");
                }
                doc.push(b']');
                let doc = String::from_utf8(doc).expect("serde_json writes UTF-8");
                sqlx::query(
                    "INSERT INTO webhook_events (id, workspace_id, connection_id, connector, delivery_id, headers, body, status, attempts, error, lease_expires_at, received_at, processed_at) \
                     SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, \
                            CAST(substr($2, j.value ->> 6, j.value ->> 7) AS TEXT), \
                            substr($2, j.value ->> 8, j.value ->> 9), \
                            'received', 0, NULL, NULL, j.value ->> 5, NULL \
                     FROM json_each($1) AS j WHERE true ON CONFLICT (connection_id, delivery_id) DO NOTHING",
                )
                .bind(doc)
                .bind(blob)
                .execute(pool)
                .await?
                .rows_affected()
            }
            Backend::Postgres(pool) => {
                let col = |f: &dyn Fn(&WebhookEventRow) -> String| {
                    rows.iter().map(f).collect::<Vec<String>>()
                };
                sqlx::query(
                    "INSERT INTO webhook_events (id, workspace_id, connection_id, connector, delivery_id, headers, body, status, attempts, error, lease_expires_at, received_at, processed_at) \
                     SELECT u.id, u.ws, u.conn, u.connector, u.delivery, u.headers, u.body, 'received', 0, NULL, NULL, u.received_at, NULL \
                     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bigint[]) AS u(id, ws, conn, connector, delivery, headers, body, received_at) \
                     ON CONFLICT (connection_id, delivery_id) DO NOTHING",
                )
                .bind(col(&|r| r.id.clone()))
                .bind(col(&|r| r.workspace_id.clone()))
                .bind(col(&|r| r.connection_id.clone()))
                .bind(col(&|r| r.connector.clone()))
                .bind(col(&|r| r.delivery_id.clone()))
                .bind(col(&|r| r.headers.clone()))
                .bind(rows.iter().map(|r| r.body.clone()).collect::<Vec<Vec<u8>>>())
                .bind(rows.iter().map(|r| r.received_at).collect::<Vec<i64>>())
                .execute(pool)
                .await?
                .rows_affected()
            }
        };
        if affected == rows.len() as u64 {
            return Ok(vec![true; rows.len()]);
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        // Fresh ids: those present now are exactly the ones this statement inserted.
        let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        let present: Option<String> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar(
                "SELECT json_group_array(id) FROM webhook_events WHERE id IN (SELECT value FROM json_each($1))",
            )
            .bind(list)
            .fetch_one(pool)
            .await?,
            Backend::Postgres(pool) => sqlx::query_scalar(
                "SELECT COALESCE(json_agg(id), '[]')::text FROM webhook_events WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))",
            )
            .bind(list)
            .fetch_one(pool)
            .await?,
        };
        let present: HashSet<String> = present
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        Ok(rows.iter().map(|r| present.contains(&r.id)).collect())
    }

    /// The stored event a redelivery matches.
    pub async fn find_webhook_event(
        &self,
        connection_id: &str,
        delivery_id: &str,
    ) -> Result<Option<WebhookEventRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, WebhookEventRow>("SELECT * FROM webhook_events WHERE connection_id = $1 AND delivery_id = $2")
            .bind(connection_id)
            .bind(delivery_id)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Claims up to `limit` events to process (new ones, or ones whose processor died).
    pub async fn claim_webhook_events(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<WebhookEventRow>> {
        let lock = match self.backend {
            Backend::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE webhook_events SET status = 'processing', lease_expires_at = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM webhook_events WHERE status = 'received' OR (status = 'processing' AND lease_expires_at < $1) ORDER BY received_at, id LIMIT $3{lock}) RETURNING *"
        );
        let mut rows = with_pool!(self, pool => sqlx::query_as::<_, WebhookEventRow>(&sql)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        rows.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(rows)
    }

    /// Lets a claimed event be claimed again from `at` (a retry after a transient failure).
    pub async fn defer_webhook_event(&self, id: &str, at: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE webhook_events SET lease_expires_at = $2 WHERE id = $1 AND status = 'processing'")
            .bind(id).bind(at).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Records how processing ended, with an activity entry (`callback.received` or
    /// `callback.failed`) in the same transaction.
    pub async fn finish_webhook_event(
        &self,
        event: &WebhookEventRow,
        status: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let action = if status == "processed" {
            "callback.received"
        } else {
            "callback.failed"
        };
        let details = serde_json::json!({
            "webhook_event_id": event.id,
            "delivery_id": event.delivery_id,
            "connector": event.connector,
            "status": status,
            "attempts": event.attempts,
            "error": error,
        });
        let activity = crate::ActivityRow {
            id: patchbay_core::ids::new_id(patchbay_core::ids::IdKind::Activity),
            workspace_id: Some(event.workspace_id.clone()),
            connection_id: Some(event.connection_id.clone()),
            actor: format!("provider:{}", event.connector),
            action: action.into(),
            details: details.to_string(),
            created_at: now,
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE webhook_events SET status = $2, error = $3, processed_at = $4, lease_expires_at = NULL WHERE id = $1")
                .bind(&event.id)
                .bind(status)
                .bind(error)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            insert_activity!(&mut *tx, &activity);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Events of a connection, newest first; `before` is the cursor.
    pub async fn list_webhook_events(
        &self,
        connection_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WebhookEventRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, WebhookEventRow>(
            "SELECT * FROM webhook_events WHERE connection_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id < $2) ORDER BY id DESC LIMIT $3")
            .bind(connection_id)
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?),
        )
    }

    pub async fn get_webhook_event(&self, id: &str) -> Result<Option<WebhookEventRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, WebhookEventRow>("SELECT * FROM webhook_events WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Queues a stored event for processing again.
    pub async fn replay_webhook_event(&self, id: &str) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE webhook_events SET status = 'received', error = NULL, processed_at = NULL, lease_expires_at = NULL WHERE id = $1 AND status <> 'processing'")
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }
}
