//! A session's send queue: its pacing policy, what it is doing, and what it sent lately
//! (docs/send-queue.md).

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Caller};
use super::state::AppState;
use crate::audit::{AuditAction, Change};
use crate::model::{Keyed, SendPolicy, SendQueue};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_queue, put_policy, reset_policy))
}

/// The queue's policy in force, its depth and what its next message waits for, and how many
/// messages went to WhatsApp in the last minute and day.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/queue", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SendQueue), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_queue(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SendQueue>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.send_queue(&key).await?))
}

/// Sets the session's own pacing policy (fields left out take their defaults); the queue
/// goes by it from its next message.
#[utoipa::path(put, path = "/api/v1/sessions/{id}/queue", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    request_body = SendPolicy,
    responses((status = 200, body = SendQueue), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "`invalid_send_policy`: a field past its bounds")))]
async fn put_policy(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(policy): ApiJson<SendPolicy>,
) -> ApiResult<Json<SendQueue>> {
    let key = caller.administered_session(&id)?;
    let queue = st.sessions.set_send_policy(&key, Some(policy)).await?;
    let detail = serde_json::to_string(&queue.policy).expect("a policy serialises");
    let change = Change::of_tenant(&caller.tenant, AuditAction::SendPolicyChanged, &id).detail(detail);
    st.audit.record(&caller.actor(), change).await;
    Ok(Json(queue))
}

/// Returns the session to the gateway's default policy.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}/queue", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SendQueue), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_policy(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SendQueue>> {
    let key = caller.administered_session(&id)?;
    let queue = st.sessions.set_send_policy(&key, None).await?;
    let change = Change::of_tenant(&caller.tenant, AuditAction::SendPolicyChanged, &id).detail("the gateway's default");
    st.audit.record(&caller.actor(), change).await;
    Ok(Json(queue))
}
