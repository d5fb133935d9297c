//! The operator's home at `/ui`: connection counts across workspaces (what
//! `GET /v1/admin/stats` serves), each linking to the filtered connections list; the
//! workspaces; and the form that creates one, whose answer shows the new key this once.

use super::outcome::{self, FieldErrors};
use crate::ui::render;
use crate::ui::session::{Session, SignedIn};
use crate::ui::{csrf, pages::forbidden};
use crate::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use patchbay_core::{Health, Lifecycle};
use patchbay_engine::views::WorkspaceView;
use patchbay_engine::{Caller, EngineError};
use serde::Deserialize;
use serde_json::Value;

/// One count and the list it stands for.
struct Count {
    label: &'static str,
    n: i64,
    href: String,
}

struct Counts {
    total: i64,
    failing: i64,
    /// The health values that count as failing, with theirs.
    failing_parts: Vec<Count>,
    lifecycles: Vec<Count>,
    healths: Vec<Count>,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    csrf: String,
    who: String,
    counts: Counts,
    workspaces: Vec<WorkspaceView>,
    more: bool,
    /// What the create form was sent with, when it comes back with errors.
    name: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "workspace_created.html")]
struct CreatedPage {
    csrf: String,
    who: String,
    id: String,
    name: String,
    secret_key: String,
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    csrf: String,
}

/// How many workspaces the page lists (the API's largest page).
const WORKSPACES_SHOWN: i64 = 500;

/// Reads the engine's stats answer; every lifecycle and health is listed, 0 when absent.
fn counts(stats: &Value) -> Counts {
    let n = |group: &str, key: &str| stats[group][key].as_i64().unwrap_or(0);
    let healths: Vec<Count> = Health::ALL
        .iter()
        .map(|h| Count {
            label: h.as_str(),
            n: n("by_health", h.as_str()),
            href: format!("/ui/connections?health={}", h.as_str()),
        })
        .collect();
    Counts {
        total: stats["connections"].as_i64().unwrap_or(0),
        failing: stats["failing_connections"].as_i64().unwrap_or(0),
        failing_parts: healths
            .iter()
            .filter(|c| c.label != Health::Healthy.as_str())
            .map(|c| Count {
                label: c.label,
                n: c.n,
                href: c.href.clone(),
            })
            .collect(),
        lifecycles: Lifecycle::ALL
            .iter()
            .map(|l| Count {
                label: l.as_str(),
                n: n("by_lifecycle", l.as_str()),
                href: format!("/ui/connections?lifecycle={}", l.as_str()),
            })
            .collect(),
        healths,
    }
}

/// The home page, with the create form as sent and its errors when it comes back.
async fn home_with(
    state: &AppState,
    session: Session,
    status: StatusCode,
    name: String,
    errors: FieldErrors,
) -> Response {
    let stats = match state.engine.connections().stats(&Caller::Admin).await {
        Ok(s) => s,
        Err(e) => return outcome::refused(&e),
    };
    let page = match state
        .engine
        .workspaces()
        .list_workspaces(None, WORKSPACES_SHOWN)
        .await
    {
        Ok(page) => page,
        Err(e) => return outcome::refused(&e),
    };
    render(
        status,
        &OperatorPage {
            csrf: session.csrf,
            who: "Operator".into(),
            counts: counts(&stats),
            more: page.next_cursor.is_some(),
            workspaces: page.data,
            name,
            errors,
        },
    )
}

/// `/ui` for the operator.
pub async fn home(state: &AppState, session: Session) -> Response {
    home_with(
        state,
        session,
        StatusCode::OK,
        String::new(),
        FieldErrors::default(),
    )
    .await
}

/// `POST /ui/workspaces`: the same call as `POST /v1/admin/workspaces`. The key is rendered
/// on this answer only; it is in no URL and on no other page.
pub async fn create(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    form: Result<Form<CreateForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return forbidden();
    };
    if !csrf::matches(&session.csrf, &form.csrf) {
        return forbidden();
    }
    if !matches!(session.caller, Caller::Admin) {
        return outcome::operator_only();
    }
    match state
        .engine
        .workspaces()
        .create_workspace(&form.name, "admin")
        .await
    {
        Ok(created) => render(
            StatusCode::CREATED,
            &CreatedPage {
                csrf: session.csrf,
                who: "Operator".into(),
                id: created.workspace.id,
                name: created.workspace.name,
                secret_key: created.secret_key,
            },
        ),
        Err(EngineError::Validation(errors)) => {
            home_with(
                &state,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                form.name,
                FieldErrors::new(errors),
            )
            .await
        }
        Err(e) => outcome::refused(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::counts;
    use serde_json::json;

    #[test]
    fn counts_list_every_state_and_the_failing_ones() {
        let c = counts(&json!({
            "connections": 5,
            "by_lifecycle": {"enabled": 4, "draft": 1},
            "by_health": {"healthy": 2, "failing": 1, "needs_reconnect": 2},
            "failing_connections": 3
        }));
        assert_eq!((c.total, c.failing), (5, 3));
        assert_eq!(c.healths.len(), 4);
        let parts: Vec<(&str, i64)> = c.failing_parts.iter().map(|p| (p.label, p.n)).collect();
        assert_eq!(
            parts,
            [("degraded", 0), ("failing", 1), ("needs_reconnect", 2)]
        );
        assert_eq!(c.failing_parts[1].href, "/ui/connections?health=failing");
        let enabled = c.lifecycles.iter().find(|l| l.label == "enabled").unwrap();
        assert_eq!(
            (enabled.n, enabled.href.as_str()),
            (4, "/ui/connections?lifecycle=enabled")
        );
    }
}
