//! Webhook endpoints, their deliveries and attempts (tenant administrators).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::state::AppState;
use crate::audit::{AuditAction, Change};
use crate::cluster::notices;
use crate::webhooks::views::{
    CreateWebhook, DeliveriesQuery, DeliveryView, PatchWebhook, ReplayRequest, Replayed, RotateSecret, WebhookView,
    WebhookWithSecret,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, patch_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(test_webhook))
        .routes(routes!(replay))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(resend))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("tenant" = [])),
    responses((status = 200, body = Vec<WebhookView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_webhooks(caller: Caller, State(st): State<AppState>) -> ApiResult<Json<Vec<WebhookView>>> {
    caller.require_admin()?;
    Ok(Json(st.webhooks.list(&caller.tenant).await?))
}

/// Adds an endpoint; the answer carries its secret, which is never shown again.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("tenant" = [])), request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_webhook(
    caller: Caller,
    State(st): State<AppState>,
    ApiJson(req): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecret>)> {
    caller.require_admin()?;
    let created = st.webhooks.create(&caller.tenant, req).await?;
    st.notices.tell(notices::Change::Webhooks { tenant: caller.tenant.clone() }).await;
    let change = Change::of_tenant(&caller.tenant, AuditAction::WebhookCreated, &created.webhook.id)
        .detail(format!("url {}", created.webhook.url));
    st.audit.record(&caller.actor(), change).await;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{webhook}", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_webhook(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WebhookView>> {
    caller.require_admin()?;
    Ok(Json(st.webhooks.get(&caller.tenant, &id).await?))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{webhook}", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)), request_body = PatchWebhook,
    responses((status = 200, body = WebhookView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_webhook(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<PatchWebhook>,
) -> ApiResult<Json<WebhookView>> {
    caller.require_admin()?;
    let view = st.webhooks.update(&caller.tenant, &id, patch).await?;
    st.notices.tell(notices::Change::Webhooks { tenant: caller.tenant.clone() }).await;
    st.audit.record(&caller.actor(), Change::of_tenant(&caller.tenant, AuditAction::WebhookUpdated, &id)).await;
    Ok(Json(view))
}

/// Removes the endpoint with its deliveries; nothing more is sent to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{webhook}", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_webhook(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    st.webhooks.delete(&caller.tenant, &id).await?;
    st.notices.tell(notices::Change::Webhooks { tenant: caller.tenant.clone() }).await;
    st.audit.record(&caller.actor(), Change::of_tenant(&caller.tenant, AuditAction::WebhookDeleted, &id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret, shown once; the old one keeps signing beside it for `overlapSecs`.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook}/rotate", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)), request_body = RotateSecret,
    responses((status = 200, body = WebhookWithSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rotate_secret(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<WebhookWithSecret>> {
    caller.require_admin()?;
    let req: RotateSecret = super::optional_json(&body)?;
    let rotated = st.webhooks.rotate(&caller.tenant, &id, req).await?;
    st.notices.tell(notices::Change::Webhooks { tenant: caller.tenant.clone() }).await;
    st.audit.record(&caller.actor(), Change::of_tenant(&caller.tenant, AuditAction::WebhookSecretRotated, &id)).await;
    Ok(Json(rotated))
}

/// Sends a `webhook.test` event now; answers with the delivery and its attempt.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook}/test", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test_webhook(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DeliveryView>> {
    caller.require_admin()?;
    Ok(Json(st.webhooks.test(&caller.tenant, &id).await?))
}

/// Queues again every journaled event from a `seq` or a time on that the endpoint takes.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook}/replay", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)), request_body = ReplayRequest,
    responses((status = 200, body = Replayed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replay(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReplayRequest>,
) -> ApiResult<Json<Replayed>> {
    caller.require_admin()?;
    Ok(Json(st.webhooks.replay(&caller.tenant, &id, req).await?))
}

/// The endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook}/deliveries", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path), DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_deliveries(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    caller.require_admin()?;
    Ok(Json(st.webhooks.deliveries(&caller.tenant, &id, q).await?))
}

/// One delivery with every attempt.
#[utoipa::path(get, path = "/api/v1/webhooks/{webhook}/deliveries/{delivery}", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path), ("delivery" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_delivery(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, delivery)): ApiPath<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    caller.require_admin()?;
    Ok(Json(st.webhooks.delivery(&caller.tenant, &id, &delivery).await?))
}

/// Sends the delivery again now, whatever became of it.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook}/deliveries/{delivery}/resend", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path), ("delivery" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn resend(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, delivery)): ApiPath<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    caller.require_admin()?;
    Ok(Json(st.webhooks.resend(&caller.tenant, &id, &delivery).await?))
}
