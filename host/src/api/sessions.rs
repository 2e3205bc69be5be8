//! Tenant routes: sessions, login, messages, chats.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::state::AppState;
use crate::audit::{AuditAction, Change};
use crate::auth::{Revocation, SessionAccess};
use crate::connector::LoginMethod;
use crate::model::{Chat, Keyed, Message, Session, SessionDetail, TenantStats};
use crate::sessions::{LiveQr, NewSession};
use crate::store::{chats, messages, tenants};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session, list_sessions))
        .routes(routes!(get_session, delete_session))
        .routes(routes!(connect))
        .routes(routes!(disconnect))
        .routes(routes!(logout))
        .routes(routes!(current_qr))
        .routes(routes!(list_chats))
        .routes(routes!(get_chat))
        .routes(routes!(list_chat_messages))
        .routes(routes!(mark_chat_read))
        .routes(routes!(tenant_stats))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSession {
    /// Client-chosen id (letters, digits, `-`, `_`, `.`, at most 128); a number is fine.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "super::string_or_number")]
    id: Option<String>,
    name: Option<String>,
    /// The user this session belongs to.
    owner: Option<String>,
    /// `sim` (default: the simulator) or `whatsapp` (the real network; needs the `whatsapp` build feature, on by default).
    connector: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    Qr,
    Code,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectRequest {
    #[serde(default)]
    method: Method,
    /// Required for `code`: the number whose phone will enter the pairing code.
    phone_number: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// 1 to 500, default 50.
    limit: Option<i64>,
    /// Default 0.
    offset: Option<i64>,
}

impl Page {
    fn bounds(&self) -> ApiResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::unprocessable("invalid_limit", "limit must be between 1 and 500"));
        }
        if offset < 0 {
            return Err(ApiError::unprocessable("invalid_offset", "offset must not be negative"));
        }
        Ok((limit, offset))
    }
}

#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", security(("tenant" = [])),
    request_body = CreateSession,
    responses((status = 201, body = Session), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_session(
    caller: Caller,
    State(st): State<AppState>,
    ApiJson(req): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    caller.require_admin()?;
    let max_sessions = st.directory.limits(&caller.tenant).max_sessions;
    let new = NewSession { id: req.id, name: req.name, owner: req.owner, connector: req.connector, max_sessions };
    let session = st.sessions.create(&caller.tenant, new).await?;
    let change = Change::of_tenant(&caller.tenant, AuditAction::SessionCreated, &session.id)
        .detail(format!("connector '{}'", session.connector));
    st.audit.record(&caller.actor(), change).await;
    Ok((StatusCode::CREATED, Json(session)))
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", security(("tenant" = [])),
    responses((status = 200, body = Vec<Session>), (status = 401, body = ErrorBody)))]
async fn list_sessions(caller: Caller, State(st): State<AppState>) -> ApiResult<Json<Vec<Session>>> {
    let all = st.sessions.list(&caller.tenant).await?;
    Ok(Json(all.into_iter().filter(|s| caller.may_use(&st, s)).collect()))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SessionDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_session(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SessionDetail>> {
    let session = caller.use_session(&st, &id).await?;
    Ok(Json(st.sessions.detail(session)))
}

/// Logs the device out and deletes the session with its chats and messages.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_session(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let key = caller.administered_session(&id)?;
    st.sessions.delete(&key).await?;
    st.audit.record(&caller.actor(), Change::of_tenant(&caller.tenant, AuditAction::SessionDeleted, &id)).await;
    st.revocations.announce(Revocation::SessionDeleted(key));
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a login (QR by default, or pairing code) or, for a linked device, reconnects.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/connect", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)), request_body(content = Option<ConnectRequest>),
    responses((status = 202, body = Session), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn connect(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let key = caller.administered_session(&id)?;
    // The body is optional: a bare POST means "log in by QR".
    let req: ConnectRequest = super::optional_json(&body)?;
    let method = match req.method {
        Method::Qr => LoginMethod::Qr,
        Method::Code => LoginMethod::Code {
            phone: req
                .phone_number
                .ok_or_else(|| ApiError::unprocessable("phone_number_required", "method 'code' needs phoneNumber"))?,
        },
    };
    Ok((StatusCode::ACCEPTED, Json(st.sessions.connect(&key, method).await?)))
}

/// Closes the connection; the device stays linked, so a later connect needs no QR.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/disconnect", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn disconnect(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Session>> {
    Ok(Json(st.sessions.disconnect(&caller.administered_session(&id)?).await?))
}

/// Unlinks the device and forgets its credentials.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/logout", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Session), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn logout(caller: Caller, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Session>> {
    Ok(Json(st.sessions.logout(&caller.administered_session(&id)?).await?))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/qr", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = LiveQr), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "no live QR code")))]
async fn current_qr(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<LiveQr>> {
    let session = caller.use_session(&st, &id).await?;
    st.sessions.current_qr(&session.key()).map(Json).ok_or_else(|| {
        ApiError::not_found("no_qr", format!("no QR code is live for this session (status {})", session.status))
    })
}

/// Most recent first (pinned chats on top).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/chats", tag = "chats", security(("tenant" = [])),
    params(("id" = String, Path), Page),
    responses((status = 200, body = Vec<Chat>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_chats(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Chat>>> {
    let (limit, offset) = page.bounds()?;
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(chats::list(st.store.pool(), &key, limit, offset).await?))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/chats/{chatId}", tag = "chats", security(("tenant" = [])),
    params(("id" = String, Path), ("chatId" = String, Path)),
    responses((status = 200, body = Chat), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_chat(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, chat_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<Chat>> {
    let key = caller.use_session(&st, &id).await?.key();
    chats::get(st.store.pool(), &key, &chat_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("chat_not_found", format!("chat '{chat_id}' not found")))
}

/// Newest first.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/chats/{chatId}/messages", tag = "chats", security(("tenant" = [])),
    params(("id" = String, Path), ("chatId" = String, Path), Page),
    responses((status = 200, body = Vec<Message>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_chat_messages(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, chat_id)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<Vec<Message>>> {
    let (limit, offset) = page.bounds()?;
    let key = caller.use_session(&st, &id).await?.key();
    if chats::get(st.store.pool(), &key, &chat_id).await?.is_none() {
        return Err(ApiError::not_found("chat_not_found", format!("chat '{chat_id}' not found")));
    }
    Ok(Json(messages::list_for_chat(st.store.pool(), &key, &chat_id, limit, offset).await?))
}

#[utoipa::path(post, path = "/api/v1/sessions/{id}/chats/{chatId}/read", tag = "chats", security(("tenant" = [])),
    params(("id" = String, Path), ("chatId" = String, Path)),
    responses((status = 200, body = Chat), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn mark_chat_read(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, chat_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<Chat>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.mark_read(&key, &chat_id).await?))
}

/// The counters `tenant.stats` pushes.
#[utoipa::path(get, path = "/api/v1/stats", tag = "sessions", security(("tenant" = [])),
    responses((status = 200, body = TenantStats), (status = 401, body = ErrorBody)))]
async fn tenant_stats(caller: Caller, State(st): State<AppState>) -> ApiResult<Json<TenantStats>> {
    // Counters span every session: users who see only some of them do not get them.
    if st.directory.session_access(&caller.tenant) != Some(SessionAccess::All) {
        caller.require_admin()?;
    }
    Ok(Json(tenants::stats(st.store.pool(), &caller.tenant).await?))
}
