//! `/ui`: the connector catalog for a workspace; the operator's home is in [`super::operator`].

use crate::ui::render;
use crate::ui::session::SignedIn;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use patchbay_core::{ConnectorSpec, EntitySpec};
use patchbay_engine::Caller;
use serde::Serialize;

/// One connector as the catalog shows it; enums become their API spelling.
struct ConnectorCard {
    key: String,
    name: String,
    description: String,
    category: String,
    auth: String,
    capabilities: Vec<&'static str>,
    entities: Vec<EntitySpec>,
    actions: Vec<(String, String)>,
    data_endpoints: Vec<DataRow>,
}

struct DataRow {
    key: String,
    description: String,
    shape: String,
    ttl_seconds: u32,
}

/// The API's spelling of a unit enum (`oauth2`, `api_key`, …).
fn spelled<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl From<&ConnectorSpec> for ConnectorCard {
    fn from(s: &ConnectorSpec) -> Self {
        ConnectorCard {
            key: s.key.clone(),
            name: s.name.clone(),
            description: s.description.clone(),
            category: s.category.clone(),
            auth: spelled(&s.auth),
            capabilities: s.capabilities.iter().map(|c| c.as_str()).collect(),
            entities: s.entities.clone(),
            actions: s
                .actions
                .iter()
                .map(|a| (a.key.clone(), a.description.clone()))
                .collect(),
            data_endpoints: s
                .data_endpoints
                .iter()
                .map(|d| DataRow {
                    key: d.key.clone(),
                    description: d.description.clone(),
                    shape: spelled(&d.shape),
                    ttl_seconds: d.ttl_seconds,
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    csrf: String,
    who: String,
    connectors: Vec<ConnectorCard>,
}

pub async fn show(State(state): State<AppState>, SignedIn(session): SignedIn) -> Response {
    match &session.caller {
        Caller::Admin => super::operator::home(&state, session).await,
        Caller::Workspace { workspace_id, .. } | Caller::Integration { workspace_id, .. } => {
            // The same list `GET /v1/connectors` serves.
            let connectors = state
                .engine
                .registry()
                .specs()
                .map(ConnectorCard::from)
                .collect();
            render(
                StatusCode::OK,
                &CatalogPage {
                    who: format!("Workspace {workspace_id}"),
                    csrf: session.csrf,
                    connectors,
                },
            )
        }
    }
}
