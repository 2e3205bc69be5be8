//! Operator routes: tenants and their token settings.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Admin, ApiJson, ApiPath};
use super::state::AppState;
use crate::audit::{Actor, AuditAction, Change};
use crate::auth::{Revocation, SessionAccess, hash_key, new_api_key, new_jwt_secret};
use crate::cluster::notices;
use crate::model::{Keyed, Tenant, TenantJwt, new_id, validate_id};
use crate::quotas::LimitOverrides;
use crate::store::tenants::{self, NewTenant, TenantPatch};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
        .routes(routes!(rotate_tenant))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    /// Letters, digits, `-`, `_`, `.`; generated when absent.
    id: Option<String>,
    name: String,
}

/// A new tenant with its credentials; `apiKey` is never shown again.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTenant {
    id: String,
    name: String,
    api_key: String,
    /// HS256 secret the tenant's own backend may sign user tokens with.
    jwt_secret: String,
    jwt: TenantJwt,
    #[serde(serialize_with = "crate::model::time::millis")]
    created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenant {
    name: Option<String>,
    jwt: Option<JwtPatch>,
    /// Which sessions user tokens without the `admin` role may use (docs/auth.md).
    session_access: Option<SessionAccess>,
    /// Replaces the tenant's quota overrides (`{}` = the configured defaults throughout).
    quotas: Option<LimitOverrides>,
}

/// Fields set to `null` are cleared; absent fields are kept.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtPatch {
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<String>)]
    public_key_pem: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<String>)]
    issuer: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<String>)]
    audience: Option<Option<String>>,
    tenant_claim: Option<String>,
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ApiError::unprocessable("invalid_name", "name must be 1 to 200 characters"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", security(("admin" = [])),
    request_body = CreateTenant,
    responses((status = 201, body = CreatedTenant), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_tenant(
    _: Admin,
    State(st): State<AppState>,
    ApiJson(req): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<CreatedTenant>)> {
    check_name(&req.name)?;
    let id = match req.id {
        Some(id) => {
            validate_id(&id).map_err(|e| ApiError::unprocessable("invalid_id", e.to_string()))?;
            id
        }
        None => new_id(),
    };
    let api_key = new_api_key();
    let jwt_secret = new_jwt_secret();
    let mut w = st.store.begin_write().await?;
    let tenant = tenants::insert(
        &mut w,
        NewTenant { id: &id, name: req.name.trim(), api_key_hash: &hash_key(&api_key), jwt_secret: &jwt_secret },
    )
    .await
    .map_err(|e| match e {
        crate::store::StoreError::Conflict(_) => {
            ApiError::conflict("tenant_exists", format!("tenant '{id}' already exists"))
        }
        other => other.into(),
    })?;
    w.commit().await?;
    st.directory.reload(st.store.pool()).await?;
    st.notices.tell(notices::Change::Tenant { tenant: tenant.id.clone() }).await;
    let change =
        Change::of_tenant(&tenant.id, AuditAction::TenantCreated, &tenant.id).detail(format!("name '{}'", tenant.name));
    st.audit.record(&Actor::Operator, change).await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant {
            id: tenant.id,
            name: tenant.name,
            api_key,
            jwt_secret,
            jwt: tenant.jwt,
            created_at: tenant.created_at,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", security(("admin" = [])),
    responses((status = 200, body = Vec<Tenant>), (status = 401, body = ErrorBody)))]
async fn list_tenants(_: Admin, State(st): State<AppState>) -> ApiResult<Json<Vec<Tenant>>> {
    Ok(Json(tenants::list(st.store.pool()).await?))
}

pub(super) async fn find(st: &AppState, id: &str) -> ApiResult<Tenant> {
    tenants::get(st.store.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant_not_found", format!("tenant '{id}' not found")))
}

#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "tenants", security(("admin" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_tenant(_: Admin, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Tenant>> {
    Ok(Json(find(&st, &id).await?))
}

#[utoipa::path(patch, path = "/api/v1/tenants/{id}", tag = "tenants", security(("admin" = [])),
    params(("id" = String, Path)), request_body = UpdateTenant,
    responses((status = 200, body = Tenant), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_tenant(
    _: Admin,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateTenant>,
) -> ApiResult<Json<Tenant>> {
    find(&st, &id).await?;
    let mut patch = TenantPatch::default();
    if let Some(name) = req.name {
        check_name(&name)?;
        patch.name = Some(name.trim().to_owned());
    }
    if let Some(jwt) = req.jwt {
        if let Some(Some(pem)) = &jwt.public_key_pem {
            crate::auth::parse_public_key(pem)?;
        }
        if let Some(claim) = &jwt.tenant_claim
            && (claim.is_empty() || crate::auth::RESERVED_CLAIMS.contains(&claim.as_str()))
        {
            return Err(ApiError::unprocessable("invalid_tenant_claim", format!("'{claim}' cannot name the tenant")));
        }
        patch.jwt_public_key = jwt.public_key_pem;
        patch.jwt_issuer = jwt.issuer;
        patch.jwt_audience = jwt.audience;
        patch.tenant_claim = jwt.tenant_claim;
    }
    patch.session_access = req.session_access;
    if let Some(q) = &req.quotas {
        st.config.quotas.with(q).check().map_err(|e| ApiError::unprocessable("invalid_quotas", e))?;
    }
    patch.quotas = req.quotas;
    Ok(Json(save(&st, &Actor::Operator, &id, patch).await?))
}

/// Writes a tenant's change and makes every node of the gateway act on it: the directory
/// (token checks, session access) is reloaded and sockets lose what they may no longer use.
pub(super) async fn save(st: &AppState, actor: &Actor, id: &str, patch: TenantPatch) -> ApiResult<Tenant> {
    let changed = patch.changed();
    let mut w = st.store.begin_write().await?;
    tenants::update(&mut w, id, patch).await?;
    w.commit().await?;
    if !changed.is_empty() {
        let change =
            Change::of_tenant(id, AuditAction::TenantUpdated, id).detail(format!("changed {}", changed.join(", ")));
        st.audit.record(actor, change).await;
    }
    st.directory.reload(st.store.pool()).await?;
    st.notices.tell(notices::Change::Tenant { tenant: id.to_owned() }).await;
    st.revocations.announce(Revocation::TenantChanged { tenant: id.to_owned(), recheck_at: None });
    find(st, id).await
}

#[utoipa::path(delete, path = "/api/v1/tenants/{id}", tag = "tenants", security(("admin" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_tenant(_: Admin, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    find(&st, &id).await?;
    // Sessions first: their connections are closed and devices unlinked, not just forgotten.
    for s in st.sessions.list(&id).await? {
        st.sessions.delete(&s.key()).await?;
    }
    let mut w = st.store.begin_write().await?;
    tenants::delete(&mut w, &id).await?;
    w.commit().await?;
    st.webhooks.forget_tenant(&id);
    st.media.delete_all(&id, None).await?;
    st.plugins.forget_tenant(&id);
    st.directory.reload(st.store.pool()).await?;
    st.notices.tell(notices::Change::TenantDeleted { tenant: id.clone() }).await;
    st.audit.record(&Actor::Operator, Change::of_tenant(&id, AuditAction::TenantDeleted, &id)).await;
    st.revocations.announce(Revocation::TenantDeleted(id));
    Ok(StatusCode::NO_CONTENT)
}

/// Longest grace period a rotation may give the old credentials.
const MAX_GRACE_SECS: u64 = 7 * 24 * 3600;

/// What to rotate; at least one of the two.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rotate {
    #[serde(default)]
    api_key: bool,
    #[serde(default)]
    jwt_secret: bool,
    /// How long the old credentials keep verifying beside the new ones, 0 to 604800.
    #[serde(default)]
    grace_seconds: u64,
}

/// The new credentials, shown only here.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotated {
    api_key: Option<String>,
    jwt_secret: Option<String>,
    /// Until when the replaced credentials still verify.
    #[serde(serialize_with = "crate::model::time::millis")]
    previous_valid_until: DateTime<Utc>,
}

pub(super) async fn rotate_credentials(st: &AppState, actor: &Actor, id: &str, req: Rotate) -> ApiResult<Rotated> {
    if !req.api_key && !req.jwt_secret {
        return Err(ApiError::unprocessable("nothing_to_rotate", "set apiKey and/or jwtSecret to true"));
    }
    if req.grace_seconds > MAX_GRACE_SECS {
        return Err(ApiError::unprocessable(
            "invalid_grace",
            format!("graceSeconds must be between 0 and {MAX_GRACE_SECS}"),
        ));
    }
    let api_key = req.api_key.then(new_api_key);
    let jwt_secret = req.jwt_secret.then(new_jwt_secret);
    let grace_until = Utc::now() + chrono::Duration::seconds(req.grace_seconds as i64);
    let api_key_hash = api_key.as_deref().map(hash_key);
    let mut w = st.store.begin_write().await?;
    let rotation =
        tenants::Rotation { api_key_hash: api_key_hash.as_deref(), jwt_secret: jwt_secret.as_deref(), grace_until };
    tenants::rotate(&mut w, id, rotation).await.map_err(|e| match e {
        crate::store::StoreError::NotFound(_) => {
            ApiError::not_found("tenant_not_found", format!("tenant '{id}' not found"))
        }
        other => other.into(),
    })?;
    w.commit().await?;
    st.directory.reload(st.store.pool()).await?;
    st.notices.tell(notices::Change::Tenant { tenant: id.to_owned() }).await;
    let recheck_at = (req.jwt_secret && req.grace_seconds > 0).then_some(grace_until);
    st.revocations.announce(Revocation::TenantChanged { tenant: id.to_owned(), recheck_at });
    let rotated: Vec<&str> = [(req.api_key, "API key"), (req.jwt_secret, "JWT secret")]
        .into_iter()
        .filter_map(|(yes, what)| yes.then_some(what))
        .collect();
    let detail = format!("{} rotated, the old one valid for {} s more", rotated.join(" and "), req.grace_seconds);
    st.audit.record(actor, Change::of_tenant(id, AuditAction::CredentialsRotated, id).detail(detail)).await;
    Ok(Rotated { api_key, jwt_secret, previous_valid_until: grace_until })
}

/// Operator: replaces a tenant's API key and/or JWT secret (say, when the tenant lost its key).
#[utoipa::path(post, path = "/api/v1/tenants/{id}/rotate", tag = "tenants", security(("admin" = [])),
    params(("id" = String, Path)), request_body = Rotate,
    responses((status = 200, body = Rotated), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rotate_tenant(
    _: Admin,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Rotate>,
) -> ApiResult<Json<Rotated>> {
    Ok(Json(rotate_credentials(&st, &Actor::Operator, &id, req).await?))
}
