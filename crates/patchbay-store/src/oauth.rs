//! OAuth apps, connect sessions and single-use states.

use crate::activity::insert_activity;
use crate::{
    with_pool, with_reader, ActivityRow, ConnectSessionRow, CredentialRow, OAuthAppRow,
    OAuthStateRow, Result, Store,
};

/// What consuming a state found.
#[derive(Debug, Clone, PartialEq)]
pub enum StateClaim {
    /// First use within its lifetime: the caller owns it now.
    Claimed(OAuthStateRow, ConnectSessionRow),
    Replayed(OAuthStateRow, ConnectSessionRow),
    Expired(OAuthStateRow, ConnectSessionRow),
    Unknown,
}

use crate::connections::upsert_credential;

impl Store {
    /// Creates or replaces the workspace's app for a provider with its sealed client secret.
    pub async fn upsert_oauth_app(
        &self,
        app: &OAuthAppRow,
        secrets: &[CredentialRow],
        activity: &ActivityRow,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO oauth_apps (id, workspace_id, provider, client_id, scopes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                ON CONFLICT (workspace_id, provider) DO UPDATE SET client_id = excluded.client_id, scopes = excluded.scopes, updated_at = excluded.updated_at")
                .bind(&app.id)
                .bind(&app.workspace_id)
                .bind(&app.provider)
                .bind(&app.client_id)
                .bind(&app.scopes)
                .bind(app.created_at)
                .bind(app.updated_at)
                .execute(&mut *tx)
                .await?;
            for secret in secrets {
                upsert_credential!(&mut *tx, secret);
            }
            insert_activity!(&mut *tx, activity);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn get_oauth_app(
        &self,
        workspace_id: &str,
        provider: &str,
    ) -> Result<Option<OAuthAppRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, OAuthAppRow>("SELECT * FROM oauth_apps WHERE workspace_id = $1 AND provider = $2")
            .bind(workspace_id)
            .bind(provider)
            .fetch_optional(pool)
            .await?),
        )
    }

    pub async fn list_oauth_apps(&self, workspace_id: &str) -> Result<Vec<OAuthAppRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, OAuthAppRow>("SELECT * FROM oauth_apps WHERE workspace_id = $1 ORDER BY provider")
            .bind(workspace_id)
            .fetch_all(pool)
            .await?),
        )
    }

    pub async fn insert_connect_session(&self, s: &ConnectSessionRow) -> Result<()> {
        with_pool!(self, pool => sqlx::query("INSERT INTO connect_sessions (id, workspace_id, token_hash, connector, owner_id, owner_scope, return_url, scopes, config, expires_at, created_at, allowed_connectors, consumed_at, user_scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
            .bind(&s.id)
            .bind(&s.workspace_id)
            .bind(&s.token_hash)
            .bind(&s.connector)
            .bind(&s.owner_id)
            .bind(&s.owner_scope)
            .bind(&s.return_url)
            .bind(&s.scopes)
            .bind(&s.config)
            .bind(s.expires_at)
            .bind(s.created_at)
            .bind(&s.allowed_connectors)
            .bind(s.consumed_at)
            .bind(&s.user_scopes)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn find_connect_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConnectSessionRow>> {
        Ok(
            with_reader!(self, pool => sqlx::query_as::<_, ConnectSessionRow>("SELECT * FROM connect_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Marks an unused, unexpired session used at `now`; false when it was used, expired or
    /// gone. Exactly one caller wins.
    pub async fn claim_connect_session(&self, id: &str, now: i64) -> Result<bool> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE connect_sessions SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Undoes [`Store::claim_connect_session`] made at `claimed_at`, when nothing came of it.
    pub async fn release_connect_session(&self, id: &str, claimed_at: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE connect_sessions SET consumed_at = NULL WHERE id = $1 AND consumed_at = $2")
            .bind(id)
            .bind(claimed_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Marks a session used (a connection came of it), whatever its expiry.
    pub async fn mark_connect_session_used(&self, id: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE connect_sessions SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Stores a state with its sealed PKCE verifier.
    pub async fn insert_oauth_state(
        &self,
        st: &OAuthStateRow,
        verifier: Option<&CredentialRow>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO oauth_states (id, state_hash, session_id, workspace_id, redirect_uri, expires_at, consumed_at, created_at, connector) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(&st.id)
                .bind(&st.state_hash)
                .bind(&st.session_id)
                .bind(&st.workspace_id)
                .bind(&st.redirect_uri)
                .bind(st.expires_at)
                .bind(st.consumed_at)
                .bind(st.created_at)
                .bind(&st.connector)
                .execute(&mut *tx)
                .await?;
            if let Some(v) = verifier {
                upsert_credential!(&mut *tx, v);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Marks a state used if it is unused and unexpired; says what it found otherwise.
    pub async fn consume_oauth_state(&self, state_hash: &str, now: i64) -> Result<StateClaim> {
        // The conditional update is the single point of truth: exactly one caller wins.
        let claimed = with_pool!(self, pool => sqlx::query_as::<_, OAuthStateRow>(
            "UPDATE oauth_states SET consumed_at = $2 WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING *")
            .bind(state_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        let won = claimed.is_some();
        let row = match claimed {
            Some(r) => r,
            None => {
                match with_pool!(self, pool => sqlx::query_as::<_, OAuthStateRow>("SELECT * FROM oauth_states WHERE state_hash = $1")
                .bind(state_hash)
                .fetch_optional(pool)
                .await?)
                {
                    Some(r) => r,
                    None => return Ok(StateClaim::Unknown),
                }
            }
        };
        let session = with_pool!(self, pool => sqlx::query_as::<_, ConnectSessionRow>("SELECT * FROM connect_sessions WHERE id = $1")
            .bind(&row.session_id)
            .fetch_optional(pool)
            .await?);
        let Some(session) = session else {
            return Ok(StateClaim::Unknown);
        };
        Ok(if won {
            StateClaim::Claimed(row, session)
        } else if row.consumed_at.is_some() {
            StateClaim::Replayed(row, session)
        } else {
            StateClaim::Expired(row, session)
        })
    }

    pub async fn delete_credentials(&self, owner_type: &str, owner_id: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM credentials WHERE owner_type = $1 AND owner_id = $2")
            .bind(owner_type)
            .bind(owner_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }
}
