//! A small migration runner: numbered SQL files per backend, applied once each, in order, each
//! in its own transaction. On PostgreSQL an advisory lock keeps concurrent starts from racing.

use crate::{with_pool, Backend, Result, Store, StoreError};

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        sqlite: include_str!("../migrations/sqlite/0002_oauth.sql"),
        postgres: include_str!("../migrations/postgres/0002_oauth.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("../migrations/sqlite/0003_sync.sql"),
        postgres: include_str!("../migrations/postgres/0003_sync.sql"),
    },
    Migration {
        version: 4,
        sqlite: include_str!("../migrations/sqlite/0004_webhooks.sql"),
        postgres: include_str!("../migrations/postgres/0004_webhooks.sql"),
    },
    Migration {
        version: 5,
        sqlite: include_str!("../migrations/sqlite/0005_subscriptions.sql"),
        postgres: include_str!("../migrations/postgres/0005_subscriptions.sql"),
    },
    Migration {
        version: 6,
        sqlite: include_str!("../migrations/sqlite/0006_execution.sql"),
        postgres: include_str!("../migrations/postgres/0006_execution.sql"),
    },
    Migration {
        version: 7,
        sqlite: include_str!("../migrations/sqlite/0007_derived_records.sql"),
        postgres: include_str!("../migrations/postgres/0007_derived_records.sql"),
    },
    Migration {
        version: 8,
        sqlite: include_str!("../migrations/sqlite/0008_watches.sql"),
        postgres: include_str!("../migrations/postgres/0008_watches.sql"),
    },
    Migration {
        version: 9,
        sqlite: include_str!("../migrations/sqlite/0009_widgets.sql"),
        postgres: include_str!("../migrations/postgres/0009_widgets.sql"),
    },
    Migration {
        version: 10,
        sqlite: include_str!("../migrations/sqlite/0010_connect_choices.sql"),
        postgres: include_str!("../migrations/postgres/0010_connect_choices.sql"),
    },
    Migration {
        version: 11,
        sqlite: include_str!("../migrations/sqlite/0011_attachments.sql"),
        postgres: include_str!("../migrations/postgres/0011_attachments.sql"),
    },
    Migration {
        version: 12,
        sqlite: include_str!("../migrations/sqlite/0012_user_scopes.sql"),
        postgres: include_str!("../migrations/postgres/0012_user_scopes.sql"),
    },
    Migration {
        version: 13,
        sqlite: include_str!("../migrations/sqlite/0013_llm_providers.sql"),
        postgres: include_str!("../migrations/postgres/0013_llm_providers.sql"),
    },
    Migration {
        version: 14,
        sqlite: include_str!("../migrations/sqlite/0014_bindings.sql"),
        postgres: include_str!("../migrations/postgres/0014_bindings.sql"),
    },
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

impl Store {
    /// Applies pending migrations; returns the versions applied now.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let mut applied_now = Vec::new();
        with_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            let postgres = matches!(self.backend, Backend::Postgres(_));
            // Held for the whole run, so concurrent starts migrate one at a time.
            if postgres {
                sqlx::query("SELECT pg_advisory_lock(727361)").execute(&mut *conn).await?;
            }
            let result: Result<()> = async {
            sqlx::query(CREATE_TABLE).execute(&mut *conn).await?;
            for m in MIGRATIONS {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await?;
                if done.is_some() {
                    continue;
                }
                let sql = match self.backend {
                    Backend::Sqlite(_) => m.sqlite,
                    Backend::Postgres(_) => m.postgres,
                };
                sqlx::raw_sql(sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(|source| StoreError::Migration { version: m.version, source })?;
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(m.version)
                    .bind(patchbay_core::now_ms())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                applied_now.push(m.version);
            }
            Ok(())
            }.await;
            if postgres {
                sqlx::query("SELECT pg_advisory_unlock(727361)").execute(&mut *conn).await?;
            }
            result?;
        });
        Ok(applied_now)
    }

    /// The highest migration version this binary knows.
    pub fn latest_migration() -> i64 {
        MIGRATIONS.last().map_or(0, |m| m.version)
    }
}
