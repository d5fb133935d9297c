//! The OpenAPI document, collected from the handlers' annotations.

use crate::routes::{
    activity, admin, connections, connectors, live, oauth, ops, proxy, subscriptions, syncs,
    webhooks,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "patchbay", description = "Self-hostable integrations hub. Authenticate with `Authorization: Bearer KEY` (admin key, workspace secret key or integration principal key). Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`."),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        admin::create_workspace, admin::list_workspaces, admin::list_connections, admin::stats, admin::activity,
        crate::routes::repos::create, crate::routes::repos::admin_list, crate::routes::repos::admin_show, crate::routes::repos::update, crate::routes::repos::remove, crate::routes::repos::list, crate::routes::repos::show,
        connectors::list, connectors::show,
        connections::create, connections::list, connections::show, connections::update, connections::remove,
        connections::test, proxy::proxy, connections::principal, connections::rotate_principal, connections::run_action,
        activity::activity, activity::events, activity::stream,
        live::signals, live::data, live::alerts,
        webhooks::receive, webhooks::receive_routed, webhooks::list, webhooks::replay,
        subscriptions::create, subscriptions::list, subscriptions::show, subscriptions::update, subscriptions::remove, subscriptions::deliveries, subscriptions::retry,
        syncs::start, syncs::list, syncs::show, syncs::cancel, syncs::records,
        oauth::put_app, oauth::list_apps, oauth::create_session, oauth::authorize, oauth::callback,
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}
