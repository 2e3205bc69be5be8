//! Tenant: the calling tenant's own settings, for its administrator (API key or a user token
//! with the `admin` role).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, Caller};
use super::state::AppState;
use super::tenants::{Rotate, Rotated, find, rotate_credentials, save};
use crate::auth::SessionAccess;
use crate::model::Tenant;
use crate::store::tenants::TenantPatch;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, update_settings)).routes(routes!(rotate))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSettings {
    /// Which sessions user tokens without the `admin` role may read, send from and subscribe to.
    session_access: Option<SessionAccess>,
}

#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant", security(("tenant" = [])),
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_settings(caller: Caller, State(st): State<AppState>) -> ApiResult<Json<Tenant>> {
    caller.require_admin()?;
    Ok(Json(find(&st, &caller.tenant).await?))
}

/// Changes the calling tenant's settings; absent fields are kept. Takes effect for the next
/// request and for sockets' next subscriptions; sockets already subscribed to a session they
/// may no longer use are unsubscribed.
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", security(("tenant" = [])),
    request_body = TenantSettings,
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_settings(
    caller: Caller,
    State(st): State<AppState>,
    ApiJson(req): ApiJson<TenantSettings>,
) -> ApiResult<Json<Tenant>> {
    caller.require_admin()?;
    let patch = TenantPatch { session_access: req.session_access, ..Default::default() };
    Ok(Json(save(&st, &caller.actor(), &caller.tenant, patch).await?))
}

/// Replaces the tenant's API key and/or JWT secret. The old ones keep verifying for
/// `graceSeconds` (default 0: not at all); then sockets admitted with the old secret are
/// disconnected (`error { code: "credentials_rotated" }`). Only the API key may do this.
#[utoipa::path(post, path = "/api/v1/tenant/rotate", tag = "tenant", security(("tenant" = [])),
    request_body = Rotate,
    responses((status = 200, body = Rotated), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rotate(caller: Caller, State(st): State<AppState>, ApiJson(req): ApiJson<Rotate>) -> ApiResult<Json<Rotated>> {
    caller.require_api_key("rotate the tenant's credentials")?;
    Ok(Json(rotate_credentials(&st, &caller.actor(), &caller.tenant, req).await?))
}
