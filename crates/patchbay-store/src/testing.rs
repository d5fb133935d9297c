//! Fresh databases for tests: a new SQLite file, or a new schema on the PostgreSQL server named
//! by `PATCHBAY_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), so tests
//! run in parallel without seeing each other's rows.

use crate::{Result, Store};
use std::path::PathBuf;

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// Where a test database lives, for tests that inspect it from outside (file scans, dumps).
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub backend: TestBackend,
    /// The URL a separate process can open (for PostgreSQL it selects the schema).
    pub url: String,
    pub sqlite_path: Option<PathBuf>,
    pub postgres_schema: Option<String>,
}

pub fn postgres_url() -> String {
    std::env::var("PATCHBAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_string())
}

/// A unique, empty test database description (nothing is created yet).
pub fn new_database(backend: TestBackend) -> TestDatabase {
    let tag = uuid::Uuid::now_v7().simple().to_string();
    match backend {
        TestBackend::Sqlite => {
            let dir = std::env::temp_dir().join("patchbay-tests");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{tag}.db"));
            TestDatabase {
                backend,
                url: format!("sqlite:{}?mode=rwc", path.display()),
                sqlite_path: Some(path),
                postgres_schema: None,
            }
        }
        TestBackend::Postgres => {
            let schema = format!("t_{tag}");
            let base = postgres_url();
            let sep = if base.contains('?') { '&' } else { '?' };
            TestDatabase {
                backend,
                url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                sqlite_path: None,
                postgres_schema: Some(schema),
            }
        }
    }
}

impl TestDatabase {
    /// Creates the database (and schema), migrates it and opens a store.
    pub async fn open(&self) -> Result<Store> {
        let store = match (&self.backend, &self.postgres_schema) {
            (TestBackend::Postgres, Some(schema)) => {
                Store::open_postgres_schema(&postgres_url(), schema).await?
            }
            _ => Store::open(&self.url).await?,
        };
        store.migrate().await?;
        Ok(store)
    }
}

/// A fresh, migrated store on `backend`.
pub async fn fresh_store(backend: TestBackend) -> (Store, TestDatabase) {
    let db = new_database(backend);
    let store = db.open().await.unwrap_or_else(|e| {
        panic!(
            "cannot open a {backend:?} test database: {e}. PostgreSQL tests use PATCHBAY_TEST_POSTGRES_URL \
             (default {DEFAULT_TEST_POSTGRES_URL})"
        )
    });
    (store, db)
}
