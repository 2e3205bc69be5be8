//! Webhook endpoints, their deliveries and attempts (tenant administrators), and the journal
//! of committed events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::state::AppState;
use crate::store::journal;
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
        .routes(routes!(list_events))
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
    Ok((StatusCode::CREATED, Json(st.webhooks.create(&caller.tenant, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{webhook}", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_webhook(caller: Caller, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<WebhookView>> {
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
    Ok(Json(st.webhooks.update(&caller.tenant, &id, patch).await?))
}

/// Removes the endpoint with its deliveries; nothing more is sent to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{webhook}", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_webhook(caller: Caller, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    st.webhooks.delete(&caller.tenant, &id).await?;
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
    Ok(Json(st.webhooks.rotate(&caller.tenant, &id, req).await?))
}

/// Sends a `webhook.test` event now; answers with the delivery and its attempt.
#[utoipa::path(post, path = "/api/v1/webhooks/{webhook}/test", tag = "webhooks", security(("tenant" = [])),
    params(("webhook" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test_webhook(caller: Caller, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<DeliveryView>> {
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

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this `seq` (default 0: from the oldest kept).
    after_seq: Option<u64>,
    /// 1 to 1000, default 100.
    limit: Option<u32>,
}

/// A page of the journal: events in `seq` order, each as a socket receives it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    events: Vec<JournalEvent>,
    /// The oldest `seq` the journal still holds (older ones were pruned).
    first_seq: Option<u64>,
    /// Give it as `afterSeq` for the next page.
    last_seq: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JournalEvent {
    /// The event name (`message.received`, ...).
    event: String,
    seq: u64,
    /// The canonical payload (docs/events.md).
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

/// Committed events of the tenant, from the durable journal (retention: `events.retention_*`).
/// A user token without the `admin` role sees only the events of the sessions it may use.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("tenant" = [])),
    params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_events(
    caller: Caller,
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::unprocessable("invalid_limit", "limit must be 1 to 1000"));
    }
    let after = q.after_seq.unwrap_or(0).min(i64::MAX as u64) as i64;
    let rows = journal::after(st.store.pool(), &caller.tenant, after, i64::from(limit)).await?;
    let last_seq = rows.last().map_or(after, |r| r.seq) as u64;
    let usable: Option<Vec<String>> = if caller.is_admin() {
        None
    } else {
        let sessions = st.sessions.list(&caller.tenant).await?;
        Some(sessions.iter().filter(|s| caller.may_use(&st, s)).map(|s| s.id.clone()).collect())
    };
    let events = rows
        .into_iter()
        .filter(|r| match (&usable, &r.session_id) {
            (Some(list), Some(s)) => list.contains(s),
            // Tenant-wide events (stats over every session, webhook notices) are the administrator's.
            (Some(_), None) => false,
            (None, _) => true,
        })
        .map(|r| JournalEvent {
            event: r.name,
            seq: r.seq as u64,
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    let first_seq = journal::first_seq(st.store.pool(), &caller.tenant).await?.map(|s| s as u64);
    Ok(Json(EventPage { events, first_seq, last_seq }))
}
