//! Push subscriptions held at providers, one per connection: which are due for renewal, with a
//! lease so one process renews each.

use crate::{with_pool, with_reader, Result, Store};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WatchRow {
    pub connection_id: String,
    /// The connector's JSON state; `None` until first set up.
    pub state: Option<String>,
    pub expires_at: Option<i64>,
    pub renew_at: i64,
    pub attempts: i32,
    pub error: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub updated_at: i64,
}

impl Store {
    /// Asks for a connection's watch to be set up at the next pass; an existing one is kept.
    pub async fn want_watch(&self, connection_id: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO watches (connection_id, renew_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT (connection_id) DO NOTHING")
            .bind(connection_id).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }

    pub async fn get_watch(&self, connection_id: &str) -> Result<Option<WatchRow>> {
        Ok(with_reader!(self, pool => sqlx::query_as::<_, WatchRow>(
            "SELECT * FROM watches WHERE connection_id = $1")
            .bind(connection_id).fetch_optional(pool).await?))
    }

    /// Removes a connection's watch, handing back what stopping it at the provider needs.
    pub async fn take_watch(&self, connection_id: &str) -> Result<Option<WatchRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, WatchRow>(
            "DELETE FROM watches WHERE connection_id = $1 RETURNING *")
            .bind(connection_id).fetch_optional(pool).await?))
    }

    /// Leases up to `limit` watches due at `now` until `lease_until`. The lease test is repeated
    /// outside the subquery so that of two processes racing for a row only one gets it.
    pub async fn claim_due_watches(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<WatchRow>> {
        Ok(with_pool!(self, pool => sqlx::query_as::<_, WatchRow>(
            "UPDATE watches SET lease_expires_at = $2 WHERE connection_id IN (SELECT connection_id FROM watches WHERE renew_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at < $1) ORDER BY renew_at LIMIT $3) AND (lease_expires_at IS NULL OR lease_expires_at < $1) RETURNING *")
            .bind(now).bind(lease_until).bind(limit).fetch_all(pool).await?))
    }

    /// A renewal (or first set-up) that worked: the new state and when to renew next.
    pub async fn watch_renewed(
        &self,
        connection_id: &str,
        state: &str,
        expires_at: i64,
        renew_at: i64,
        now: i64,
    ) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE watches SET state = $2, expires_at = $3, renew_at = $4, attempts = 0, error = NULL, lease_expires_at = NULL, updated_at = $5 WHERE connection_id = $1")
            .bind(connection_id).bind(state).bind(expires_at).bind(renew_at).bind(now)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// A renewal that failed: the reason, and when to try again.
    pub async fn watch_failed(
        &self,
        connection_id: &str,
        error: &str,
        retry_at: i64,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE watches SET attempts = attempts + 1, error = $2, renew_at = $3, lease_expires_at = NULL, updated_at = $4 WHERE connection_id = $1")
            .bind(connection_id).bind(error).bind(retry_at).bind(now)
            .execute(pool).await?.rows_affected());
        Ok(())
    }
}
