//! Channel bindings and message routing: bindings and a workspace's default target, the
//! sequence number of each scope key, collect windows with their pending messages, and the
//! `message.routed` events they turn into. Routing and flushing are one transaction each, so a
//! message is numbered, held or emitted exactly once, crash or not.

use crate::activity::insert_event;
use crate::{with_pool, with_reader, EventRow, Result, Store, StoreError};
use patchbay_core::ids;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BindingRow {
    pub id: String,
    pub workspace_id: String,
    pub scope_key: String,
    pub channel_type: String,
    pub channel_id: Option<String>,
    pub thread: Option<String>,
    pub connection_id: Option<String>,
    pub target: String,
    pub queue_mode: String,
    pub collect_debounce_ms: i64,
    pub collect_max_wait_ms: i64,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RoutingDefaultRow {
    pub workspace_id: String,
    pub target: String,
    pub queue_mode: String,
    pub collect_debounce_ms: i64,
    pub collect_max_wait_ms: i64,
    pub updated_at: i64,
}

/// One message to route, with the decision already taken.
#[derive(Debug, Clone)]
pub struct RouteWrite {
    pub workspace_id: String,
    pub scope_key: String,
    /// The id the channel gave the message; a second message with it is a duplicate.
    pub message_key: Option<String>,
    pub target: String,
    pub binding_id: Option<String>,
    pub connection_id: Option<String>,
    /// `followup`, `collect` or `steer`.
    pub queue_mode: String,
    pub debounce_ms: i64,
    pub max_wait_ms: i64,
    pub message: Value,
    pub now: i64,
}

/// What routing one message did.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The message's number within its scope key (the earlier number for a duplicate).
    pub sequence: i64,
    pub duplicate: bool,
    /// The event emitted now (followup and steer).
    pub event_id: Option<String>,
    /// When the open collect window closes (collect).
    pub window_due_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PendingRow {
    seq: i64,
    target: String,
    binding_id: Option<String>,
    connection_id: Option<String>,
    message: String,
}

/// The payload of a `message.routed` event.
fn routed_payload(
    target: &str,
    scope_key: &str,
    binding_id: Option<&str>,
    queue_mode: &str,
    sequence: i64,
    messages: Vec<Value>,
) -> Value {
    json!({
        "target": target, "scope_key": scope_key, "binding_id": binding_id,
        "queue_mode": queue_mode, "interrupt": queue_mode == "steer",
        "sequence": sequence, "messages": messages,
    })
}

fn routed_event(workspace_id: &str, connection_id: Option<String>, payload: Value) -> EventRow {
    EventRow {
        id: ids::new_id(ids::IdKind::Event),
        workspace_id: workspace_id.to_string(),
        event_type: "message.routed".into(),
        connection_id,
        payload: payload.to_string(),
        created_at: patchbay_core::now_ms(),
    }
}

/// Closes the scope's collect window inside `$tx` when it is open (and due by `$due_by`, if
/// given): its pending messages become one event. Evaluates to whether it emitted.
macro_rules! flush_window {
    ($tx:expr, $ws:expr, $key:expr, $due_by:expr) => {{
        let due_by: Option<i64> = $due_by;
        let closed = sqlx::query(
            "UPDATE routing_scopes SET window_first_at = NULL, window_due_at = NULL \
             WHERE workspace_id = $1 AND scope_key = $2 AND window_due_at IS NOT NULL \
             AND (CAST($3 AS BIGINT) IS NULL OR window_due_at <= $3)",
        )
        .bind($ws)
        .bind($key)
        .bind(due_by)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if closed == 1 {
            let rows = sqlx::query_as::<_, PendingRow>(
                "SELECT seq, target, binding_id, connection_id, message FROM routing_pending \
                 WHERE workspace_id = $1 AND scope_key = $2 ORDER BY seq",
            )
            .bind($ws)
            .bind($key)
            .fetch_all(&mut *$tx)
            .await?;
            sqlx::query("DELETE FROM routing_pending WHERE workspace_id = $1 AND scope_key = $2")
                .bind($ws)
                .bind($key)
                .execute(&mut *$tx)
                .await?;
            if let Some(first) = rows.first().cloned() {
                let last = rows.last().map_or(first.seq, |r| r.seq);
                let mut messages = Vec::with_capacity(rows.len());
                for r in &rows {
                    messages.push(
                        serde_json::from_str::<Value>(&r.message)
                            .map_err(|e| StoreError::Corrupt(format!("pending message: {e}")))?,
                    );
                }
                let payload = routed_payload(
                    &first.target,
                    $key,
                    first.binding_id.as_deref(),
                    "collect",
                    last,
                    messages,
                );
                let event = routed_event($ws, first.connection_id.clone(), payload);
                insert_event!(&mut *$tx, &event);
            }
        }
        closed == 1
    }};
}

impl Store {
    pub async fn insert_binding(&self, b: &BindingRow) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO bindings (id, workspace_id, scope_key, channel_type, channel_id, thread, connection_id, target, queue_mode, collect_debounce_ms, collect_max_wait_ms, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
            .bind(&b.id).bind(&b.workspace_id).bind(&b.scope_key).bind(&b.channel_type)
            .bind(&b.channel_id).bind(&b.thread).bind(&b.connection_id).bind(&b.target)
            .bind(&b.queue_mode).bind(b.collect_debounce_ms).bind(b.collect_max_wait_ms)
            .bind(b.enabled).bind(b.created_at).bind(b.updated_at)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Writes the binding's target, mode, timings and enabled flag.
    pub async fn update_binding(&self, b: &BindingRow) -> Result<()> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE bindings SET target = $3, queue_mode = $4, collect_debounce_ms = $5, collect_max_wait_ms = $6, enabled = $7, connection_id = $8, updated_at = $9 WHERE workspace_id = $1 AND id = $2")
            .bind(&b.workspace_id).bind(&b.id).bind(&b.target).bind(&b.queue_mode)
            .bind(b.collect_debounce_ms).bind(b.collect_max_wait_ms).bind(b.enabled)
            .bind(&b.connection_id).bind(b.updated_at)
            .execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound("binding"));
        }
        Ok(())
    }

    pub async fn get_binding(&self, workspace_id: &str, id: &str) -> Result<Option<BindingRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, BindingRow>(
            "SELECT * FROM bindings WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id).bind(id).fetch_optional(pool).await?))
    }

    /// The binding of a scope key (from the readers, which see every committed binding).
    pub async fn find_binding(
        &self,
        workspace_id: &str,
        scope_key: &str,
    ) -> Result<Option<BindingRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, BindingRow>(
            "SELECT * FROM bindings WHERE workspace_id = $1 AND scope_key = $2")
            .bind(workspace_id).bind(scope_key).fetch_optional(pool).await?))
    }

    /// A workspace's bindings by id after `cursor`, optionally only one target's.
    pub async fn list_bindings(
        &self,
        workspace_id: &str,
        target: Option<&str>,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BindingRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, BindingRow>(
            "SELECT * FROM bindings WHERE workspace_id = $1 AND (CAST($2 AS TEXT) IS NULL OR target = $2) AND (CAST($3 AS TEXT) IS NULL OR id > $3) ORDER BY id LIMIT $4")
            .bind(workspace_id).bind(target).bind(cursor).bind(limit)
            .fetch_all(pool).await?))
    }

    pub async fn delete_binding(&self, workspace_id: &str, id: &str) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "DELETE FROM bindings WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id).bind(id).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Removes every binding of a target; answers how many there were.
    pub async fn delete_bindings_of_target(&self, workspace_id: &str, target: &str) -> Result<u64> {
        Ok(with_pool!(self, pool => sqlx::query(
            "DELETE FROM bindings WHERE workspace_id = $1 AND target = $2")
            .bind(workspace_id).bind(target).execute(pool).await?.rows_affected()))
    }

    pub async fn get_routing_default(
        &self,
        workspace_id: &str,
    ) -> Result<Option<RoutingDefaultRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, RoutingDefaultRow>(
            "SELECT * FROM routing_defaults WHERE workspace_id = $1")
            .bind(workspace_id).fetch_optional(pool).await?),
        )
    }

    pub async fn put_routing_default(&self, d: &RoutingDefaultRow) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO routing_defaults (workspace_id, target, queue_mode, collect_debounce_ms, collect_max_wait_ms, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (workspace_id) DO UPDATE SET target = excluded.target, queue_mode = excluded.queue_mode, collect_debounce_ms = excluded.collect_debounce_ms, collect_max_wait_ms = excluded.collect_max_wait_ms, updated_at = excluded.updated_at")
            .bind(&d.workspace_id).bind(&d.target).bind(&d.queue_mode)
            .bind(d.collect_debounce_ms).bind(d.collect_max_wait_ms).bind(d.updated_at)
            .execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn delete_routing_default(&self, workspace_id: &str) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "DELETE FROM routing_defaults WHERE workspace_id = $1")
            .bind(workspace_id).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Numbers the message within its scope key and emits it (followup, steer) or holds it in
    /// the scope's collect window (collect), in one transaction. A message arriving while a
    /// window it does not join is open first closes that window, so order holds.
    pub async fn route_message(&self, w: &RouteWrite) -> Result<Routed> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // The scope row is the lock that orders messages of one scope key.
            let (seq, mut first_at, due_at): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
                "INSERT INTO routing_scopes (workspace_id, scope_key, last_seq) VALUES ($1, $2, 1) \
                 ON CONFLICT (workspace_id, scope_key) DO UPDATE SET last_seq = routing_scopes.last_seq + 1 \
                 RETURNING last_seq, window_first_at, window_due_at")
                .bind(&w.workspace_id).bind(&w.scope_key)
                .fetch_one(&mut *tx).await?;
            if let Some(key) = &w.message_key {
                let fresh = sqlx::query(
                    "INSERT INTO routing_seen (workspace_id, message_key, scope_key, seq, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                    .bind(&w.workspace_id).bind(key).bind(&w.scope_key).bind(seq).bind(w.now)
                    .execute(&mut *tx).await?.rows_affected();
                if fresh == 0 {
                    tx.rollback().await?;
                    let earlier: i64 = sqlx::query_scalar(
                        "SELECT seq FROM routing_seen WHERE workspace_id = $1 AND message_key = $2")
                        .bind(&w.workspace_id).bind(key).fetch_one(pool).await?;
                    return Ok(Routed { sequence: earlier, duplicate: true, event_id: None, window_due_at: None });
                }
            }
            // A window past its time is closed before this message, however late the flusher is.
            if due_at.is_some_and(|due| due <= w.now) {
                let _ = flush_window!(tx, &w.workspace_id, &w.scope_key, None);
                first_at = None;
            }
            let mut message = w.message.clone();
            message["sequence"] = seq.into();
            if w.queue_mode == "collect" {
                let first = first_at.unwrap_or(w.now);
                let due = (w.now + w.debounce_ms).min(first + w.max_wait_ms).max(w.now);
                sqlx::query("INSERT INTO routing_pending (workspace_id, scope_key, seq, target, binding_id, connection_id, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(&w.workspace_id).bind(&w.scope_key).bind(seq).bind(&w.target)
                    .bind(&w.binding_id).bind(&w.connection_id).bind(message.to_string()).bind(w.now)
                    .execute(&mut *tx).await?;
                sqlx::query("UPDATE routing_scopes SET window_first_at = $3, window_due_at = $4 WHERE workspace_id = $1 AND scope_key = $2")
                    .bind(&w.workspace_id).bind(&w.scope_key).bind(first).bind(due)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                return Ok(Routed { sequence: seq, duplicate: false, event_id: None, window_due_at: Some(due) });
            }
            if first_at.is_some() {
                let _ = flush_window!(tx, &w.workspace_id, &w.scope_key, None);
            }
            let payload = routed_payload(&w.target, &w.scope_key, w.binding_id.as_deref(), &w.queue_mode, seq, vec![message]);
            // The id is made under the scope lock, so events of one scope key sort in order.
            let event = routed_event(&w.workspace_id, w.connection_id.clone(), payload);
            insert_event!(&mut *tx, &event);
            tx.commit().await?;
            Ok(Routed { sequence: seq, duplicate: false, event_id: Some(event.id), window_due_at: None })
        })
    }

    /// Closes collect windows due by `now`, each batch one event; answers how many closed.
    pub async fn flush_routing_windows(&self, now: i64, limit: i64) -> Result<usize> {
        let due: Vec<(String, String)> = with_reader!(self, pool => sqlx::query_as(
            "SELECT workspace_id, scope_key FROM routing_scopes WHERE window_due_at IS NOT NULL AND window_due_at <= $1 ORDER BY window_due_at LIMIT $2")
            .bind(now).bind(limit).fetch_all(pool).await?);
        let mut closed = 0;
        for (ws, key) in due {
            let done = with_pool!(self, pool => {
                let mut tx = pool.begin().await?;
                let done = flush_window!(tx, &ws, &key, Some(now));
                tx.commit().await?;
                done
            });
            closed += usize::from(done);
        }
        Ok(closed)
    }

    /// When the next collect window closes, if any is open.
    pub async fn next_routing_due(&self) -> Result<Option<i64>> {
        Ok(
            with_reader!(self, pool => sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(window_due_at) FROM routing_scopes")
            .fetch_one(pool).await?),
        )
    }

    /// Forgets routed message ids older than `before`: redeliveries come within minutes.
    pub async fn prune_routing_seen(&self, before: i64) -> Result<u64> {
        Ok(with_pool!(self, pool => sqlx::query(
            "DELETE FROM routing_seen WHERE created_at < $1")
            .bind(before).execute(pool).await?.rows_affected()))
    }
}
