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
    /// Opens the subscription's circuit until then.
    pub circuit_open_until: Option<i64>,
}

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
        cursor: &str,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for d in deliveries {
                sqlx::query("INSERT INTO deliveries (id, workspace_id, subscription_id, event_id, connection_id, status, attempts, next_attempt_at, last_status_code, last_latency_ms, last_response, last_error, created_at, updated_at) \
                    VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, NULL, NULL, NULL, NULL, $7, $7) ON CONFLICT (subscription_id, event_id) DO NOTHING")
                    .bind(&d.id).bind(&d.workspace_id).bind(&d.subscription_id).bind(&d.event_id).bind(&d.connection_id).bind(d.next_attempt_at).bind(d.created_at)
                    .execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE subscriptions SET cursor = $2 WHERE id = $1").bind(&sub.id).bind(cursor).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Claims due deliveries, holding them until `hold_until` while they are sent.
    pub async fn claim_deliveries(
        &self,
        now: i64,
        hold_until: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        let lock = match self.backend {
            Backend::Postgres(_) => " FOR UPDATE OF d SKIP LOCKED",
            Backend::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE deliveries SET next_attempt_at = $2, updated_at = $1 WHERE id IN (\
               SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND s.enabled \
                 AND (s.circuit_open_until IS NULL OR s.circuit_open_until <= $1) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.subscription_id = d.subscription_id AND p.status = 'pending' AND p.event_id < d.event_id \
                      AND (p.connection_id = d.connection_id OR (p.connection_id IS NULL AND d.connection_id IS NULL))) \
               ORDER BY d.event_id LIMIT $3{lock}) RETURNING *"
        );
        let mut rows = with_pool!(self, pool => sqlx::query_as::<_, DeliveryRow>(&sql).bind(now).bind(hold_until).bind(limit).fetch_all(pool).await?);
        rows.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        Ok(rows)
    }

    /// Records an attempt and its consequences for the delivery and the subscription's circuit.
    pub async fn record_attempt(&self, d: &DeliveryRow, a: &AttemptRecord, now: i64) -> Result<()> {
        let status = if a.succeeded {
            "succeeded"
        } else if a.dead {
            "dead"
        } else {
            "pending"
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO delivery_attempts (id, delivery_id, attempt, status_code, latency_ms, response, error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(&a.attempt_id).bind(&d.id).bind(d.attempts + 1).bind(a.status_code).bind(a.latency_ms).bind(&a.response).bind(&a.error).bind(now)
                .execute(&mut *tx).await?;
            sqlx::query("UPDATE deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3, last_status_code = $4, last_latency_ms = $5, last_response = $6, last_error = $7, updated_at = $8 WHERE id = $1")
                .bind(&d.id).bind(status).bind(a.retry_at.unwrap_or(now)).bind(a.status_code).bind(a.latency_ms).bind(&a.response).bind(&a.error).bind(now)
                .execute(&mut *tx).await?;
            if a.succeeded {
                sqlx::query("UPDATE subscriptions SET consecutive_failures = 0, circuit_open_until = NULL WHERE id = $1").bind(&d.subscription_id).execute(&mut *tx).await?;
            } else {
                sqlx::query("UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1, circuit_open_until = COALESCE($2, circuit_open_until) WHERE id = $1")
                    .bind(&d.subscription_id).bind(a.circuit_open_until).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
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
