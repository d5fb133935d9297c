//! Connections with their credentials, principal and grants. Every write goes through one
//! transaction that also records its activity and outbox events.

use crate::activity::{insert_activity, insert_event};
use crate::{
    with_pool, with_reader, ActivityRow, Backend, ConnectionRow, CredentialRow, EventRow, GrantRow,
    PrincipalRow, Result, Store, StoreError,
};

/// Everything one connection write changes, committed together.
#[derive(Debug, Clone, Default)]
pub struct ConnectionWrite {
    pub connection: Option<ConnectionRow>,
    /// Upserted by (owner, field); ids must match existing rows (the AAD binds them).
    pub credentials: Vec<CredentialRow>,
    /// Credential fields of this connection to delete.
    pub remove_credentials: Vec<String>,
    pub principal: Option<PrincipalRow>,
    /// Makes the connection's principal key unusable (revocation).
    pub revoke_principal: bool,
    pub grants: Vec<GrantRow>,
    pub activity: Vec<ActivityRow>,
    pub events: Vec<EventRow>,
}

/// Filters for listing connections; `after` is the cursor (a connection id).
#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    /// `None` lists every workspace (operators only).
    pub workspace_id: Option<String>,
    pub owner_id: Option<String>,
    pub connector: Option<String>,
    pub lifecycle: Option<String>,
    pub health: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

const INSERT_CONNECTION: &str = "INSERT INTO connections (id, workspace_id, connector, owner_id, owner_scope, account_id, name, config, lifecycle, health, health_reason, last_sync_at, last_tested_at, created_at, updated_at, version, token_expires_at, granted_scopes, metadata, sync_frequency, next_sync_at, sync_failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)";
const UPDATE_CONNECTION: &str = "UPDATE connections SET owner_scope = $2, account_id = $3, name = $4, config = $5, lifecycle = $6, health = $7, health_reason = $8, last_sync_at = $9, last_tested_at = $10, updated_at = $11, version = $12, token_expires_at = $14, granted_scopes = $15, metadata = $16, sync_frequency = $17, next_sync_at = $18, sync_failures = $19 WHERE id = $1 AND version = $13";
pub(crate) const UPSERT_CREDENTIAL: &str = "INSERT INTO credentials (id, workspace_id, owner_type, owner_id, field, key_id, ciphertext, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (owner_type, owner_id, field) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at";
const INSERT_PRINCIPAL: &str = "INSERT INTO principals (id, workspace_id, connection_id, subject, key_id, key_hash, scope, action_keys, created_at, rotated_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const INSERT_GRANT: &str = "INSERT INTO grants (id, workspace_id, principal_id, connection_id, permission, resource, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Binds and runs the credential upsert on any executor of either backend.
macro_rules! upsert_credential {
    ($exec:expr, $c:expr) => {{
        let c: &$crate::CredentialRow = $c;
        sqlx::query($crate::connections::UPSERT_CREDENTIAL)
            .bind(&c.id)
            .bind(&c.workspace_id)
            .bind(&c.owner_type)
            .bind(&c.owner_id)
            .bind(&c.field)
            .bind(c.key_id)
            .bind(&c.ciphertext)
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute($exec)
            .await?;
    }};
}
pub(crate) use upsert_credential;

/// The parts of a write after the connection row itself, identical for insert and update.
macro_rules! write_children {
    ($tx:expr, $w:expr) => {{
        let w: &ConnectionWrite = $w;
        for c in &w.credentials {
            upsert_credential!(&mut *$tx, c);
        }
        if let Some(conn) = &w.connection {
            for field in &w.remove_credentials {
                sqlx::query("DELETE FROM credentials WHERE owner_type = 'connection' AND owner_id = $1 AND field = $2")
                    .bind(&conn.id)
                    .bind(field)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
        if let (true, Some(conn)) = (w.revoke_principal, &w.connection) {
            sqlx::query("UPDATE principals SET key_hash = 'revoked:' || id WHERE connection_id = $1")
                .bind(&conn.id)
                .execute(&mut *$tx)
                .await?;
        }
        if let Some(p) = &w.principal {
            sqlx::query(INSERT_PRINCIPAL)
                .bind(&p.id)
                .bind(&p.workspace_id)
                .bind(&p.connection_id)
                .bind(&p.subject)
                .bind(&p.key_id)
                .bind(&p.key_hash)
                .bind(&p.scope)
                .bind(&p.action_keys)
                .bind(p.created_at)
                .bind(p.rotated_at)
                .bind(p.last_used_at)
                .execute(&mut *$tx)
                .await?;
        }
        for g in &w.grants {
            sqlx::query(INSERT_GRANT)
                .bind(&g.id)
                .bind(&g.workspace_id)
                .bind(&g.principal_id)
                .bind(&g.connection_id)
                .bind(&g.permission)
                .bind(&g.resource)
                .bind(g.created_at)
                .execute(&mut *$tx)
                .await?;
        }
        for a in &w.activity {
            insert_activity!(&mut *$tx, a);
        }
        for e in &w.events {
            insert_event!(&mut *$tx, e);
        }
    }};
}

/// The versioned row update plus its children, inside an open transaction `$tx`.
macro_rules! apply_update {
    ($tx:expr, $w:expr, $expected:expr) => {{
        let w: &ConnectionWrite = $w;
        if let Some(c) = &w.connection {
            let done = sqlx::query(UPDATE_CONNECTION)
                .bind(&c.id)
                .bind(&c.owner_scope)
                .bind(&c.account_id)
                .bind(&c.name)
                .bind(&c.config)
                .bind(&c.lifecycle)
                .bind(&c.health)
                .bind(&c.health_reason)
                .bind(c.last_sync_at)
                .bind(c.last_tested_at)
                .bind(c.updated_at)
                .bind(c.version)
                .bind($expected)
                .bind(c.token_expires_at)
                .bind(&c.granted_scopes)
                .bind(&c.metadata)
                .bind(&c.sync_frequency)
                .bind(c.next_sync_at)
                .bind(c.sync_failures)
                .execute(&mut *$tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale(format!(
                    "connection {} changed concurrently",
                    c.id
                )));
            }
        }
        write_children!($tx, w);
    }};
}

impl Store {
    pub async fn insert_connection(&self, w: &ConnectionWrite) -> Result<()> {
        let c = w
            .connection
            .as_ref()
            .ok_or(StoreError::NotFound("connection row in write"))?;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_CONNECTION)
                .bind(&c.id)
                .bind(&c.workspace_id)
                .bind(&c.connector)
                .bind(&c.owner_id)
                .bind(&c.owner_scope)
                .bind(&c.account_id)
                .bind(&c.name)
                .bind(&c.config)
                .bind(&c.lifecycle)
                .bind(&c.health)
                .bind(&c.health_reason)
                .bind(c.last_sync_at)
                .bind(c.last_tested_at)
                .bind(c.created_at)
                .bind(c.updated_at)
                .bind(c.version)
                .bind(c.token_expires_at)
                .bind(&c.granted_scopes)
                .bind(&c.metadata)
                .bind(&c.sync_frequency)
                .bind(c.next_sync_at)
                .bind(c.sync_failures)
                .execute(&mut *tx)
                .await?;
            write_children!(tx, w);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Applies `w` if the stored version still equals `expected_version`; otherwise `Conflict`.
    pub async fn update_connection(
        &self,
        w: &ConnectionWrite,
        expected_version: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            apply_update!(tx, w, expected_version);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes the connection, its credentials, principal and grants; activity stays.
    pub async fn delete_connection(
        &self,
        id: &str,
        activity: &ActivityRow,
        event: &EventRow,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM credentials WHERE owner_type = 'connection' AND owner_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM grants WHERE connection_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM principals WHERE connection_id = $1").bind(id).execute(&mut *tx).await?;
            let done = sqlx::query("DELETE FROM connections WHERE id = $1").bind(id).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("connection"));
            }
            insert_activity!(&mut *tx, activity);
            insert_event!(&mut *tx, event);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A connection by id, confined to `workspace_id` when given.
    pub async fn get_connection(
        &self,
        workspace_id: Option<&str>,
        id: &str,
    ) -> Result<Option<ConnectionRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM connections WHERE id = $1 AND (CAST($2 AS TEXT) IS NULL OR workspace_id = $2)")
            .bind(id)
            .bind(workspace_id)
            .fetch_optional(pool)
            .await?),
        )
    }

    pub async fn list_connections(&self, f: &ConnectionFilter) -> Result<Vec<ConnectionRow>> {
        let sql = "SELECT * FROM connections \
            WHERE (CAST($1 AS TEXT) IS NULL OR workspace_id = $1) \
              AND (CAST($2 AS TEXT) IS NULL OR owner_id = $2) \
              AND (CAST($3 AS TEXT) IS NULL OR connector = $3) \
              AND (CAST($4 AS TEXT) IS NULL OR lifecycle = $4) \
              AND (CAST($5 AS TEXT) IS NULL OR health = $5) \
              AND (CAST($6 AS TEXT) IS NULL OR id > $6) \
            ORDER BY id LIMIT $7";
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, ConnectionRow>(sql)
            .bind(&f.workspace_id)
            .bind(&f.owner_id)
            .bind(&f.connector)
            .bind(&f.lifecycle)
            .bind(&f.health)
            .bind(&f.after)
            .bind(f.limit)
            .fetch_all(pool)
            .await?),
        )
    }

    /// (lifecycle, health, count) for a workspace or, with `None`, all of them.
    pub async fn connection_counts(
        &self,
        workspace_id: Option<&str>,
    ) -> Result<Vec<(String, String, i64)>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, (String, String, i64)>(
            "SELECT lifecycle, health, COUNT(*) FROM connections WHERE (CAST($1 AS TEXT) IS NULL OR workspace_id = $1) GROUP BY lifecycle, health ORDER BY lifecycle, health")
            .bind(workspace_id)
            .fetch_all(pool)
            .await?),
        )
    }

    pub async fn list_credentials(
        &self,
        owner_type: &str,
        owner_id: &str,
    ) -> Result<Vec<CredentialRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, CredentialRow>(
            "SELECT * FROM credentials WHERE owner_type = $1 AND owner_id = $2 ORDER BY field")
            .bind(owner_type)
            .bind(owner_id)
            .fetch_all(pool)
            .await?),
        )
    }

    /// The credentials of many owners of one type in one statement, by owner then field.
    pub async fn list_credentials_of(
        &self,
        owner_type: &str,
        owner_ids: &[String],
    ) -> Result<Vec<CredentialRow>> {
        let list = serde_json::to_string(owner_ids).unwrap_or_else(|_| "[]".into());
        Ok(match &self.reader {
            Backend::Postgres(pool) => {
                sqlx::query_as::<_, CredentialRow>(
                    "SELECT * FROM credentials WHERE owner_type = $1 \
                     AND owner_id IN (SELECT jsonb_array_elements_text($2::jsonb)) \
                     ORDER BY owner_id, field",
                )
                .bind(owner_type)
                .bind(list)
                .fetch_all(pool)
                .await?
            }
            Backend::Sqlite(pool) => {
                sqlx::query_as::<_, CredentialRow>(
                    "SELECT * FROM credentials WHERE owner_type = $1 \
                     AND owner_id IN (SELECT value FROM json_each($2)) ORDER BY owner_id, field",
                )
                .bind(owner_type)
                .bind(list)
                .fetch_all(pool)
                .await?
            }
        })
    }

    pub async fn get_principal(&self, connection_id: &str) -> Result<Option<PrincipalRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, PrincipalRow>("SELECT * FROM principals WHERE connection_id = $1")
            .bind(connection_id)
            .fetch_optional(pool)
            .await?),
        )
    }

    pub async fn find_principal_by_hash(&self, key_hash: &str) -> Result<Option<PrincipalRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, PrincipalRow>("SELECT * FROM principals WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Replaces the principal's key id and hash; the old key stops working at commit.
    pub async fn rotate_principal(
        &self,
        principal_id: &str,
        key_id: &str,
        key_hash: &str,
        at: i64,
        activity: &ActivityRow,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // A revoked principal stays revoked, even if a rotation races the revocation.
            let done = sqlx::query("UPDATE principals SET key_id = $2, key_hash = $3, rotated_at = $4 WHERE id = $1 AND key_hash NOT LIKE 'revoked:%'")
                .bind(principal_id)
                .bind(key_id)
                .bind(key_hash)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale("principal is revoked or gone".into()));
            }
            insert_activity!(&mut *tx, activity);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn touch_principal(&self, principal_id: &str, at: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE principals SET last_used_at = $2 WHERE id = $1")
            .bind(principal_id)
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn list_grants(&self, principal_id: &str) -> Result<Vec<GrantRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, GrantRow>("SELECT * FROM grants WHERE principal_id = $1 ORDER BY id")
            .bind(principal_id)
            .fetch_all(pool)
            .await?),
        )
    }
}

/// An open claim on one connection for a token refresh. On PostgreSQL it holds the row lock
/// (`SELECT … FOR UPDATE`) until [`RefreshGuard::commit`] or drop, so processes sharing the
/// database refresh one at a time and each sees the winner's result. SQLite serves one process,
/// where the engine's in-process lock already serialises refreshes; holding SQLite's only
/// writer across a network call would stall every other write, so no lock is taken there.
pub struct RefreshGuard {
    tx: Option<sqlx::Transaction<'static, sqlx::Postgres>>,
    store: Store,
    pub connection: ConnectionRow,
    pub credentials: Vec<CredentialRow>,
}

impl RefreshGuard {
    /// Writes the refreshed state (versioned) and releases the claim.
    pub async fn commit(self, w: &ConnectionWrite, expected_version: i64) -> Result<()> {
        match self.tx {
            Some(mut tx) => {
                apply_update!(tx, w, expected_version);
                tx.commit().await?;
                Ok(())
            }
            None => self.store.update_connection(w, expected_version).await,
        }
    }
}

impl Store {
    /// Claims a connection for a token refresh and returns its current row and credentials.
    pub async fn claim_for_refresh(&self, id: &str) -> Result<RefreshGuard> {
        match &self.backend {
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let connection = sqlx::query_as::<_, ConnectionRow>(
                    "SELECT * FROM connections WHERE id = $1 FOR UPDATE",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("connection"))?;
                let credentials = sqlx::query_as::<_, CredentialRow>(
                    "SELECT * FROM credentials WHERE owner_type = 'connection' AND owner_id = $1 ORDER BY field",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                Ok(RefreshGuard {
                    tx: Some(tx),
                    store: self.clone(),
                    connection,
                    credentials,
                })
            }
            Backend::Sqlite(_) => {
                let connection = self
                    .get_connection(None, id)
                    .await?
                    .ok_or(StoreError::NotFound("connection"))?;
                let credentials = self.list_credentials("connection", id).await?;
                Ok(RefreshGuard {
                    tx: None,
                    store: self.clone(),
                    connection,
                    credentials,
                })
            }
        }
    }

    /// The live connection of an owner's account, for reconnecting instead of duplicating.
    pub async fn find_connection_by_account(
        &self,
        workspace_id: &str,
        owner_id: &str,
        connector: &str,
        account_id: &str,
    ) -> Result<Option<ConnectionRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, ConnectionRow>(
            "SELECT * FROM connections WHERE workspace_id = $1 AND owner_id = $2 AND connector = $3 AND account_id = $4 AND lifecycle <> 'revoked'")
            .bind(workspace_id)
            .bind(owner_id)
            .bind(connector)
            .bind(account_id)
            .fetch_optional(pool)
            .await?),
        )
    }
}

/// What a health write produced, built from the row as it was under the lock.
pub type HealthChange<'a> =
    &'a (dyn Fn(&ConnectionRow) -> (Vec<ActivityRow>, Vec<EventRow>) + Sync);

impl Store {
    /// Sets health (and the last test time) without the optimistic version check, so frequent
    /// tests never collide. The row is read under a lock (`FOR UPDATE`; SQLite's single writer)
    /// so `on_write` sees the health being replaced and can emit events only on a change.
    pub async fn update_health(
        &self,
        id: &str,
        health: &str,
        reason: Option<&str>,
        tested_at: Option<i64>,
        on_write: HealthChange<'_>,
    ) -> Result<ConnectionRow> {
        let now = patchbay_core::now_ms();
        let select = match self.backend {
            Backend::Postgres(_) => "SELECT * FROM connections WHERE id = $1 FOR UPDATE",
            Backend::Sqlite(_) => "SELECT * FROM connections WHERE id = $1",
        };
        let before = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let before = sqlx::query_as::<_, ConnectionRow>(select)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("connection"))?;
            sqlx::query("UPDATE connections SET health = $2, health_reason = $3, last_tested_at = COALESCE($4, last_tested_at), updated_at = $5, version = version + 1 WHERE id = $1")
                .bind(id)
                .bind(health)
                .bind(reason)
                .bind(tested_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let (activity, events) = on_write(&before);
            for a in &activity {
                insert_activity!(&mut *tx, a);
            }
            for e in &events {
                insert_event!(&mut *tx, e);
            }
            tx.commit().await?;
            before
        });
        Ok(before)
    }
}
