//! Actions: authorize a caller for an action on a connection, check its input against the
//! action's schema once, run it through the connector (with a refresh and one retry on an
//! expired token), and record the run; `idempotency` makes retries safe.

mod idempotency;
mod slots;

pub use slots::SharedSlotsRequest;

pub use idempotency::ACTION_LEASE_MS;

use crate::auth::{activity_row, Caller};
use crate::connections::{connection_event, OWNER_TYPE};
use crate::error::{EngineError, Result};
use crate::oauth::{is_oauth, Call, CallOut, Tokens};
use crate::Context;
use patchbay_core::validation::{check_schema, scrub_secret_message};
use patchbay_core::{Capability, Connector, ConnectorError, Health, Lifecycle, SecretMap};
use patchbay_store::{ConnectionRow, ConnectionWrite};
use serde_json::{json, Value};
use std::sync::Arc;

/// The result of an action run.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ActionOutcome {
    pub action: String,
    #[schema(value_type = Object)]
    pub result: Value,
    /// The stored result of an earlier request with the same `Idempotency-Key`.
    pub replayed: bool,
}

/// Actions: write-back runs through a connector, validated and authorized once per call.
#[derive(Clone)]
pub struct Actions {
    ctx: Context,
    tokens: Tokens,
}

impl Actions {
    pub(crate) fn new(ctx: Context, tokens: Tokens) -> Self {
        Actions { ctx, tokens }
    }
}

/// A connection and its connector, for an action the caller may run with the input it sent.
pub(crate) struct Authorized {
    row: ConnectionRow,
    connector: Arc<dyn Connector>,
}

impl Actions {
    /// The connector and input schema of `action` on `row`, when `caller` may run it there
    /// now: the connector has the action, an integration principal is allowed it, and the
    /// connection is enabled.
    pub(crate) fn authorize_action(
        &self,
        caller: &Caller,
        row: &ConnectionRow,
        action: &str,
    ) -> Result<(Arc<dyn Connector>, Value)> {
        let connector = self.ctx.connector_for(row)?;
        let spec = connector.spec();
        let Some(action_spec) = spec
            .action(action)
            .filter(|_| spec.supports(Capability::Actions))
        else {
            return Err(EngineError::Unsupported(format!(
                "{} has no action '{action}'; known: {}",
                spec.key,
                spec.action_keys().join(", ")
            )));
        };
        let schema = action_spec.input_schema.clone();
        if let Caller::Integration { action_keys, .. } = caller {
            if !action_keys.iter().any(|k| k == action) {
                return Err(EngineError::Forbidden(format!(
                    "this principal may not run '{action}'"
                )));
            }
        }
        if row.lifecycle != Lifecycle::Enabled.as_str() {
            return Err(EngineError::Conflict(format!(
                "the connection is {}; actions need it enabled",
                row.lifecycle
            )));
        }
        Ok((connector, schema))
    }

    /// Loads the connection, authorizes the caller for `action` on it and checks `input`
    /// against the action's schema: the one place actions are checked, once per call.
    /// Connectors receive input that passed.
    pub(crate) async fn authorize_run(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        input: &Value,
    ) -> Result<Authorized> {
        let row = self.ctx.load_connection(caller, id).await?;
        let (connector, schema) = self.authorize_action(caller, &row, action)?;
        let errors = check_schema(&schema, input, "input");
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        Ok(Authorized { row, connector })
    }

    /// Runs a connector action on an enabled connection, as an allowed principal. Every run
    /// past authorization and input checks, failed or not, leaves an activity entry and an
    /// `action.completed` or `action.failed` event.
    pub async fn run_action(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        input: Value,
    ) -> Result<ActionOutcome> {
        let authorized = self.authorize_run(caller, id, action, &input).await?;
        self.run_authorized(caller, authorized, action, input).await
    }

    /// Runs an action that [`Actions::authorize_run`] passed.
    pub(crate) async fn run_authorized(
        &self,
        caller: &Caller,
        authorized: Authorized,
        action: &str,
        input: Value,
    ) -> Result<ActionOutcome> {
        let Authorized { row, connector } = authorized;
        let id = row.id.as_str();
        // A failure while getting or refreshing the token is a failed run too.
        let (called, secrets) = match self
            .tokens
            .context_for(&row, is_oauth(connector.as_ref()))
            .await
        {
            Ok(mut ctx) => {
                let called = self
                    .tokens
                    .call_connector(
                        connector.as_ref(),
                        &row,
                        &mut ctx,
                        &Call::Action(action, input),
                    )
                    .await;
                (called, ctx.secrets)
            }
            Err(e) => (Err(e), self.known_secrets(&row.id).await),
        };
        let result = match called {
            Ok(Ok(CallOut::Value(v))) => Ok(v),
            Ok(Ok(_)) => Ok(Value::Null),
            Ok(Err(e)) => Err(EngineError::Connector(e)),
            Err(e) => Err(e),
        };
        let actor = caller.actor();
        let (name, details) = match &result {
            Ok(_) => ("action.completed", json!({"action": action})),
            Err(e) => (
                "action.failed",
                json!({"action": action, "error": scrub_secret_message(&e.to_string(), &secrets)}),
            ),
        };
        let mut write = ConnectionWrite::default();
        write.activity.push(activity_row(
            Some(&row.workspace_id),
            Some(id),
            &actor,
            name,
            details.clone(),
        ));
        write.events.push(connection_event(&row, name, details));
        let recorded = self
            .ctx
            .store()
            .update_connection(&write, row.version)
            .await;
        let value = match result {
            Ok(value) => {
                // The provider has acted: answering an error now would invite a second run.
                if let Err(r) = recorded {
                    tracing::error!(connection = %id, action, error = %r, "could not record a completed action");
                }
                value
            }
            Err(e) => {
                // The run's own error says more than a failure to record it.
                if let Err(r) = recorded {
                    tracing::error!(connection = %id, action, error = %r, "could not record a failed action");
                }
                if let EngineError::Connector(ConnectorError::Unauthorized {
                    status: 401, ..
                }) = &e
                {
                    self.ctx
                        .set_health(
                            id,
                            Health::NeedsReconnect,
                            Some("the provider rejected the credentials".into()),
                            None,
                            &actor,
                            None,
                        )
                        .await?;
                }
                return Err(e);
            }
        };
        Ok(ActionOutcome {
            action: action.to_string(),
            result: value,
            replayed: false,
        })
    }

    /// The connection's secrets that open, for scrubbing messages; none when they cannot be
    /// read.
    async fn known_secrets(&self, id: &str) -> SecretMap {
        match self.ctx.store().list_credentials(OWNER_TYPE, id).await {
            Ok(creds) => self
                .ctx
                .open_secrets(&creds)
                .await
                .map(|(secrets, _)| secrets)
                .unwrap_or_default(),
            Err(_) => SecretMap::new(),
        }
    }
}
