//! Plugins: what is loaded (operator) and what each tenant binds.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Admin, ApiJson, ApiPath, Caller};
use super::state::AppState;
use crate::audit::{Actor, AuditAction, Change};
use crate::cluster::notices;
use crate::plugins::{BindRequest, BindingView, PluginInfo, PluginOffer, ReloadOutcome, reload_change};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins))
        .routes(routes!(get_plugin))
        .routes(routes!(reload_plugin))
        .routes(routes!(list_bindings))
        .routes(routes!(plugin_catalog))
        .routes(routes!(put_binding, delete_binding))
}

#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins", security(("admin" = [])),
    responses((status = 200, body = Vec<PluginInfo>), (status = 401, body = ErrorBody)))]
async fn list_plugins(_: Admin, State(st): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(st.plugins.list())
}

fn find(st: &AppState, name: &str) -> ApiResult<PluginInfo> {
    st.plugins.info(name).ok_or_else(|| ApiError::not_found("plugin_not_found", format!("no plugin '{name}'")))
}

#[utoipa::path(get, path = "/api/v1/plugins/{name}", tag = "plugins", security(("admin" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = PluginInfo), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_plugin(
    _: Admin,
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<PluginInfo>> {
    Ok(Json(find(&st, &name)?))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reloaded {
    /// `loaded`, `unchanged`, `unloaded` or `refused`.
    outcome: &'static str,
    /// Refusal reason when `refused`.
    reason: Option<String>,
    plugin: Option<PluginInfo>,
}

/// Reloads the plugin's folder now (the watcher does this on its own when files change).
#[utoipa::path(post, path = "/api/v1/plugins/{name}/reload", tag = "plugins", security(("admin" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = Reloaded), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reload_plugin(
    _: Admin,
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Reloaded>> {
    crate::model::validate_id(&name).map_err(|e| ApiError::unprocessable("invalid_name", e.to_string()))?;
    let reloaded = st.plugins.reload(&name).await;
    if let Some(change) = reload_change(&name, &reloaded) {
        st.audit.record(&Actor::Operator, change).await;
    }
    let (outcome, reason) = match reloaded {
        ReloadOutcome::Loaded { .. } => ("loaded", None),
        ReloadOutcome::Unchanged => ("unchanged", None),
        ReloadOutcome::Unloaded => ("unloaded", None),
        ReloadOutcome::Refused(r) => ("refused", Some(r)),
        ReloadOutcome::Missing => {
            return Err(ApiError::not_found("plugin_not_found", format!("no plugin folder '{name}'")));
        }
    };
    Ok(Json(Reloaded { outcome, reason, plugin: st.plugins.info(&name) }))
}

#[utoipa::path(get, path = "/api/v1/tenant/plugins", tag = "plugins", security(("tenant" = [])),
    responses((status = 200, body = Vec<BindingView>), (status = 401, body = ErrorBody)))]
async fn list_bindings(caller: Caller, State(st): State<AppState>) -> ApiResult<Json<Vec<BindingView>>> {
    caller.require_admin()?;
    Ok(Json(st.plugins.tenant_bindings(&caller.tenant)))
}

/// The plugins the tenant may bind: what each does, its capabilities, its config's schema and
/// defaults.
#[utoipa::path(get, path = "/api/v1/tenant/catalog/plugins", tag = "plugins", security(("tenant" = [])),
    responses((status = 200, body = Vec<PluginOffer>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn plugin_catalog(caller: Caller, State(st): State<AppState>) -> ApiResult<Json<Vec<PluginOffer>>> {
    caller.require_admin()?;
    Ok(Json(st.plugins.catalog()))
}

/// Binds a plugin for the calling tenant (or changes the binding). The config is checked by
/// the plugin's own `init`; a refusal answers 422 with the plugin's message.
#[utoipa::path(put, path = "/api/v1/tenant/plugins/{name}", tag = "plugins", security(("tenant" = [])),
    params(("name" = String, Path)), request_body = BindRequest,
    responses((status = 200, body = BindingView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_binding(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<BindRequest>,
) -> ApiResult<Json<BindingView>> {
    caller.require_admin()?;
    let existed = st.plugins.tenant_bindings(&caller.tenant).iter().any(|b| b.plugin == name);
    let mut said = vec![format!("enabled: {}", req.enabled.unwrap_or(true))];
    if let Some(config) = req.config.as_ref().and_then(|c| c.as_object()) {
        // Names only: a config may hold a secret (an API key of the bot's endpoint).
        let keys: Vec<&str> = config.keys().map(String::as_str).collect();
        said.push(format!("config keys: {}", if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }));
    }
    let view = st.plugins.bind(&caller.tenant, &name, req).await?;
    st.notices.tell(notices::Change::Bindings { tenant: caller.tenant.clone() }).await;
    let action = if existed { AuditAction::PluginConfigChanged } else { AuditAction::PluginBound };
    st.audit.record(&caller.actor(), Change::of_tenant(&caller.tenant, action, &name).detail(said.join("; "))).await;
    Ok(Json(view))
}

#[utoipa::path(delete, path = "/api/v1/tenant/plugins/{name}", tag = "plugins", security(("tenant" = [])),
    params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_binding(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    st.plugins.unbind(&caller.tenant, &name).await?;
    st.notices.tell(notices::Change::Bindings { tenant: caller.tenant.clone() }).await;
    st.audit.record(&caller.actor(), Change::of_tenant(&caller.tenant, AuditAction::PluginUnbound, &name)).await;
    Ok(StatusCode::NO_CONTENT)
}
