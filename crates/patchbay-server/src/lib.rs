//! The HTTP edge: axum routes for the v1 API, operator endpoints (`/healthz`, `/readyz`,
//! `/metrics`), the OpenAPI document and its `/docs` page, bearer authentication and the one
//! JSON error shape. Handlers stay thin and call the engine. The web UI under `/ui` is served
//! from the same router, outside the API's bearer auth and its OpenAPI document.

pub mod access;
mod auth;
mod error;
mod extract;
mod metrics;
pub mod openapi;
mod routes;
mod ui;

pub use access::{route_table, Access, RouteRule};
pub use auth::Auth;
pub use error::ApiError;
pub use metrics::Metrics;
pub use ui::UiSessions;

use axum::Router;
use patchbay_engine::Engine;
use std::future::Future;
use std::sync::Arc;

/// Default request body limit (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub metrics: Arc<Metrics>,
    /// Signed-in browsers of the web UI.
    pub ui_sessions: Arc<UiSessions>,
}

/// Server settings the binary passes in.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub body_limit: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }
}

/// The whole application router.
pub fn router(engine: Engine, options: &ServerOptions) -> Router {
    let state = AppState {
        engine,
        metrics: Arc::new(Metrics::default()),
        ui_sessions: Arc::new(UiSessions::default()),
    };
    let (routes, _) = routes::all().into_parts();
    // The UI is not in the access table: it takes no bearer key, and its session check is
    // its own (see `ui::session`).
    routes
        .merge(ui::router())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(metrics::ObserveLayer {
            metrics: state.metrics.clone(),
            body_limit: options.body_limit,
        })
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Answers go out as soon as they are written, not held back for the client's ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
