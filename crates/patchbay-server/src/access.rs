//! Who may call which route. Every route is added through [`Routes::add`] with the kinds of key
//! it takes; that list is the one authorization rule. A caller of another kind gets 403
//! `forbidden`, the same on every route, before the handler runs. The OpenAPI document and the
//! tests read the same table.

use crate::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::{Extension, Router};
use patchbay_engine::Caller;
use serde::Serialize;

/// Method names for route tables.
pub mod methods {
    use axum::http::Method;
    pub const GET: Method = Method::GET;
    pub const POST: Method = Method::POST;
    pub const PUT: Method = Method::PUT;
    pub const PATCH: Method = Method::PATCH;
    pub const DELETE: Method = Method::DELETE;
}

/// The kinds of caller a route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// No key: probes, the OpenAPI document, browsers in the OAuth flow, providers' webhooks
    /// (which prove themselves with a signature instead).
    Public,
    /// The operator's admin key.
    Admin,
    /// A workspace secret key.
    Workspace,
    /// A workspace secret key, or the principal key of the connection named in the path.
    WorkspaceOrPrincipal,
}

impl Access {
    pub fn allows(self, caller: &Caller) -> bool {
        matches!(
            (self, caller),
            (Access::Public, _)
                | (Access::Admin, Caller::Admin)
                | (Access::Workspace, Caller::Workspace { .. })
                | (
                    Access::WorkspaceOrPrincipal,
                    Caller::Workspace { .. } | Caller::Integration { .. }
                )
        )
    }

    /// The keys this route takes, as said in 403 answers and in the OpenAPI document.
    pub fn describe(self) -> &'static str {
        match self {
            Access::Public => "no key",
            Access::Admin => "the admin key",
            Access::Workspace => "a workspace secret key",
            Access::WorkspaceOrPrincipal => {
                "a workspace secret key or the connection's integration principal key"
            }
        }
    }
}

/// One method on one route and who may call it.
#[derive(Clone, Debug, Serialize)]
pub struct RouteRule {
    #[serde(serialize_with = "method_name")]
    pub method: Method,
    /// The route as the router spells it (`{*path}` for a catch-all).
    pub path: &'static str,
    pub access: Access,
}

fn method_name<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

impl RouteRule {
    /// The path as OpenAPI spells it: `{*path}` becomes `{path}`.
    pub fn openapi_path(&self) -> String {
        self.path.replace("{*", "{")
    }
}

/// A router that records the access rule of every method it serves.
pub struct Routes {
    router: Router<AppState>,
    rules: Vec<RouteRule>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            rules: Vec::new(),
        }
    }
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `handler` for `method` on `path`, taking only the callers `access` allows.
    pub fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        self.router = self
            .router
            .route(path, on(filter, handler).route_layer(Extension(access)));
        self.rules.push(RouteRule {
            method,
            path,
            access,
        });
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.rules.extend(other.rules);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteRule>) {
        (self.router, self.rules)
    }
}

/// Every route the server serves, with its access rule.
pub fn route_table() -> Vec<RouteRule> {
    crate::routes::all().into_parts().1
}
