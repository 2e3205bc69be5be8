//! The audit log: the operator reads every entry, a tenant's administrator its own.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Admin, ApiQuery, Caller};
use super::state::AppState;
use crate::audit::{AuditAction, AuditEntry, Filter, MAX_PAGE};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(operator_audit)).routes(routes!(tenant_audit))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Operator only: one tenant's entries.
    tenant: Option<String>,
    /// One action (`plugin.bound`, `tenant.credentials_rotated`, ...).
    action: Option<String>,
    /// Entries older than this id (the `next` of the previous page).
    before: Option<i64>,
    /// 1 to 500, default 100.
    limit: Option<i64>,
}

/// A page of entries, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    /// `before` for the next (older) page; `null` on the last.
    next: Option<i64>,
}

async fn page(st: &AppState, tenant: Option<&str>, q: &AuditParams) -> ApiResult<AuditPage> {
    let action = q
        .action
        .as_deref()
        .map(|a| {
            AuditAction::parse(a)
                .ok_or_else(|| ApiError::unprocessable("invalid_action", format!("no audit action '{a}'")))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let entries = st.audit.list(Filter { tenant, action, before_id: q.before, limit }).await?;
    let next = (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.id)).flatten();
    Ok(AuditPage { entries, next })
}

/// Every administrator's actions, the gateway's own (plugin reloads) included.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("admin" = [])), params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn operator_audit(
    _: Admin,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(page(&st, q.tenant.as_deref(), &q).await?))
}

/// What was done to the calling tenant, by the operator or by its own administrators.
#[utoipa::path(get, path = "/api/v1/tenant/audit", tag = "audit", security(("tenant" = [])), params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn tenant_audit(
    caller: Caller,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    caller.require_admin()?;
    if q.tenant.is_some() {
        return Err(ApiError::unprocessable("invalid_parameter", "tenant is the caller's own here"));
    }
    Ok(Json(page(&st, Some(&caller.tenant), &q).await?))
}
