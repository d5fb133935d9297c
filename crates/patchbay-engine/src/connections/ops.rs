//! Operations on existing connections: connector calls with token refresh, tests, principals,
//! drift checks and stats.

use super::{connection_event, Connections, OWNER_TYPE};
use super::{is_drift, DRIFT_PREFIX};
use crate::auth::{
    activity_row, hash_key, random_key_id, random_token, Caller, PRINCIPAL_KEY_PREFIX,
};
use crate::error::{EngineError, Result};
use crate::oauth::{is_oauth, Call, CallOut};
use crate::views::{GrantView, PrincipalView, RotatedPrincipal};
use crate::{Change, Context};
use patchbay_core::validation::scrub_secret_message;
use patchbay_core::{now_ms, ConnectorError, Health, Lifecycle, TestOutcome};
use patchbay_store::{ConnectionFilter, ConnectionRow};
use serde_json::{json, Value};

impl Connections {
    /// Calls the provider with the stored credentials and records the outcome.
    pub async fn test_connection(&self, caller: &Caller, id: &str) -> Result<TestOutcome> {
        forbid_integration(caller, "test connections")?;
        let row = self.ctx.load_connection(caller, id).await?;
        if row.lifecycle == Lifecycle::Revoked.as_str() {
            return Err(EngineError::Conflict("the connection is revoked".into()));
        }
        let connector = self.ctx.connector_for(&row)?;
        let mut ctx = match self
            .tokens
            .context_for(&row, is_oauth(connector.as_ref()))
            .await
        {
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
        let errors = self
            .ctx
            .validate_row(connector.as_ref(), &row, &ctx.secrets);
        if !errors.is_empty() {
            return Err(EngineError::Validation(errors));
        }
        let called = match self
            .tokens
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
        self.ctx
            .set_health(
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
        let row = self.ctx.load_connection(caller, id).await?;
        let p = self
            .ctx
            .store()
            .get_principal(&row.id)
            .await?
            .ok_or(EngineError::NotFound("principal"))?;
        let grants = self.ctx.store().list_grants(&p.id).await?;
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
        let row = self.ctx.load_connection(caller, id).await?;
        if row.lifecycle == Lifecycle::Revoked.as_str() {
            return Err(EngineError::Conflict("the connection is revoked".into()));
        }
        let p = self
            .ctx
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
        self.ctx
            .store()
            .rotate_principal(&p.id, &key_id, &hash_key(&key), now_ms(), &activity)
            .await?;
        // The old key stops working now, not when a cached resolution lapses.
        self.ctx.changed(Change::Keys);
        Ok(RotatedPrincipal {
            principal: self.get_principal(caller, id).await?,
            principal_key: key,
        })
    }

    /// Marks connections whose stored config no longer satisfies their connector's current
    /// spec as `degraded`, and clears the mark where it does again. Returns how many changed.
    pub async fn scan_config_drift(&self) -> Result<u64> {
        let mut changed = 0;
        let mut after = None;
        loop {
            let rows = self
                .ctx
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
                let Ok(connector) = self.ctx.connector_for(row) else {
                    continue;
                };
                let creds = self
                    .ctx
                    .store()
                    .list_credentials(OWNER_TYPE, &row.id)
                    .await?;
                let (secrets, mut errors) = self.ctx.open_secrets(&creds).await?;
                errors.extend(self.ctx.validate_row(connector.as_ref(), row, &secrets));
                if !errors.is_empty() && row.health == Health::Healthy.as_str() {
                    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                    let reason = format!("{DRIFT_PREFIX}: {}", fields.join(", "));
                    self.ctx
                        .set_health(
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
                    self.ctx
                        .set_health(&row.id, Health::Healthy, None, None, "system", None)
                        .await?;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Connection counts by lifecycle and health, plus failing connections, for operators.
    pub async fn stats(&self, caller: &Caller) -> Result<Value> {
        forbid_integration(caller, "read workspace stats")?;
        let counts = self
            .ctx
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

/// Connection health as every capability writes it.
impl Context {
    /// Writes health (and optional test time) with its activity; a change of health also gets
    /// a `connection.health_changed` event. No version check: concurrent tests never collide.
    pub(crate) async fn set_health(
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
}

fn forbid_integration(caller: &Caller, what: &str) -> Result<()> {
    match caller {
        Caller::Integration { .. } => Err(EngineError::Forbidden(format!(
            "integration keys cannot {what}"
        ))),
        _ => Ok(()),
    }
}
