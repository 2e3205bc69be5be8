//! REST API (JSON, camelCase) with its OpenAPI document at `/openapi.json` and a browsable
//! reference at `/docs`.

mod audit;
mod cluster;
mod contacts;
mod error;
mod events;
mod extract;
mod forward;
mod groups;
mod health;
mod messages;
mod metrics;
mod plugins;
mod presence;
mod send_queue;
mod sessions;
mod sim;
mod sim_groups;
mod state;
mod tenant;
mod tenants;
mod tokens;
mod webhooks;

pub use error::{ApiError, ApiResult};
pub use forward::{ClientError as ForwardClientError, Forwarder};
pub use metrics::standalone as metrics_router;
pub use state::AppState;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_scalar::{Scalar, Servable};

#[derive(OpenApi)]
#[openapi(
    info(title = "wagate", description = "WhatsApp gateway: tenants, sessions, messages, chats. \
        Operator routes take the admin key, tenant routes the tenant API key or a user JWT of the tenant, \
        both as `Authorization: Bearer ...`. The API key is the tenant's administrator; a user JWT administers \
        nothing unless its identity has the role `admin`, and uses the sessions the tenant's `sessionAccess` \
        gives it (docs/auth.md). Errors are `{\"error\":{\"code\",\"message\"}}`."),
    modifiers(&Security),
    tags(
        (name = "tenants", description = "Operator: tenants and their token settings"),
        (name = "tenant", description = "Tenant administrator: the tenant's own settings"),
        (name = "auth", description = "Tenant: user tokens"),
        (name = "sessions", description = "Tenant: WhatsApp numbers and their login"),
        (name = "messages", description = "Tenant: sending and looking up messages"),
        (name = "chats", description = "Tenant: chats and history"),
        (name = "contacts", description = "Tenant: who is on WhatsApp"),
        (name = "groups", description = "Tenant: a session's WhatsApp groups and their members"),
        (name = "plugins", description = "Operator: loaded plugins. Tenant: plugin bindings"),
        (name = "webhooks", description = "Tenant administrator: HTTP endpoints that get the tenant's events, signed, at least once"),
        (name = "events", description = "Tenant: the journal of committed events"),
        (name = "simulator", description = "The phone side of the built-in simulator (sessions with connector `sim`)"),
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "audit", description = "What the operator and tenant administrators did"),
        (name = "cluster", description = "Operator: the nodes of a cluster and the sessions each runs"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |desc: &str| {
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(desc)).build())
        };
        components.add_security_scheme("admin", bearer("The operator admin key"));
        components.add_security_scheme("tenant", bearer("A tenant API key, or a user JWT of the tenant"));
    }
}

/// Every route; the simulator's only where `sim.enabled` is on (elsewhere they answer 404, as
/// any route that does not exist).
fn documented_routes(with_sim: bool) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(tenants::routes())
        .merge(tenant::routes())
        .merge(tokens::routes())
        .merge(sessions::routes())
        .merge(send_queue::routes())
        .merge(messages::routes())
        .merge(presence::routes())
        .merge(contacts::routes())
        .merge(groups::routes())
        .merge(plugins::routes())
        .merge(webhooks::routes())
        .merge(events::routes())
        .merge(audit::routes())
        .merge(cluster::routes());
    if with_sim { routes.merge(sim::routes()).merge(sim_groups::routes()) } else { routes }
}

/// The OpenAPI document of the REST API (what `/openapi.json` serves), simulator included.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes(true).into_openapi()
}

/// The REST routes, `/openapi.json`, `/docs` and the dashboard (`/ui`).
/// `forwarder`: in a cluster, sends requests for other nodes' sessions on to them.
pub fn router(state: AppState, forwarder: Option<Forwarder>) -> Router {
    let (api, openapi) = documented_routes(state.config.sim.enabled).split_for_parts();
    let spec = openapi.clone();
    let requests = state.requests.clone();
    api.with_state(state)
        .route("/openapi.json", axum::routing::get(move || async move { Json(spec) }))
        .merge(Scalar::with_url("/docs", openapi))
        .merge(crate::ui::routes())
        .fallback(|| async { ApiError::not_found("route_not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
        })
        .layer(axum::middleware::from_fn_with_state(forwarder, forward::forward))
        .layer(axum::middleware::from_fn_with_state(requests, crate::metrics::requests::record))
}

/// Layers every route shares, Socket.IO's included: body limit and CORS.
pub fn outer_layers(router: Router, max_body: usize, origins: &[String]) -> Router {
    router.layer(DefaultBodyLimit::max(max_body)).layer(cors_layer(origins))
}

pub fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static(messages::IDEMPOTENCY_KEY),
        ])
        .expose_headers([header::RETRY_AFTER, header::HeaderName::from_static("idempotent-replayed")])
}

/// A JSON body that may be absent altogether (empty means the type's default).
fn optional_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        let code = if e.is_data() { "invalid_body" } else { "malformed_json" };
        let status = if e.is_data() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, code, format!("invalid JSON body: {e}"))
    })
}

/// Tells "field absent" (None) from "field null" (Some(None)) in PATCH bodies.
pub(crate) fn present_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Ids may arrive as JSON numbers (seed 003 numbers its WhatsApp sessions).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(u64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    }))
}
