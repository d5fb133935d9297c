//! Connector calls on a connection's behalf: the connector's context with a valid access
//! token, and for OAuth connections one forced refresh and retry after a 401.

use super::Tokens;
use crate::connections::OWNER_TYPE;
use crate::error::{EngineError, Result};
use patchbay_core::{AuthKind, Connector, ConnectorContext, ConnectorError, TestOutcome};
use patchbay_store::ConnectionRow;
use serde_json::Value;

impl Tokens {
    /// The connector's view of a connection; OAuth connections get a valid access token from
    /// the token manager.
    pub(crate) async fn context_for(
        &self,
        row: &ConnectionRow,
        oauth: bool,
    ) -> Result<ConnectorContext> {
        let creds = self
            .ctx
            .store()
            .list_credentials(OWNER_TYPE, &row.id)
            .await?;
        let (mut secrets, errors) = self.ctx.open_secrets(&creds).await?;
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        if oauth {
            secrets.insert("access_token".into(), self.access_token(&row.id).await?);
        }
        Ok(ConnectorContext {
            connection_id: row.id.clone(),
            config: serde_json::from_str(&row.config).unwrap_or(Value::Null),
            secrets,
        })
    }

    /// Opens the connection's credentials and runs `call` (with the refresh-and-retry of
    /// [`Tokens::call_connector`]).
    pub(crate) async fn call_for(
        &self,
        connector: &dyn Connector,
        row: &ConnectionRow,
        call: &Call<'_>,
    ) -> Result<Result<CallOut, ConnectorError>> {
        let mut ctx = self.context_for(row, is_oauth(connector)).await?;
        self.call_connector(connector, row, &mut ctx, call).await
    }

    /// Runs a connector call. For OAuth connections a 401 earns one forced refresh and one
    /// retry; a second 401 marks the connection `needs_reconnect` (with a
    /// `connection.token_expired` event).
    pub(crate) async fn call_connector(
        &self,
        connector: &dyn Connector,
        row: &ConnectionRow,
        ctx: &mut ConnectorContext,
        call: &Call<'_>,
    ) -> Result<Result<CallOut, ConnectorError>> {
        let oauth = is_oauth(connector);
        let first = call.run(connector, ctx).await;
        // Only a 401 says the token is bad; a 403 that is not a rate limit refuses this one
        // request (a repository the account may not write, say) and reconnecting won't help.
        if !oauth || !matches!(first, Err(ConnectorError::Unauthorized { status: 401, .. })) {
            return Ok(first);
        }
        let Some(stale) = ctx.secrets.get("access_token").cloned() else {
            return Ok(first);
        };
        let fresh = self.force_refresh(&row.id, &stale).await?;
        ctx.secrets.insert("access_token".into(), fresh);
        let second = call.run(connector, ctx).await;
        if let Err(ConnectorError::Unauthorized {
            status: 401,
            message,
        }) = &second
        {
            let reason = format!("the provider refused a freshly refreshed token: {message}");
            self.mark_token_expired(&row.id, &reason).await?;
            // The same answer as for a token nothing can renew: the owner must reconnect.
            return Err(EngineError::NeedsReconnect(format!(
                "the connection's authorization is no longer valid; the owner must reconnect ({reason})"
            )));
        }
        Ok(second)
    }
}

pub(crate) fn is_oauth(connector: &dyn Connector) -> bool {
    matches!(
        connector.spec().auth,
        AuthKind::Oauth2 | AuthKind::Oauth2ClientCredentials
    )
}

/// A connector call that may be retried after a token refresh.
pub(crate) enum Call<'a> {
    Test,
    Action(&'a str, Value),
    Signals,
    Data(&'a str),
    /// Start or renew a push subscription to the callback URL.
    Watch(&'a str, Option<&'a patchbay_core::Watch>),
    Unwatch(&'a patchbay_core::Watch),
}

pub(crate) enum CallOut {
    Test(TestOutcome),
    Value(Value),
    Signals(Vec<patchbay_core::Signal>),
    Data(patchbay_core::DataPayload),
    Watch(patchbay_core::Watch),
    Done,
}

impl Call<'_> {
    async fn run(
        &self,
        connector: &dyn Connector,
        ctx: &ConnectorContext,
    ) -> Result<CallOut, ConnectorError> {
        match self {
            Call::Test => connector.test_connection(ctx).await.map(CallOut::Test),
            Call::Action(action, input) => connector
                .run_action(ctx, action, input.clone())
                .await
                .map(CallOut::Value),
            Call::Signals => connector.signals(ctx).await.map(CallOut::Signals),
            Call::Data(endpoint) => connector.fetch_data(ctx, endpoint).await.map(CallOut::Data),
            Call::Watch(callback, previous) => connector
                .watch(ctx, callback, *previous)
                .await
                .map(CallOut::Watch),
            Call::Unwatch(watch) => connector.unwatch(ctx, watch).await.map(|_| CallOut::Done),
        }
    }
}
