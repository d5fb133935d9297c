//! Editing a connection: name, configuration (from its schema, filled with what is stored),
//! new secret values (blank keeps the stored one; nothing stored is ever shown), sync
//! frequency; and deleting it after a confirmation page.

use super::{engine_error, forbidden, see_other, verified, who, Confirmed};
use crate::ui::render;
use crate::ui::schema_form::{self, Field};
use crate::ui::session::{Session, SignedIn};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use patchbay_core::{AuthKind, FieldError, Secret};
use patchbay_engine::connections::PatchConnection;
use patchbay_engine::views::ConnectionView;
use patchbay_engine::EngineError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "edit_connection.html")]
struct EditPage {
    csrf: String,
    who: String,
    c: ConnectionView,
    name: String,
    name_error: Option<String>,
    frequency_error: Option<String>,
    config: Vec<Field>,
    secrets: Vec<Field>,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "delete_connection.html")]
struct DeletePage {
    csrf: String,
    who: String,
    c: ConnectionView,
}

async fn load(state: &AppState, session: &Session, id: &str) -> Result<ConnectionView, Response> {
    state
        .engine
        .connections()
        .get_connection(&session.caller, id)
        .await
        .map_err(engine_error)
}

fn edit_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    c: ConnectionView,
    name: String,
    config: &Value,
    errors: &[FieldError],
) -> Response {
    let Ok(connector) = state.engine.registry().get(&c.connector) else {
        return super::failed(&"connector missing from the registry");
    };
    let spec = connector.spec();
    let config = schema_form::fields(&spec.config_schema, "config", config, errors, false);
    // OAuth credentials come from the provider, not from a form.
    let secrets = if spec.auth == AuthKind::Oauth2 {
        Vec::new()
    } else {
        schema_form::fields(&spec.secrets_schema, "secrets", &Value::Null, errors, true)
    };
    let rest: Vec<FieldError> = errors
        .iter()
        .filter(|e| e.field != "name" && e.field != "sync_frequency")
        .cloned()
        .collect();
    let pick = |f: &str| {
        errors
            .iter()
            .find(|e| e.field == f)
            .map(|e| e.message.clone())
    };
    render(
        status,
        &EditPage {
            csrf: session.csrf.clone(),
            who: who(&session.caller),
            name,
            name_error: pick("name"),
            frequency_error: pick("sync_frequency"),
            errors: schema_form::unplaced(&rest, &[&config, &secrets]),
            config,
            secrets,
            c,
        },
    )
}

pub async fn form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    match load(&state, &session, &id).await {
        Ok(c) => {
            let (name, config) = (c.name.clone(), c.config.clone());
            edit_page(&state, &session, StatusCode::OK, c, name, &config, &[])
        }
        Err(resp) => resp,
    }
}

pub async fn save(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
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
    let c = match load(&state, &session, &id).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let Ok(connector) = state.engine.registry().get(&c.connector) else {
        return super::failed(&"connector missing from the registry");
    };
    let spec = connector.spec().clone();
    let (config, mut errors) = schema_form::read(&spec.config_schema, "config", &posted);
    let (secrets, secret_errors) = schema_form::read(&spec.secrets_schema, "secrets", &posted);
    errors.extend(secret_errors);
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return edit_page(&state, &session, status, c, get("name"), &config, &errors);
    }
    // A merge patch: a field cleared in the form is removed from the stored config.
    let mut patch = config.as_object().cloned().unwrap_or_default();
    if let Some(stored) = c.config.as_object() {
        let known: Map<String, Value> = spec
            .config_schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for key in stored.keys().filter(|k| known.contains_key(*k)) {
            patch.entry(key.clone()).or_insert(Value::Null);
        }
    }
    let secrets: BTreeMap<String, Option<Secret>> = match secrets {
        Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, Some(Secret::new(s)))))
            .collect(),
        _ => BTreeMap::new(),
    };
    let req = PatchConnection {
        name: Some(get("name")).filter(|n| !n.is_empty() && *n != c.name),
        config: Some(Value::Object(patch)),
        secrets: Some(secrets).filter(|s| !s.is_empty()),
        lifecycle: None,
        sync_frequency: Some(get("sync_frequency")).filter(|f| !f.is_empty()),
    };
    match state
        .engine
        .connections()
        .patch_connection(&session.caller, &id, req)
        .await
    {
        Ok(_) => see_other(&format!("/ui/connections/{id}")),
        Err(EngineError::Validation(errors)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            edit_page(&state, &session, status, c, get("name"), &config, &errors)
        }
        Err(e) => engine_error(e),
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    match load(&state, &session, &id).await {
        Ok(c) => render(
            StatusCode::OK,
            &DeletePage {
                csrf: session.csrf.clone(),
                who: who(&session.caller),
                c,
            },
        ),
        Err(resp) => resp,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Confirmed(session): Confirmed,
) -> Response {
    match state
        .engine
        .connections()
        .delete_connection(&session.caller, &id)
        .await
    {
        Ok(()) => see_other("/ui/connections"),
        Err(e) => engine_error(e),
    }
}
