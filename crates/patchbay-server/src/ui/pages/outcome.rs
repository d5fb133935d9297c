//! How the operator and subscription pages answer what the engine refuses: field errors go
//! next to their fields ([`FieldErrors`]), any other refusal becomes a page with the matching
//! status ([`refused`]); a page meant for the other kind of signed-in user says so
//! ([`operator_only`], [`workspace_only`]).

use super::message;
use axum::http::StatusCode;
use axum::response::Response;
use patchbay_core::FieldError;
use patchbay_engine::{Caller, EngineError};

/// The engine's validation errors of one form, looked up by field.
#[derive(Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new(errors: Vec<FieldError>) -> Self {
        FieldErrors(errors)
    }

    /// One error on `field`, as a form shows it before the answer of the engine.
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        FieldErrors(vec![FieldError::new(field, "invalid", message)])
    }

    /// The messages about `field`, joined; `None` when it has none.
    pub fn of(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .0
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    }

    /// The messages about fields the form does not show, so none goes unseen.
    pub fn others<'a>(&self, shown: impl AsRef<[&'a str]>) -> Vec<String> {
        let shown = shown.as_ref();
        self.0
            .iter()
            .filter(|e| !shown.contains(&e.field.as_str()))
            .map(|e| e.message.clone())
            .collect()
    }
}

/// The page for an engine error that is not a form's field error. Storage and vault
/// failures are the server's, logged and answered as such.
pub fn refused(error: &EngineError) -> Response {
    let (status, title) = match error {
        EngineError::NotFound(_) | EngineError::Unsupported(_) => {
            (StatusCode::NOT_FOUND, "Not found")
        }
        EngineError::Conflict(_) | EngineError::InvalidTransition(_) => {
            (StatusCode::CONFLICT, "Not possible now")
        }
        EngineError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Not accepted"),
        EngineError::BadRequest(_) | EngineError::UnknownConnector(_) => {
            (StatusCode::BAD_REQUEST, "Not accepted")
        }
        EngineError::Forbidden(_) | EngineError::Unauthorized(_) => {
            (StatusCode::FORBIDDEN, "Not allowed")
        }
        EngineError::Expired(_) => (StatusCode::GONE, "Expired"),
        EngineError::Store(_) | EngineError::Vault(_) => return super::failed(error),
        _ => (
            StatusCode::BAD_GATEWAY,
            "The provider did not answer as expected",
        ),
    };
    let text = match error {
        EngineError::NotFound(what) => format!("That {what} does not exist, or is not yours."),
        EngineError::Validation(errors) => errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    message(status, title, &text)
}

/// The answer to a workspace that opens an operator page.
pub fn operator_only() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Operators only",
        "This page is for the operator. Sign in with the admin key to open it.",
    )
}

/// The answer to the operator opening a page that belongs to one workspace.
pub fn workspace_only() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "A workspace page",
        "This page belongs to one workspace. Sign in with that workspace's secret key to open it.",
    )
}

/// How the navigation names the signed-in user.
pub fn who(caller: &Caller) -> String {
    match caller {
        Caller::Admin => "Operator".into(),
        Caller::Workspace { workspace_id, .. } | Caller::Integration { workspace_id, .. } => {
            format!("Workspace {workspace_id}")
        }
    }
}

/// Percent-encodes a query value for a link the page builds.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_found_by_field_and_none_is_lost() {
        let errors = FieldErrors::new(vec![
            FieldError::new("url", "format", "bad url"),
            FieldError::new("url", "userinfo", "no password"),
            FieldError::new("provider", "unsupported", "github only"),
        ]);
        assert_eq!(errors.of("url").as_deref(), Some("bad url; no password"));
        assert_eq!(errors.of("name"), None);
        assert_eq!(errors.others(["url"]), vec!["github only".to_string()]);
        assert!(FieldErrors::default().others(["url"]).is_empty());
    }
}
