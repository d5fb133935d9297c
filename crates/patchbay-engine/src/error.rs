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
    Unauthorized(String),
    /// A name in the request (action, provider) that does not exist for this connector.
    #[error("{0}")]
    Unsupported(String),
    /// The connection exists, but its connector lacks the capability asked for (proxy, sync).
    #[error("{0}")]
    Incapable(String),
    #[error(transparent)]
    Connector(ConnectorError),
    /// A short-lived thing (connect session, state) is past its time.
    #[error("{0}")]
    Expired(String),
    /// The provider no longer honours the connection's grant; the owner must reconnect.
    #[error("{0}")]
    NeedsReconnect(String),
    /// The provider could not be reached or failed; nothing about the grant is known.
    #[error("{0}")]
    ProviderUnavailable(String),
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
