//! Running a connection's action from a form generated from the action's input schema. Each
//! rendered form carries a fresh idempotency key, so a double submit runs the action once and
//! shows the first result again.

use super::{engine_error, forbidden, pretty, verified, who};
use crate::ui::schema_form::{self, Field};
use crate::ui::session::{Session, SignedIn};
use crate::ui::{csrf, render};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use patchbay_core::{ActionSpec, ConnectorError, FieldError};
use patchbay_engine::EngineError;
use serde_json::{json, Value};

#[derive(Template)]
#[template(path = "action.html")]
struct ActionPage {
    csrf: String,
    who: String,
    id: String,
    connection_name: String,
    action: ActionSpec,
    fields: Vec<Field>,
    errors: Vec<String>,
    idempotency_key: String,
    result: Option<String>,
    replayed: bool,
}

/// Loads the connection's action spec, or the page that says why not.
async fn spec(
    state: &AppState,
    session: &Session,
    id: &str,
    key: &str,
) -> Result<(String, ActionSpec), Response> {
    let c = state
        .engine
        .connections()
        .get_connection(&session.caller, id)
        .await
        .map_err(engine_error)?;
    let connector = state
        .engine
        .registry()
        .get(&c.connector)
        .map_err(|e| engine_error(EngineError::UnknownConnector(e)))?;
    match connector.spec().action(key) {
        Some(a) => Ok((c.name, a.clone())),
        None => Err(super::message(
            StatusCode::NOT_FOUND,
            "Not found",
            "This connector has no such action.",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn page(
    status: StatusCode,
    session: &Session,
    id: String,
    connection_name: String,
    action: ActionSpec,
    values: &Value,
    errors: &[FieldError],
    result: Option<(String, bool)>,
) -> Response {
    let fields = schema_form::fields(&action.input_schema, "input", values, errors, false);
    let unplaced = schema_form::unplaced(errors, &[&fields]);
    let (result, replayed) = match result {
        Some((r, replayed)) => (Some(r), replayed),
        None => (None, false),
    };
    render(
        status,
        &ActionPage {
            csrf: session.csrf.clone(),
            who: who(&session.caller),
            id,
            connection_name,
            action,
            fields,
            errors: unplaced,
            idempotency_key: csrf::new_token(),
            result,
            replayed,
        },
    )
}

pub async fn form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    match spec(&state, &session, &id, &key).await {
        Ok((name, action)) => page(
            StatusCode::OK,
            &session,
            id,
            name,
            action,
            &json!({}),
            &[],
            None,
        ),
        Err(resp) => resp,
    }
}

/// Errors a connector reports name the input's fields bare; the form's are under `input.`.
fn under_input(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            if e.field != "input"
                && !e.field.starts_with("input.")
                && !e.field.starts_with("input[")
            {
                e.field = format!("input.{}", e.field);
            }
            e
        })
        .collect()
}

pub async fn run(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, key)): Path<(String, String)>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(pairs)) = form else {
        return forbidden();
    };
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if !verified(&session, get("csrf")) {
        return forbidden();
    }
    let (name, action) = match spec(&state, &session, &id, &key).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let (input, errors) = schema_form::read(&action.input_schema, "input", &pairs);
    if !errors.is_empty() {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &session,
            id,
            name,
            action,
            &input,
            &errors,
            None,
        );
    }
    let idempotency = Some(get("idempotency_key")).filter(|k| csrf::well_formed(k));
    match state
        .engine
        .actions()
        .run_action_idempotent(&session.caller, &id, &key, input.clone(), idempotency)
        .await
    {
        Ok(outcome) => page(
            StatusCode::OK,
            &session,
            id,
            name,
            action,
            &input,
            &[],
            Some((pretty(&outcome.result), outcome.replayed)),
        ),
        Err(EngineError::Validation(errors))
        | Err(EngineError::Connector(ConnectorError::InvalidInput(errors))) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &session,
            id,
            name,
            action,
            &input,
            &under_input(errors),
            None,
        ),
        Err(e) => engine_error(e),
    }
}
