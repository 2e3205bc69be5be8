//! Tenant routes: the session's presence (online or not) and its typing state in a chat.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Caller};
use super::state::AppState;
use crate::model::{ChatState, Keyed, Presence};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_presence)).routes(routes!(set_chat_state))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetPresence {
    presence: Presence,
}

/// Shows the session online (`available`) or offline (`unavailable`) to its contacts.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/presence", tag = "sessions", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = SetPresence,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn set_presence(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SetPresence>,
) -> ApiResult<StatusCode> {
    let key = caller.use_session(&st, &id).await?.key();
    st.sessions.set_presence(&key, req.presence).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetChatState {
    state: ChatState,
}

/// Shows "typing…" (`composing`) or "recording audio…" (`recording`) in a chat, until
/// `paused` or a message is sent.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/chats/{chatId}/presence", tag = "chats", security(("tenant" = [])),
    params(("id" = String, Path), ("chatId" = String, Path)), request_body = SetChatState,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn set_chat_state(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, chat_id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<SetChatState>,
) -> ApiResult<StatusCode> {
    let key = caller.use_session(&st, &id).await?.key();
    st.sessions.chat_state(&key, &chat_id, req.state).await?;
    Ok(StatusCode::NO_CONTENT)
}
