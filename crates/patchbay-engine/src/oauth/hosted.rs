//! The hosted connect page's side of a connect session: what the page offers the user, and
//! connecting a non-OAuth connector with the credentials typed into its form. The provider
//! checks the credentials before anything is stored; a refused key leaves no connection and
//! the session still open, an accepted one uses the session up.

use super::connect::{allowed, config_for, with_query};
use super::OAuth;
use crate::connections::{CreateConnection, OwnerInput};
use crate::error::{EngineError, Result};
use patchbay_core::{now_ms, AuthKind, FieldError, SecretMap};
use serde_json::{json, Map, Value};

/// What the connect page shows for a live session.
#[derive(Debug)]
pub struct HostedSession {
    /// Where "Cancel" goes: the return URL with `error=access_denied`.
    pub cancel_url: String,
    pub choices: Vec<HostedChoice>,
}

/// One connector the session offers.
#[derive(Debug)]
pub struct HostedChoice {
    pub key: String,
    pub name: String,
    pub description: String,
    /// Connected through the provider's consent page; otherwise through a form.
    pub oauth: bool,
    /// What the form asks for: the connector's secrets …
    pub secrets_schema: Value,
    /// … and the required config fields the session leaves out.
    pub config_schema: Value,
}

/// An object schema of the fields `schema` requires that `config` lacks.
fn open_config(schema: &Value, config: &Value) -> Value {
    let declared = schema.get("properties");
    let missing: Map<String, Value> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|k| config.get(*k).is_none())
        .filter_map(|k| Some((k.to_string(), declared?.get(k)?.clone())))
        .collect();
    let required: Vec<&String> = missing.keys().collect();
    json!({"type": "object", "required": required, "properties": missing})
}

impl OAuth {
    /// The connectors a live session offers, in the order the application listed them.
    pub async fn hosted_session(&self, token: &str) -> Result<HostedSession> {
        let session = self.live_session(token).await?;
        let mut choices = Vec::new();
        for key in allowed(&session) {
            let connector = self.ctx.registry().get(&key)?;
            let spec = connector.spec();
            choices.push(HostedChoice {
                key: spec.key.clone(),
                name: spec.name.clone(),
                description: spec.description.clone(),
                oauth: spec.auth == AuthKind::Oauth2,
                secrets_schema: spec.secrets_schema.clone(),
                config_schema: open_config(&spec.config_schema, &config_for(&session, spec)),
            });
        }
        Ok(HostedSession {
            cancel_url: with_query(&session.return_url, &[("error", "access_denied")]),
            choices,
        })
    }

    /// Connects `connector` for the session's owner with the form's credentials: validated,
    /// checked with the provider, then stored enabled, and the session used up. Answers where
    /// to send the browser: the return URL with `connection_id`. `config` only fills the
    /// required fields the session left out.
    pub async fn connect_with_credentials(
        &self,
        token: &str,
        connector: &str,
        config: Value,
        secrets: SecretMap,
    ) -> Result<String> {
        let session = self.live_session(token).await?;
        let connector = self.chosen(&session, Some(connector))?;
        let spec = connector.spec();
        if spec.auth == AuthKind::Oauth2 {
            return Err(EngineError::Validation(vec![FieldError::new(
                "connector",
                "oauth",
                format!("{} connects through its provider's consent page", spec.key),
            )]));
        }
        let mut merged = config_for(&session, spec);
        let open = open_config(&spec.config_schema, &merged);
        if let (Some(into), Some(open), Some(given)) = (
            merged.as_object_mut(),
            open["properties"].as_object(),
            config.as_object(),
        ) {
            for key in open.keys() {
                if let Some(v) = given.get(key) {
                    into.insert(key.clone(), v.clone());
                }
            }
        }
        let scope: Value = serde_json::from_str(&session.owner_scope)
            .unwrap_or_else(|_| json!({"type": "platform"}));
        let req = CreateConnection {
            connector: spec.key.clone(),
            owner: OwnerInput {
                id: session.owner_id.clone(),
                scope,
            },
            name: None,
            config: merged,
            secrets,
            enable: true,
            allowed_actions: None,
            sync_frequency: None,
        };
        // Validation and the provider's check come first: a refused key stores nothing.
        let new = self
            .connections
            .prepare_connection(
                connector.as_ref(),
                session.workspace_id.clone(),
                format!("connect_session:{}", session.id),
                &req,
            )
            .await?;
        let claimed_at = now_ms();
        if !self
            .ctx
            .store()
            .claim_connect_session(&session.id, claimed_at)
            .await?
        {
            return Err(EngineError::Expired(
                "the connect session was already used or has expired; start again from the application"
                    .into(),
            ));
        }
        match self.connections.insert_new_connection(new).await {
            // The principal key is the application's business, not the user's: it is not
            // passed on (the application rotates it to get one).
            Ok(created) => Ok(with_query(
                &session.return_url,
                &[("connection_id", &created.connection.id)],
            )),
            Err(e) => {
                self.ctx
                    .store()
                    .release_connect_session(&session.id, claimed_at)
                    .await?;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_asks_only_for_required_config_left_out() {
        let schema = json!({
            "required": ["shop_id", "api_base_url"],
            "properties": {
                "shop_id": {"type": "string"},
                "api_base_url": {"type": "string"},
                "paper": {"type": "string"}
            }
        });
        let open = open_config(&schema, &json!({"api_base_url": "https://x.example"}));
        assert_eq!(open["required"], json!(["shop_id"]));
        assert_eq!(
            open["properties"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["shop_id"]
        );
    }
}
