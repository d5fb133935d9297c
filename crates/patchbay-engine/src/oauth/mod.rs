//! OAuth: the workspace's apps per provider (`apps`), connect sessions with the authorize and
//! callback steps that create or update a connection (`connect`, `callback`), the hosted
//! connect page's credential form for connectors that are not OAuth (`hosted`), and the token
//! manager that refreshes ahead of expiry, once across processes (`tokens`).

pub mod apps;
pub mod callback;
mod calls;
pub mod connect;
pub mod hosted;
pub mod tokens;

pub(crate) use calls::{is_oauth, Call, CallOut};

use crate::Context;
use patchbay_connectors::oauth::OAuthClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The token manager: hands out valid access tokens, refreshing ahead of expiry once across
/// processes, and runs connector calls with one refresh-and-retry after a 401.
#[derive(Clone)]
pub struct Tokens {
    ctx: Context,
    state: Arc<TokenState>,
}

/// The client for token endpoints, and one lock per connection whose token this process is
/// refreshing.
struct TokenState {
    client: OAuthClient,
    refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Tokens {
    pub(crate) fn new(ctx: Context) -> Self {
        let client = OAuthClient::new(ctx.http().clone());
        Tokens {
            ctx,
            state: Arc::new(TokenState {
                client,
                refresh_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The client for providers' token endpoints.
    pub(crate) fn client(&self) -> &OAuthClient {
        &self.state.client
    }
}

/// OAuth apps per workspace and provider, connect sessions, and the callback that creates or
/// updates a connection.
#[derive(Clone)]
pub struct OAuth {
    ctx: Context,
    tokens: Tokens,
    /// The callback creates connections.
    connections: crate::connections::Connections,
    /// How long connect sessions and OAuth states live.
    connect_ttl_ms: i64,
}

impl OAuth {
    pub(crate) fn new(
        ctx: Context,
        tokens: Tokens,
        connections: crate::connections::Connections,
        connect_ttl: Duration,
    ) -> Self {
        OAuth {
            ctx,
            tokens,
            connections,
            connect_ttl_ms: connect_ttl.as_millis() as i64,
        }
    }
}
