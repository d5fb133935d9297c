//! Wrapped data keys and the credential queries key rotation needs.

use crate::{with_pool, with_reader, CredentialRow, Result, Store, VaultKeyRow};

impl Store {
    pub async fn list_vault_keys(&self) -> Result<Vec<VaultKeyRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, VaultKeyRow>("SELECT * FROM vault_keys ORDER BY id")
            .fetch_all(pool)
            .await?),
        )
    }

    /// Stores a new data key and makes it the only active one, in one transaction.
    pub async fn add_active_vault_key(&self, row: &VaultKeyRow) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE vault_keys SET active = FALSE WHERE active").execute(&mut *tx).await?;
            sqlx::query("INSERT INTO vault_keys (id, wrapped, active, created_at) VALUES ($1, $2, TRUE, $3)")
                .bind(row.id)
                .bind(&row.wrapped)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Up to `limit` credentials sealed with a key other than `key_id`.
    pub async fn credentials_not_on_key(
        &self,
        key_id: i64,
        limit: i64,
    ) -> Result<Vec<CredentialRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, CredentialRow>(
            "SELECT * FROM credentials WHERE key_id <> $1 ORDER BY id LIMIT $2")
            .bind(key_id)
            .bind(limit)
            .fetch_all(pool)
            .await?),
        )
    }

    pub async fn count_credentials_not_on_key(&self, key_id: i64) -> Result<i64> {
        Ok(
            with_reader!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM credentials WHERE key_id <> $1")
            .bind(key_id)
            .fetch_one(pool)
            .await?),
        )
    }

    /// Swaps a credential's ciphertext only if it still holds `old` (a concurrent write wins).
    pub async fn reseal_credential(
        &self,
        id: &str,
        old: &[u8],
        new: &[u8],
        key_id: i64,
    ) -> Result<bool> {
        let done = with_pool!(self, pool => sqlx::query(
            "UPDATE credentials SET ciphertext = $3, key_id = $4 WHERE id = $1 AND ciphertext = $2")
            .bind(id)
            .bind(old)
            .bind(new)
            .bind(key_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }
}
