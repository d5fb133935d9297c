//! Custom OpenAI-compatible LLM providers: rows, their sealed credentials and activity,
//! written together.

use crate::activity::insert_activity;
use crate::connections::upsert_credential;
use crate::{with_pool, with_reader, ActivityRow, CredentialRow, Result, Store, StoreError};

/// The credentials' owner type for a provider's API key and extra headers.
pub const LLM_PROVIDER_OWNER: &str = "llm_provider";

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LlmProviderRow {
    pub id: String,
    pub name: String,
    pub base_url: String,
    /// JSON array of model ids listed by the operator.
    pub models: String,
    /// JSON array of model ids the last successful test found.
    pub discovered_models: String,
    /// JSON array of header names; their values are a sealed credential.
    pub extra_header_names: String,
    pub enabled: bool,
    pub tested_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One PUT: the row, the credentials to seal or replace, the credential fields to drop.
pub struct LlmProviderWrite<'a> {
    pub row: &'a LlmProviderRow,
    /// Insert a new row (else update the stored one).
    pub create: bool,
    pub seal: &'a [CredentialRow],
    pub drop_fields: &'a [&'a str],
    pub activity: &'a ActivityRow,
}

impl Store {
    /// Creates or replaces a provider with its credentials and activity in one transaction.
    /// A create that meets an existing id is `Unique`; an update of a missing one `NotFound`.
    pub async fn put_llm_provider(&self, w: LlmProviderWrite<'_>) -> Result<()> {
        let r = w.row;
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = if w.create {
                sqlx::query("INSERT INTO llm_providers (id, name, base_url, models, discovered_models, extra_header_names, enabled, tested_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(&r.id).bind(&r.name).bind(&r.base_url).bind(&r.models)
                    .bind(&r.discovered_models).bind(&r.extra_header_names).bind(r.enabled)
                    .bind(r.tested_at).bind(r.created_at).bind(r.updated_at)
                    .execute(&mut *tx).await?.rows_affected()
            } else {
                sqlx::query("UPDATE llm_providers SET name = $2, base_url = $3, models = $4, discovered_models = $5, extra_header_names = $6, enabled = $7, tested_at = $8, updated_at = $9 WHERE id = $1")
                    .bind(&r.id).bind(&r.name).bind(&r.base_url).bind(&r.models)
                    .bind(&r.discovered_models).bind(&r.extra_header_names).bind(r.enabled)
                    .bind(r.tested_at).bind(r.updated_at)
                    .execute(&mut *tx).await?.rows_affected()
            };
            if n == 0 {
                return Err(StoreError::NotFound("llm provider"));
            }
            for field in w.drop_fields {
                sqlx::query("DELETE FROM credentials WHERE owner_type = $1 AND owner_id = $2 AND field = $3")
                    .bind(LLM_PROVIDER_OWNER).bind(&r.id).bind(*field)
                    .execute(&mut *tx).await?;
            }
            for cred in w.seal {
                upsert_credential!(&mut *tx, cred);
            }
            insert_activity!(&mut *tx, w.activity);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes a provider and its credentials; `false` when there was none.
    pub async fn delete_llm_provider(&self, id: &str, activity: &ActivityRow) -> Result<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("DELETE FROM llm_providers WHERE id = $1")
                .bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM credentials WHERE owner_type = $1 AND owner_id = $2")
                .bind(LLM_PROVIDER_OWNER).bind(id).execute(&mut *tx).await?;
            insert_activity!(&mut *tx, activity);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Stores what a successful test found, with its activity.
    pub async fn record_llm_discovery(
        &self,
        id: &str,
        discovered_models: &str,
        tested_at: i64,
        activity: &ActivityRow,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE llm_providers SET discovered_models = $2, tested_at = $3 WHERE id = $1")
                .bind(id).bind(discovered_models).bind(tested_at)
                .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound("llm provider"));
            }
            insert_activity!(&mut *tx, activity);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn get_llm_provider(&self, id: &str) -> Result<Option<LlmProviderRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, LlmProviderRow>(
            "SELECT * FROM llm_providers WHERE id = $1")
            .bind(id).fetch_optional(pool).await?),
        )
    }

    /// Providers by id; `enabled_only` for the workspaces' read view.
    pub async fn list_llm_providers(
        &self,
        enabled_only: bool,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<LlmProviderRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, LlmProviderRow>(
            "SELECT * FROM llm_providers WHERE ($1 = FALSE OR enabled = TRUE) AND (CAST($2 AS TEXT) IS NULL OR id > $2) ORDER BY id LIMIT $3")
            .bind(enabled_only).bind(cursor).bind(limit)
            .fetch_all(pool).await?),
        )
    }
}
