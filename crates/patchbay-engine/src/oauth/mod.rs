//! OAuth: the workspace's apps per provider (`apps`), connect sessions with the authorize and
//! callback steps that create or update a connection (`connect`), and the token manager that
//! refreshes ahead of expiry, once across processes (`tokens`).

pub mod apps;
pub mod callback;
pub mod connect;
pub mod tokens;

use patchbay_connectors::oauth::OAuthClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// OAuth's own state: the client for token endpoints, how long connect sessions live, and one
/// lock per connection whose token this process is refreshing.
pub(crate) struct OAuthState {
    pub(crate) client: OAuthClient,
    pub(crate) connect_ttl_ms: i64,
    pub(crate) refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl OAuthState {
    pub(crate) fn new(client: OAuthClient, connect_ttl: Duration) -> Self {
        OAuthState {
            client,
            connect_ttl_ms: connect_ttl.as_millis() as i64,
            refresh_locks: Mutex::new(HashMap::new()),
        }
    }
}
