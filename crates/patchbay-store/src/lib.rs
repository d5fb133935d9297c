//! Storage for patchbay: one `Store` with a file of methods per area (workspaces, connections,
//! activity and events, OAuth, jobs, sync and records, webhooks, subscriptions, action runs,
//! repositories, LLM providers, vault keys, push watches, dashboard widgets, channel bindings), each compiled for SQLite and PostgreSQL. Both backends share the SQL text where it is the same
//! (`$N` parameters work on both); each has its own migrations. The backend is picked from the
//! database URL's scheme.

mod action_runs;
mod activity;
mod attachments;
mod bindings;
mod connections;
mod context;
mod jobs;
mod llm_providers;
mod migrate;
mod oauth;
mod repositories;
mod rows;
mod subscriptions;
mod sync;
pub mod testing;
mod vault_keys;
mod watches;
mod webhooks;
mod widgets;
mod workspaces;

pub use action_runs::{ActionClaim, ActionRunRow};
pub use activity::ActivityFilter;
pub use attachments::AttachmentRow;
pub use bindings::{BindingRow, RouteWrite, Routed, RoutingDefaultRow};
pub use connections::{ConnectionFilter, ConnectionWrite, HealthChange, RefreshGuard};
pub use context::record_hash;
pub use jobs::Enqueued;
pub use llm_providers::{LlmProviderRow, LlmProviderWrite, LLM_PROVIDER_OWNER};
pub use oauth::StateClaim;
pub use repositories::RepositoryRow;
pub use rows::*;
pub use subscriptions::{AttemptRecord, CircuitUpdate, EventHead};
pub use sync::{PageCommit, PageCounts, PageRecord, RecordQuery, RunEnd, SYNC_ACTOR};
pub use watches::WatchRow;
pub use widgets::WidgetRow;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The row changed, or a lease moved, since it was read: read again and retry.
    #[error("stale: {0}")]
    Stale(String),
    /// A unique key is taken; `constraint` names the constraint or index that refused the row.
    #[error("duplicate: {constraint}")]
    Unique { constraint: String },
    /// Stored data that does not parse.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A write shared by many callers (the webhook group commit) failed; each caller of the
    /// group holds the one cause.
    #[error("group write failed: {0}")]
    Batch(#[source] std::sync::Arc<StoreError>),
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Unique {
                constraint: db.constraint().unwrap_or("unique key").to_string(),
            },
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How often SQLite's WAL is copied back into the database file (in the background).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL frames (4 KiB pages) past which a checkpoint waits for the writer to start the WAL over.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// A handle on the database; cheap to clone. Writes go through `backend`; reads through
/// `reader`, which on SQLite is a separate pool so readers never queue behind the one writer.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) reader: Backend,
    /// While any clone of the store lives, SQLite's WAL is checkpointed in the background.
    _checkpoints: Option<std::sync::Arc<()>>,
}

/// Runs the same body against whichever pool the store holds. The body is compiled once per
/// backend, so each arm is a real, typed implementation for that driver.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Like `with_pool!`, for statements that only read.
macro_rules! with_reader {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.reader {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_reader;

/// Which backend a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// A database URL whose `Debug` and `Display` hide the password, so a settings struct that holds
/// one can be logged or printed whole. [`DatabaseUrl::expose`] gives the real text to connect.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    /// The URL with its password, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(DatabaseUrl::new(s))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", redact_url(&self.0))
    }
}

/// Hides the password of a database URL (userinfo or `password=` parameter) for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("****"));
            }
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let hidden =
                        k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
                    (
                        k.into_owned(),
                        if hidden {
                            "****".to_string()
                        } else {
                            v.into_owned()
                        },
                    )
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => url
            .split('@')
            .next_back()
            .map(|s| format!("…@{s}"))
            .unwrap_or_default(),
    }
}

impl Store {
    /// Opens the database named by `url` (`sqlite:` or `postgres:`) and runs migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = Self::open(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating.
    pub async fn open(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
            Self::open_sqlite(opts).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
            Self::open_postgres(opts).await
        } else {
            Err(StoreError::InvalidUrl(format!(
                "{} (expected a URL starting with sqlite: or postgres:)",
                redact_url(url)
            )))
        }
    }

    pub async fn open_sqlite(opts: SqliteConnectOptions) -> Result<Store> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0")
            // A 2xx means committed: keep full durability; group commits buy speed instead.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // SQLite has one writer at a time; a single write connection queues writers in the
        // pool instead of letting them collide and back off on SQLITE_BUSY.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone().create_if_missing(false))
            .await?;
        // Checkpoints run on a connection of their own instead of inside whichever commit
        // crosses SQLite's threshold, so the one writer never stops to copy the WAL back.
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.create_if_missing(false))
            .await?;
        let alive = std::sync::Arc::new(());
        let token = std::sync::Arc::downgrade(&alive);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CHECKPOINT_EVERY).await;
                if token.upgrade().is_none() {
                    break;
                }
                // A passive checkpoint never waits for the writer, but under steady writes
                // the WAL is then never found fully copied and keeps growing; past a size
                // the checkpoint waits for the writer once and the WAL starts over.
                let passive: std::result::Result<(i64, i64, i64), _> =
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(&checkpointer)
                        .await;
                let outcome = match passive {
                    Ok((_, frames, _)) if frames > WAL_RESTART_FRAMES => {
                        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                            .execute(&checkpointer)
                            .await
                            .map(|_| ())
                    }
                    other => other.map(|_| ()),
                };
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
            checkpointer.close().await;
        });
        Ok(Store {
            backend: Backend::Sqlite(writer),
            reader: Backend::Sqlite(reader),
            _checkpoints: Some(alive),
        })
    }

    pub async fn open_postgres(opts: PgConnectOptions) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(Store {
            backend: Backend::Postgres(pool.clone()),
            reader: Backend::Postgres(pool),
            _checkpoints: None,
        })
    }

    /// Opens PostgreSQL with every connection confined to `schema` (created if missing); tests
    /// use one schema each so they can run in parallel on one database.
    pub async fn open_postgres_schema(url: &str, schema: &str) -> Result<Store> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("{}: {e}", redact_url(url))))?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&admin)
            .await?;
        admin.close().await;
        Self::open_postgres(opts.options([("search_path", schema)])).await
    }

    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        with_reader!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pools; on SQLite the WAL is first folded back into the database file.
    pub async fn close(&self) {
        if let Backend::Sqlite(writer) = &self.backend {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(writer)
                .await
            {
                tracing::warn!(error = %e, "final WAL checkpoint failed");
            }
        }
        with_reader!(self, pool => pool.close().await);
        with_pool!(self, pool => pool.close().await)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_passwords() {
        let r = super::redact_url("postgres://app:hunter2@db/x?sslmode=require&password=s3cret");
        assert!(!r.contains("hunter2") && !r.contains("s3cret"), "{r}");
        assert!(r.contains("sslmode=require"));
    }
}
