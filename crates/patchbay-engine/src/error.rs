use patchbay_core::{ConnectorError, FieldError, TransitionError, UnknownConnector};
use patchbay_store::StoreError;
use patchbay_vault::VaultError;

/// Errors of the engine; the server maps each to one status code.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    UnknownConnector(#[from] UnknownConnector),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    InvalidTransition(#[from] TransitionError),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Connector(ConnectorError),
    #[error("storage failed: {0}")]
    Store(#[source] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => EngineError::NotFound(what),
            other => EngineError::Store(other),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
