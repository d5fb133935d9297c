//! Subscriptions and their deliveries. Fan-out inserts one delivery per matching event
//! (idempotently); senders claim due deliveries, oldest first and never ahead of an earlier
//! pending delivery of the same connection, so each subscriber sees a connection's events in
//! order.

use crate::{
    with_pool, with_reader, Backend, CredentialRow, DeliveryRow, EventRow, Result, Store,
    StoreError, SubscriptionRow,
};

use crate::connections::upsert_credential;

/// What one delivery attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt_id: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response: Option<String>,
    pub error: Option<String>,
    /// `None` when delivered; otherwise when to try again, or `Some(None)`… see `dead`.
    pub retry_at: Option<i64>,
    pub succeeded: bool,
    /// No attempts left: the delivery is dead.
    pub dead: bool,
}

/// What fan-out needs of an event.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EventHead {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub connection_id: Option<String>,
}

/// Where a subscription's failure count and circuit stand after a round of attempts.
#[derive(Debug, Clone)]
pub struct CircuitUpdate {
    pub subscription_id: String,
    /// A delivery succeeded: the count starts again from `failures`, and the circuit closes
    /// unless they reach `open_after`.
    pub succeeded: bool,
    /// Failures since the last success (or all of them, without one).
    pub failures: i64,
    /// Consecutive failures that open the circuit: for 30 s per failure, at most an hour.
    pub open_after: i64,
}

/// Applied as a change to the stored count, not a new value, so senders finishing at
/// different times for the same subscription all count.
const CIRCUIT_SQL: &str = "UPDATE subscriptions SET \
     consecutive_failures = CASE WHEN $2 THEN $3 ELSE consecutive_failures + $3 END, \
     circuit_open_until = CASE \
       WHEN (CASE WHEN $2 THEN $3 ELSE consecutive_failures + $3 END) >= $4 \
         THEN $5 + CASE WHEN (CASE WHEN $2 THEN $3 ELSE consecutive_failures + $3 END) >= 120 THEN 3600000 \
                        ELSE 30000 * (CASE WHEN $2 THEN $3 ELSE consecutive_failures + $3 END) END \
       WHEN $2 THEN NULL \
       ELSE circuit_open_until END \
     WHERE id = $1";

impl Store {
    pub async fn insert_subscription(
        &self,
        s: &SubscriptionRow,
        secret: &CredentialRow,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO subscriptions (id, workspace_id, url, event_types, description, enabled, cursor, consecutive_failures, circuit_open_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, $8, $9)")
                .bind(&s.id).bind(&s.workspace_id).bind(&s.url).bind(&s.event_types).bind(&s.description).bind(s.enabled).bind(&s.cursor).bind(s.created_at).bind(s.updated_at)
                .execute(&mut *tx).await?;
            upsert_credential!(&mut *tx, secret);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn update_subscription(
        &self,
        s: &SubscriptionRow,
        secret: Option<&CredentialRow>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE subscriptions SET url = $2, event_types = $3, description = $4, enabled = $5, updated_at = $6, consecutive_failures = $7, circuit_open_until = $8 WHERE id = $1")
                .bind(&s.id).bind(&s.url).bind(&s.event_types).bind(&s.description).bind(s.enabled).bind(s.updated_at).bind(s.consecutive_failures).bind(s.circuit_open_until)
                .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound("subscription"));
            }
            if let Some(secret) = secret {
                upsert_credential!(&mut *tx, secret);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn delete_subscription(&self, id: &str) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM credentials WHERE owner_type = 'subscription' AND owner_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = $1)").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM deliveries WHERE subscription_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM subscriptions WHERE id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn get_subscription(
        &self,
        workspace_id: Option<&str>,
        id: &str,
    ) -> Result<Option<SubscriptionRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>("SELECT * FROM subscriptions WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR workspace_id = $2)")
            .bind(id).bind(workspace_id).fetch_optional(pool).await?),
        )
    }

    pub async fn list_subscriptions(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<SubscriptionRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, SubscriptionRow>("SELECT * FROM subscriptions WHERE (CAST($1 AS TEXT) IS NULL OR workspace_id = $1) ORDER BY id")
            .bind(workspace_id).fetch_all(pool).await?),
        )
    }

    pub async fn latest_event_id(&self, workspace_id: &str) -> Result<Option<String>> {
        Ok(
            with_pool!(self, pool => sqlx::query_scalar::<_, String>("SELECT id FROM events WHERE workspace_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(workspace_id).fetch_optional(pool).await?),
        )
    }

    pub async fn get_event(&self, id: &str) -> Result<Option<EventRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, EventRow>("SELECT * FROM events WHERE id = $1").bind(id).fetch_optional(pool).await?),
        )
    }

    /// Adds deliveries of `events` for a subscription and moves its cursor past them.
    pub async fn fan_out(
        &self,
        sub: &SubscriptionRow,
        deliveries: &[DeliveryRow],
        cursor: Option<&str>,
    ) -> Result<()> {
        let rows: Vec<serde_json::Value> = deliveries
            .iter()
            .map(|d| serde_json::json!({"i": d.id, "e": d.event_id, "c": d.connection_id, "t": d.next_attempt_at, "a": d.created_at}))
            .collect();
        let batch = serde_json::Value::Array(rows).to_string();
        // One statement for the whole batch; a redone fan-out adds nothing twice.
        let insert = match self.backend {
            Backend::Postgres(_) => "INSERT INTO deliveries (id, workspace_id, subscription_id, event_id, connection_id, status, attempts, next_attempt_at, created_at, updated_at) \
                SELECT v.i, $2, $3, v.e, v.c, 'pending', 0, v.t, v.a, v.a FROM jsonb_to_recordset($1::jsonb) AS v(i text, e text, c text, t bigint, a bigint) \
                ON CONFLICT (subscription_id, event_id) DO NOTHING",
            Backend::Sqlite(_) => "INSERT INTO deliveries (id, workspace_id, subscription_id, event_id, connection_id, status, attempts, next_attempt_at, created_at, updated_at) \
                SELECT j.value ->> '$.i', $2, $3, j.value ->> '$.e', j.value ->> '$.c', 'pending', 0, j.value ->> '$.t', j.value ->> '$.a', j.value ->> '$.a' \
                FROM json_each($1) AS j WHERE true ON CONFLICT (subscription_id, event_id) DO NOTHING",
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(insert).bind(&batch).bind(&sub.workspace_id).bind(&sub.id).execute(&mut *tx).await?;
            if let Some(cursor) = cursor {
                sqlx::query("UPDATE subscriptions SET cursor = $2 WHERE id = $1").bind(&sub.id).bind(cursor).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Claims due deliveries, holding them until `hold_until` while they are sent, oldest
    /// event first. A (subscription, connection) group is claimed from its head: the oldest
    /// pending delivery, which must be due; the group's later due deliveries come with it, so
    /// the sender can deliver them in order. A group whose head waits for a retry, or is held
    /// by another sender, is skipped whole.
    pub async fn claim_deliveries(
        &self,
        now: i64,
        hold_until: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        // SQLite without statistics would rather sort every pending delivery than walk them in
        // event order and stop at the batch size.
        let (index, lock) = match self.backend {
            Backend::Postgres(_) => ("", " FOR UPDATE OF d SKIP LOCKED"),
            Backend::Sqlite(_) => (" INDEXED BY deliveries_pending_events", ""),
        };
        // COALESCE makes events without a connection one group, and matches the index.
        let heads = format!(
            "heads AS MATERIALIZED (\
               SELECT d.subscription_id, COALESCE(d.connection_id, '') AS grp FROM deliveries d{index} JOIN subscriptions s ON s.id = d.subscription_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND s.enabled \
                 AND (s.circuit_open_until IS NULL OR s.circuit_open_until <= $1) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.subscription_id = d.subscription_id AND p.status = 'pending' \
                      AND COALESCE(p.connection_id, '') = COALESCE(d.connection_id, '') AND p.event_id < d.event_id) \
               ORDER BY d.event_id LIMIT $3{lock})"
        );
        let members = "SELECT x.id FROM deliveries x JOIN heads h ON h.subscription_id = x.subscription_id AND COALESCE(x.connection_id, '') = h.grp \
               WHERE x.status = 'pending' AND x.next_attempt_at <= $1 ORDER BY x.event_id LIMIT $3";
        // The claimed rows come back as one JSON document: with sqlx every returned row is a
        // hand-off between threads, which costs more than the claim itself.
        let doc: Option<String> = match &self.backend {
            Backend::Postgres(pool) => {
                let sql = format!(
                    "WITH {heads}, claimed AS (UPDATE deliveries SET next_attempt_at = $2, updated_at = $1 WHERE id IN ({members}) RETURNING *) \
                     SELECT COALESCE(json_agg(claimed), '[]')::text FROM claimed"
                );
                sqlx::query_scalar(&sql)
                    .bind(now)
                    .bind(hold_until)
                    .bind(limit)
                    .fetch_one(pool)
                    .await?
            }
            Backend::Sqlite(pool) => {
                // One writer: the read and the update below are one atomic step.
                let mut tx = pool.begin().await?;
                let sql = format!(
                    "WITH {heads} SELECT json_group_array(json_object('id', d.id, 'workspace_id', d.workspace_id, 'subscription_id', d.subscription_id, \
                       'event_id', d.event_id, 'connection_id', d.connection_id, 'status', d.status, 'attempts', d.attempts, 'next_attempt_at', $2, \
                       'last_status_code', d.last_status_code, 'last_latency_ms', d.last_latency_ms, 'last_response', d.last_response, \
                       'last_error', d.last_error, 'created_at', d.created_at, 'updated_at', $1)) \
                     FROM deliveries d WHERE d.id IN ({members})"
                );
                let doc: Option<String> = sqlx::query_scalar(&sql)
                    .bind(now)
                    .bind(hold_until)
                    .bind(limit)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query("UPDATE deliveries SET next_attempt_at = $2, updated_at = $1 WHERE id IN (SELECT j.value ->> '$.id' FROM json_each($3) AS j)")
                    .bind(now).bind(hold_until).bind(doc.as_deref().unwrap_or("[]"))
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                doc
            }
        };
        let mut rows: Vec<DeliveryRow> = match doc {
            Some(d) => serde_json::from_str(&d)
                .map_err(|e| StoreError::Corrupt(format!("claimed deliveries: {e}")))?,
            None => Vec::new(),
        };
        rows.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        Ok(rows)
    }

    /// The next events of a workspace after `after`, oldest first, without their payloads
    /// (fan-out needs id, type and connection only), returned as one row.
    pub async fn events_after(
        &self,
        workspace_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventHead>> {
        self.event_heads(workspace_id, after, None, limit).await
    }

    /// Events in (`after`, `upto`] that have no delivery for `subscription_id`, oldest first:
    /// the ones that became visible after fan-out had read past them (an id is made before its
    /// transaction commits, so commits can land out of id order), along with any the
    /// subscription's filter left out.
    pub async fn events_without_delivery(
        &self,
        workspace_id: &str,
        subscription_id: &str,
        after: &str,
        upto: &str,
        limit: i64,
    ) -> Result<Vec<EventHead>> {
        self.event_heads(
            workspace_id,
            Some(after),
            Some((subscription_id, upto)),
            limit,
        )
        .await
    }

    async fn event_heads(
        &self,
        workspace_id: &str,
        after: Option<&str>,
        missing: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<EventHead>> {
        let (sub, upto) = missing.unzip();
        let filter = if missing.is_some() {
            " AND id <= $4 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = $5 AND d.event_id = events.id)"
        } else {
            ""
        };
        let sql = match &self.backend {
            Backend::Postgres(_) => format!(
                "SELECT COALESCE(json_agg(json_build_object('id', id, 'type', type, 'connection_id', connection_id) ORDER BY id), '[]')::text \
                 FROM (SELECT id, type, connection_id FROM events WHERE workspace_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id > $2){filter} ORDER BY id LIMIT $3) e"),
            Backend::Sqlite(_) => format!(
                "SELECT json_group_array(json_object('id', id, 'type', type, 'connection_id', connection_id)) \
                 FROM (SELECT id, type, connection_id FROM events WHERE workspace_id = $1 AND ($2 IS NULL OR id > $2){filter} ORDER BY id LIMIT $3)"),
        };
        let doc: Option<String> = with_pool!(self, pool => {
            let mut q = sqlx::query_scalar(&sql).bind(workspace_id).bind(after).bind(limit);
            if let (Some(upto), Some(sub)) = (upto, sub) {
                q = q.bind(upto).bind(sub);
            }
            q.fetch_one(pool).await?
        });
        match doc {
            Some(d) => {
                serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(format!("events: {e}")))
            }
            None => Ok(Vec::new()),
        }
    }

    /// Events by id, in one statement.
    pub async fn get_events(&self, ids: &[String]) -> Result<Vec<EventRow>> {
        let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        Ok(match &self.backend {
            Backend::Postgres(pool) => sqlx::query_as::<_, EventRow>(
                "SELECT * FROM events WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))",
            )
            .bind(list)
            .fetch_all(pool)
            .await?,
            Backend::Sqlite(pool) => {
                sqlx::query_as::<_, EventRow>(
                    "SELECT * FROM events WHERE id IN (SELECT value FROM json_each($1))",
                )
                .bind(list)
                .fetch_all(pool)
                .await?
            }
        })
    }

    /// Records a round of attempts in one transaction: the attempts, the deliveries' new
    /// states, deliveries handed back unsent (`released`: they wait behind a failed earlier
    /// delivery of their connection) and each subscription's circuit.
    pub async fn record_attempts(
        &self,
        attempts: &[(DeliveryRow, AttemptRecord)],
        released: &[String],
        circuits: &[CircuitUpdate],
        now: i64,
    ) -> Result<()> {
        let rows: Vec<serde_json::Value> = attempts
            .iter()
            .map(|(d, a)| {
                let status = if a.succeeded {
                    "succeeded"
                } else if a.dead {
                    "dead"
                } else {
                    "pending"
                };
                serde_json::json!({
                    "i": a.attempt_id, "d": d.id, "n": d.attempts + 1, "c": a.status_code,
                    "l": a.latency_ms, "r": a.response, "e": a.error, "s": status,
                    "t": a.retry_at.unwrap_or(now),
                })
            })
            .collect();
        let batch = serde_json::Value::Array(rows).to_string();
        let released = serde_json::to_string(released).unwrap_or_else(|_| "[]".into());
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO delivery_attempts (id, delivery_id, attempt, status_code, latency_ms, response, error, created_at) \
                    SELECT v.i, v.d, v.n, v.c, v.l, v.r, v.e, $2 FROM jsonb_to_recordset($1::jsonb) AS v(i text, d text, n bigint, c bigint, l bigint, r text, e text)")
                    .bind(&batch).bind(now).execute(&mut *tx).await?;
                sqlx::query("UPDATE deliveries SET status = v.s, attempts = attempts + 1, next_attempt_at = v.t, last_status_code = v.c, last_latency_ms = v.l, \
                    last_response = v.r, last_error = v.e, updated_at = $2 \
                    FROM jsonb_to_recordset($1::jsonb) AS v(d text, s text, t bigint, c bigint, l bigint, r text, e text) WHERE deliveries.id = v.d")
                    .bind(&batch).bind(now).execute(&mut *tx).await?;
                sqlx::query("UPDATE deliveries SET next_attempt_at = $2, updated_at = $2 WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))")
                    .bind(&released).bind(now).execute(&mut *tx).await?;
                for c in circuits {
                    sqlx::query(CIRCUIT_SQL)
                        .bind(&c.subscription_id)
                        .bind(c.succeeded)
                        .bind(c.failures)
                        .bind(c.open_after)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("INSERT INTO delivery_attempts (id, delivery_id, attempt, status_code, latency_ms, response, error, created_at) \
                    SELECT j.value ->> '$.i', j.value ->> '$.d', j.value ->> '$.n', j.value ->> '$.c', j.value ->> '$.l', j.value ->> '$.r', j.value ->> '$.e', $2 \
                    FROM json_each($1) AS j")
                    .bind(&batch).bind(now).execute(&mut *tx).await?;
                sqlx::query("UPDATE deliveries SET status = v.s, attempts = attempts + 1, next_attempt_at = v.t, last_status_code = v.c, last_latency_ms = v.l, \
                    last_response = v.r, last_error = v.e, updated_at = $2 \
                    FROM (SELECT j.value ->> '$.d' AS d, j.value ->> '$.s' AS s, j.value ->> '$.t' AS t, j.value ->> '$.c' AS c, j.value ->> '$.l' AS l, \
                          j.value ->> '$.r' AS r, j.value ->> '$.e' AS e FROM json_each($1) AS j) AS v WHERE deliveries.id = v.d")
                    .bind(&batch).bind(now).execute(&mut *tx).await?;
                sqlx::query("UPDATE deliveries SET next_attempt_at = $2, updated_at = $2 WHERE id IN (SELECT value FROM json_each($1))")
                    .bind(&released).bind(now).execute(&mut *tx).await?;
                for c in circuits {
                    sqlx::query(CIRCUIT_SQL)
                        .bind(&c.subscription_id)
                        .bind(c.succeeded)
                        .bind(c.failures)
                        .bind(c.open_after)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    pub async fn list_deliveries(
        &self,
        subscription_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, DeliveryRow>(
            "SELECT * FROM deliveries WHERE subscription_id = $1 AND (CAST($2 AS TEXT) IS NULL OR id < $2) ORDER BY id DESC LIMIT $3")
            .bind(subscription_id).bind(before).bind(limit).fetch_all(pool).await?))
    }

    pub async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRow>> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, DeliveryRow>("SELECT * FROM deliveries WHERE id = $1").bind(id).fetch_optional(pool).await?),
        )
    }

    /// Sends a delivery again now, whatever became of it.
    pub async fn retry_delivery(&self, id: &str, now: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE deliveries SET status = 'pending', next_attempt_at = $2, updated_at = $2 WHERE id = $1")
            .bind(id).bind(now).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Closes a subscription's circuit (manual retry, re-enabling).
    pub async fn reset_circuit(&self, subscription_id: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE subscriptions SET consecutive_failures = 0, circuit_open_until = NULL WHERE id = $1")
            .bind(subscription_id).execute(pool).await?.rows_affected());
        Ok(())
    }
}
