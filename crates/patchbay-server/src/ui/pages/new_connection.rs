//! `/ui/connections/new`: a connection created from a form generated from the connector's config
//! and secrets schemas. Connectors with credentials are created at once (the integration
//! principal key is shown on the answer, once); OAuth connectors go through a connect session
//! and the provider, and come back to `/ui/connections/connected`.

use super::{engine_error, forbidden, verified, who};
use crate::ui::render;
use crate::ui::schema_form::{self, Field};
use crate::ui::session::{Session, SignedIn};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use patchbay_core::{AuthKind, ConnectorSpec, FieldError, Secret};
use patchbay_engine::connections::{CreateConnection, OwnerInput};
use patchbay_engine::oauth::connect::CreateConnectSession;
use patchbay_engine::EngineError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "new_connection.html")]
struct NewConnectionPage {
    csrf: String,
    who: String,
    /// Every connector, for picking one; the form shows when one is picked.
    connectors: Vec<(String, String)>,
    spec: Option<ConnectorSpec>,
    oauth: bool,
    name: String,
    owner: String,
    sync_frequency: String,
    enable: bool,
    name_error: Option<String>,
    owner_error: Option<String>,
    frequency_error: Option<String>,
    config: Vec<Field>,
    secrets: Vec<Field>,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "created.html")]
struct CreatedPage {
    csrf: String,
    who: String,
    id: String,
    name: String,
    lifecycle: String,
    principal_key: String,
}

#[derive(Template)]
#[template(path = "continue.html")]
struct ContinuePage {
    csrf: String,
    who: String,
    provider: String,
    authorize_url: String,
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    connector: String,
}

fn error_at(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .filter(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
        .map(|e| e.message.clone())
        .reduce(|a, b| format!("{a}; {b}"))
}

fn form_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    spec: Option<ConnectorSpec>,
    posted: &[(String, String)],
    config: &Value,
    errors: &[FieldError],
) -> Response {
    let get = |n: &str| {
        posted
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (config_fields, secret_fields, oauth) = match &spec {
        Some(s) => {
            let oauth = s.auth == AuthKind::Oauth2;
            let secrets = if oauth {
                Vec::new()
            } else {
                schema_form::fields(&s.secrets_schema, "secrets", &json!({}), errors, true)
            };
            (
                schema_form::fields(&s.config_schema, "config", config, errors, false),
                secrets,
                oauth,
            )
        }
        None => (Vec::new(), Vec::new(), false),
    };
    let placed = ["name", "owner", "sync_frequency"];
    let rest: Vec<FieldError> = errors
        .iter()
        .filter(|e| {
            !placed
                .iter()
                .any(|p| e.field == *p || e.field.starts_with(&format!("{p}.")))
        })
        .cloned()
        .collect();
    let unplaced = schema_form::unplaced(&rest, &[&config_fields, &secret_fields]);
    render(
        status,
        &NewConnectionPage {
            csrf: session.csrf.clone(),
            who: who(&session.caller),
            connectors: state
                .engine
                .registry()
                .specs()
                .map(|s| (s.key.clone(), s.name.clone()))
                .collect(),
            oauth,
            name: get("name"),
            owner: get("owner"),
            sync_frequency: get("sync_frequency"),
            enable: posted.is_empty() || get("enable") == "true",
            name_error: error_at(errors, "name"),
            owner_error: error_at(errors, "owner"),
            frequency_error: error_at(errors, "sync_frequency"),
            config: config_fields,
            secrets: secret_fields,
            errors: unplaced,
            spec,
        },
    )
}

pub async fn form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    query: Result<Query<NewQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let spec = if q.connector.is_empty() {
        None
    } else {
        match state.engine.registry().get(&q.connector) {
            Ok(c) => Some(c.spec().clone()),
            Err(e) => return engine_error(EngineError::UnknownConnector(e)),
        }
    };
    form_page(&state, &session, StatusCode::OK, spec, &[], &json!({}), &[])
}

pub async fn create(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(posted)) = form else {
        return forbidden();
    };
    let get = |n: &str| {
        posted
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    if !verified(&session, &get("csrf")) {
        return forbidden();
    }
    let spec = match state.engine.registry().get(&get("connector")) {
        Ok(c) => c.spec().clone(),
        Err(e) => return engine_error(EngineError::UnknownConnector(e)),
    };
    let (config, mut errors) = schema_form::read(&spec.config_schema, "config", &posted);
    let (secrets, secret_errors) = schema_form::read(&spec.secrets_schema, "secrets", &posted);
    errors.extend(secret_errors);
    let owner = OwnerInput {
        id: get("owner"),
        scope: json!({"type": "platform"}),
    };
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return form_page(
            &state,
            &session,
            status,
            Some(spec),
            &posted,
            &config,
            &errors,
        );
    }
    if spec.auth == AuthKind::Oauth2 {
        let req = CreateConnectSession {
            connector: Some(spec.key.clone()),
            connectors: None,
            owner,
            return_url: format!("{}/ui/connections/connected", state.engine.public_url()),
            scopes: None,
            user_scopes: None,
            config: config.clone(),
        };
        return match state
            .engine
            .oauth()
            .create_connect_session(&session.caller, req)
            .await
        {
            // A page with a link, not a redirect: the CSP's `form-action 'self'` would stop a
            // form's redirect chain at the provider's origin.
            Ok(view) => render(
                StatusCode::OK,
                &ContinuePage {
                    csrf: session.csrf.clone(),
                    who: who(&session.caller),
                    provider: spec.name.clone(),
                    // One OAuth connector always has its authorize URL; the hosted page is
                    // the way through otherwise.
                    authorize_url: view.authorize_url.unwrap_or(view.connect_url),
                },
            ),
            Err(EngineError::Validation(errors)) => {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                form_page(
                    &state,
                    &session,
                    status,
                    Some(spec),
                    &posted,
                    &config,
                    &errors,
                )
            }
            Err(e) => engine_error(e),
        };
    }
    let secrets: BTreeMap<String, Secret> = match secrets {
        Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, Secret::new(s))))
            .collect(),
        _ => BTreeMap::new(),
    };
    let req = CreateConnection {
        connector: spec.key.clone(),
        owner,
        name: Some(get("name")).filter(|n| !n.is_empty()),
        config: config.clone(),
        secrets,
        enable: get("enable") == "true",
        allowed_actions: None,
        sync_frequency: Some(get("sync_frequency")).filter(|f| !f.is_empty()),
    };
    match state
        .engine
        .connections()
        .create_connection(&session.caller, req)
        .await
    {
        Ok(created) => render(
            StatusCode::CREATED,
            &CreatedPage {
                csrf: session.csrf.clone(),
                who: who(&session.caller),
                id: created.connection.id,
                name: created.connection.name,
                lifecycle: created.connection.lifecycle.as_str().to_string(),
                principal_key: created.principal_key,
            },
        ),
        Err(EngineError::Validation(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            form_page(
                &state,
                &session,
                status,
                Some(spec),
                &posted,
                &config,
                &errors,
            )
        }
        Err(e) => engine_error(e),
    }
}

#[derive(Deserialize, Default)]
pub struct ConnectedQuery {
    #[serde(default)]
    connection_id: String,
    #[serde(default)]
    error: String,
}

/// Where the OAuth flow returns: on to the new connection, or a page naming the failure.
pub async fn connected(
    SignedIn(_session): SignedIn,
    query: Result<Query<ConnectedQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    if !q.connection_id.is_empty() && q.error.is_empty() {
        let id = super::connections::encode(&q.connection_id);
        return super::see_other(&format!("/ui/connections/{id}"));
    }
    let reason = match q.error.as_str() {
        "access_denied" => "The account's owner declined access at the provider.",
        "state_expired" => "The sign-in at the provider took too long. Start again.",
        "connection_conflict" => "This account is already connected for this owner.",
        "" => "The provider sent the browser back without a connection.",
        _ => "The provider or patchbay could not complete the connection. Start again.",
    };
    super::message(StatusCode::BAD_REQUEST, "Not connected", reason)
}
