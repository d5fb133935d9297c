//! Operations on existing connections: tests, principals, actions, drift checks, activity.

use super::write::{is_drift, DRIFT_PREFIX};
use super::{connection_event, OWNER_TYPE};
use crate::auth::{
    activity_row, hash_key, random_key_id, random_token, Caller, PRINCIPAL_KEY_PREFIX,
};
use crate::error::{EngineError, Result};
use crate::views::{ActivityView, EventView, GrantView, Page, PrincipalView, RotatedPrincipal};
use crate::Engine;
use patchbay_core::validation::{check_schema, scrub_secret_message};
use patchbay_core::{
    now_ms, AuthKind, Capability, Connector, ConnectorContext, ConnectorError, Health, Lifecycle,
    SecretMap, TestOutcome,
};
use patchbay_store::{
    ActivityFilter, ActivityStore, ConnectionFilter, ConnectionRow, ConnectionStore,
    ConnectionWrite, EventStore,
};
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

impl Engine {
    /// The connector's view of a connection; OAuth connections get a valid access token from
    /// the token manager.
    pub(crate) async fn context_for(
        &self,
        row: &ConnectionRow,
        oauth: bool,
    ) -> Result<ConnectorContext> {
        let creds = self.store().list_credentials(OWNER_TYPE, &row.id).await?;
        let (mut secrets, errors) = self.open_secrets(&creds).await?;
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
    /// [`Engine::call_connector`]).
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
    async fn call_connector(
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

    /// Writes health (and optional test time) with its activity; a change of health also gets
    /// a `connection.health_changed` event. No version check: concurrent tests never collide.
    async fn set_health(
        &self,
        id: &str,
        health: Health,
        reason: Option<String>,
        tested_at: Option<i64>,
        actor: &str,
        activity: Option<(&str, Value)>,
    ) -> Result<()> {
        let on_write = |row: &ConnectionRow| {
            let mut acts = Vec::new();
            let mut events = Vec::new();
            if let Some((action, details)) = &activity {
                acts.push(activity_row(
                    Some(&row.workspace_id),
                    Some(id),
                    actor,
                    action,
                    details.clone(),
                ));
            }
            if row.health != health.as_str() {
                let mut new = row.clone();
                new.health = health.as_str().into();
                new.health_reason = reason.clone();
                acts.push(activity_row(
                    Some(&row.workspace_id),
                    Some(id),
                    actor,
                    "connection.health_changed",
                    json!({"from": row.health, "to": new.health, "reason": reason}),
                ));
                events.push(connection_event(
                    &new,
                    "connection.health_changed",
                    json!({"from": row.health, "reason": reason}),
                ));
            }
            (acts, events)
        };
        self.store()
            .update_health(id, health.as_str(), reason.as_deref(), tested_at, &on_write)
            .await?;
        Ok(())
    }

    /// Calls the provider with the stored credentials and records the outcome.
    pub async fn test_connection(&self, caller: &Caller, id: &str) -> Result<TestOutcome> {
        forbid_integration(caller, "test connections")?;
        let row = self.load_connection(caller, id).await?;
        if row.lifecycle == Lifecycle::Revoked.as_str() {
            return Err(EngineError::Conflict("the connection is revoked".into()));
        }
        let connector = self.connector_for(&row)?;
        let mut ctx = match self.context_for(&row, is_oauth(connector.as_ref())).await {
            Ok(ctx) => ctx,
            // The grant is dead or the provider is down: that is the test's answer.
            Err(e @ (EngineError::NeedsReconnect(_) | EngineError::ProviderUnavailable(_))) => {
                let outcome = TestOutcome {
                    ok: false,
                    message: e.to_string(),
                    account: None,
                };
                self.record_test(
                    id,
                    &caller.actor(),
                    &outcome,
                    matches!(e, EngineError::NeedsReconnect(_)),
                )
                .await?;
                return Ok(outcome);
            }
            Err(e) => return Err(e),
        };
        let errors = self.validate_row(connector.as_ref(), &row, &ctx.secrets);
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let called = match self
            .call_connector(connector.as_ref(), &row, &mut ctx, &Call::Test)
            .await
        {
            Ok(r) => r.map(|out| match out {
                CallOut::Test(t) => t,
                _ => TestOutcome {
                    ok: false,
                    message: "unexpected answer".into(),
                    account: None,
                },
            }),
            Err(e @ EngineError::NeedsReconnect(_)) => Err(ConnectorError::Unauthorized {
                status: 401,
                message: e.to_string(),
            }),
            Err(e) => return Err(e),
        };
        let (outcome, health) = match called {
            Ok(o) if o.ok => (o, Health::Healthy),
            Ok(o) => (o, Health::Failing),
            Err(e) => {
                let health = match e {
                    ConnectorError::Unauthorized { .. } => Health::NeedsReconnect,
                    _ => Health::Failing,
                };
                let message = scrub_secret_message(&e.to_string(), &ctx.secrets);
                (
                    TestOutcome {
                        ok: false,
                        message,
                        account: None,
                    },
                    health,
                )
            }
        };
        self.record_test(
            id,
            &caller.actor(),
            &outcome,
            health == Health::NeedsReconnect,
        )
        .await?;
        Ok(outcome)
    }

    async fn record_test(
        &self,
        id: &str,
        actor: &str,
        outcome: &TestOutcome,
        needs_reconnect: bool,
    ) -> Result<()> {
        let health = match (outcome.ok, needs_reconnect) {
            (true, _) => Health::Healthy,
            (false, true) => Health::NeedsReconnect,
            (false, false) => Health::Failing,
        };
        let reason = (!outcome.ok).then(|| outcome.message.clone());
        let details =
            json!({"ok": outcome.ok, "message": outcome.message, "account": outcome.account});
        self.set_health(
            id,
            health,
            reason,
            Some(now_ms()),
            actor,
            Some(("connection.tested", details)),
        )
        .await
    }

    pub async fn get_principal(&self, caller: &Caller, id: &str) -> Result<PrincipalView> {
        let row = self.load_connection(caller, id).await?;
        let p = self
            .store()
            .get_principal(&row.id)
            .await?
            .ok_or(EngineError::NotFound("principal"))?;
        let grants = self.store().list_grants(&p.id).await?;
        Ok(PrincipalView::new(
            p,
            grants
                .into_iter()
                .map(|g| GrantView {
                    permission: g.permission,
                    resource: g.resource,
                })
                .collect(),
        ))
    }

    /// Issues a new key id and key; the previous key stops working at once.
    pub async fn rotate_principal(&self, caller: &Caller, id: &str) -> Result<RotatedPrincipal> {
        forbid_integration(caller, "rotate principals")?;
        let row = self.load_connection(caller, id).await?;
        if row.lifecycle == Lifecycle::Revoked.as_str() {
            return Err(EngineError::Conflict("the connection is revoked".into()));
        }
        let p = self
            .store()
            .get_principal(&row.id)
            .await?
            .ok_or(EngineError::NotFound("principal"))?;
        let key = format!("{PRINCIPAL_KEY_PREFIX}{}", random_token());
        let key_id = random_key_id();
        let activity = activity_row(
            Some(&row.workspace_id),
            Some(id),
            &caller.actor(),
            "principal.rotated",
            json!({"subject": p.subject, "old_key_id": p.key_id, "new_key_id": key_id}),
        );
        self.store()
            .rotate_principal(&p.id, &key_id, &hash_key(&key), now_ms(), &activity)
            .await?;
        // The old key stops working now, not when a cached resolution lapses.
        self.inner.auth_cache.clear();
        Ok(RotatedPrincipal {
            principal: self.get_principal(caller, id).await?,
            principal_key: key,
        })
    }

    /// The connector and input schema of `action` on `row`, when `caller` may run it there
    /// now: the connector has the action, an integration principal is allowed it, and the
    /// connection is enabled.
    pub(crate) fn authorize_action(
        &self,
        caller: &Caller,
        row: &ConnectionRow,
        action: &str,
    ) -> Result<(Arc<dyn Connector>, Value)> {
        let connector = self.connector_for(row)?;
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
        let row = self.load_connection(caller, id).await?;
        let (connector, schema) = self.authorize_action(caller, &row, action)?;
        let errors = check_schema(&schema, &input, "input");
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        // A failure while getting or refreshing the token is a failed run too.
        let (called, secrets) = match self.context_for(&row, is_oauth(connector.as_ref())).await {
            Ok(mut ctx) => {
                let called = self
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
        let recorded = self.store().update_connection(&write, row.version).await;
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
                    self.set_health(
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
        match self.store().list_credentials(OWNER_TYPE, id).await {
            Ok(creds) => self
                .open_secrets(&creds)
                .await
                .map(|(secrets, _)| secrets)
                .unwrap_or_default(),
            Err(_) => SecretMap::new(),
        }
    }

    /// Marks connections whose stored config no longer satisfies their connector's current
    /// spec as `degraded`, and clears the mark where it does again. Returns how many changed.
    pub async fn scan_config_drift(&self) -> Result<u64> {
        let mut changed = 0;
        let mut after = None;
        loop {
            let rows = self
                .store()
                .list_connections(&ConnectionFilter {
                    after: after.clone(),
                    limit: 200,
                    ..Default::default()
                })
                .await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.id.clone());
            for row in rows
                .iter()
                .filter(|r| r.lifecycle != Lifecycle::Revoked.as_str())
            {
                let Ok(connector) = self.connector_for(row) else {
                    continue;
                };
                let creds = self.store().list_credentials(OWNER_TYPE, &row.id).await?;
                let (secrets, mut errors) = self.open_secrets(&creds).await?;
                errors.extend(self.validate_row(connector.as_ref(), row, &secrets));
                if !errors.is_empty() && row.health == Health::Healthy.as_str() {
                    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                    let reason = format!("{DRIFT_PREFIX}: {}", fields.join(", "));
                    self.set_health(
                        &row.id,
                        Health::Degraded,
                        Some(reason),
                        None,
                        "system",
                        None,
                    )
                    .await?;
                    changed += 1;
                } else if errors.is_empty()
                    && row.health == Health::Degraded.as_str()
                    && is_drift(&row.health_reason)
                {
                    self.set_health(&row.id, Health::Healthy, None, None, "system", None)
                        .await?;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    pub async fn list_activity(
        &self,
        caller: &Caller,
        connection_id: Option<&str>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<ActivityView>> {
        let connection_id = match (caller, connection_id) {
            (
                Caller::Integration {
                    connection_id: own, ..
                },
                None,
            ) => Some(own.as_str()),
            (_, c) => c,
        };
        if let Some(c) = connection_id {
            self.load_connection(caller, c).await?;
        }
        let limit = crate::page_limit(limit);
        let rows = self
            .store()
            .list_activity(&ActivityFilter {
                workspace_id: caller.workspace_id().map(str::to_string),
                connection_id: connection_id.map(str::to_string),
                before: cursor.map(str::to_string),
                limit: limit + 1,
            })
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(ActivityView::from).collect(),
            limit,
            |a| a.id.clone(),
        ))
    }

    pub async fn list_events(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<EventView>> {
        let Caller::Workspace { workspace_id, .. } = caller else {
            return Err(EngineError::Forbidden(
                "events are read with a workspace secret key".into(),
            ));
        };
        let limit = crate::page_limit(limit);
        let rows = self
            .store()
            .list_events(workspace_id, cursor, limit + 1)
            .await?;
        Ok(Page::from_overfetch(
            rows.into_iter().map(EventView::from).collect(),
            limit,
            |e| e.id.clone(),
        ))
    }

    /// Connection counts by lifecycle and health, plus failing connections, for operators.
    pub async fn stats(&self, caller: &Caller) -> Result<Value> {
        forbid_integration(caller, "read workspace stats")?;
        let counts = self
            .store()
            .connection_counts(caller.workspace_id())
            .await?;
        let mut by_lifecycle = serde_json::Map::new();
        let mut by_health = serde_json::Map::new();
        let mut total = 0;
        for (lifecycle, health, n) in counts {
            total += n;
            let l = by_lifecycle
                .get(&lifecycle)
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + n;
            by_lifecycle.insert(lifecycle, json!(l));
            let h = by_health.get(&health).and_then(Value::as_i64).unwrap_or(0) + n;
            by_health.insert(health, json!(h));
        }
        let failing = ["failing", "needs_reconnect", "degraded"]
            .iter()
            .filter_map(|h| by_health.get(*h).and_then(Value::as_i64))
            .sum::<i64>();
        Ok(
            json!({"connections": total, "by_lifecycle": by_lifecycle, "by_health": by_health, "failing_connections": failing}),
        )
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
}

pub(crate) enum CallOut {
    Test(TestOutcome),
    Value(Value),
    Signals(Vec<patchbay_core::Signal>),
    Data(patchbay_core::DataPayload),
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
        }
    }
}

fn forbid_integration(caller: &Caller, what: &str) -> Result<()> {
    match caller {
        Caller::Integration { .. } => Err(EngineError::Forbidden(format!(
            "integration keys cannot {what}"
        ))),
        _ => Ok(()),
    }
}
