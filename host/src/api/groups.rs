//! Tenant routes about a session's WhatsApp groups: list and read them, create one, change
//! its subject, description and members, share or revoke its invite link, join by invite,
//! leave. `{group}` is a group jid (`<digits>@g.us`) or its digits.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Caller};
use super::state::AppState;
use crate::model::{Group, GroupInvite, GroupJoin, Keyed, ParticipantAction, ParticipantResult};
use crate::sessions::groups::GroupUpdate;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(join_group))
        .routes(routes!(get_group, update_group))
        .routes(routes!(change_participants))
        .routes(routes!(get_invite, revoke_invite))
        .routes(routes!(leave_group))
}

/// Every group the session's number is a member of, with its members.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/groups", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<Group>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the session is not connected"), (status = 502, body = ErrorBody)))]
async fn list_groups(caller: Caller, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Vec<Group>>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.groups(&key).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroup {
    /// 1 to 100 characters.
    subject: String,
    /// Up to 1024 phone numbers (or their jids) to add besides the session's number.
    #[serde(default)]
    participants: Vec<String>,
}

/// Creates a group with the session's number as its creator (`superadmin`); members not on
/// WhatsApp are left out. `group.participants` (`add`) and `chat.updated` follow.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/groups", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = CreateGroup,
    responses((status = 201, body = Group), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the session is not connected"), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn create_group(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateGroup>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok((StatusCode::CREATED, Json(st.sessions.create_group(&key, &req.subject, &req.participants).await?)))
}

/// A group the session's number is in.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/groups/{group}", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)),
    responses((status = 200, body = Group), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`session_not_found`, or `group_not_found`"),
        (status = 409, body = ErrorBody, description = "the session is not connected"), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn get_group(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
) -> ApiResult<Json<Group>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.group(&key, &group).await?))
}

/// Absent fields are kept; `description: null` (or empty) removes the description.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateGroup {
    /// 1 to 100 characters.
    subject: Option<String>,
    /// Up to 2048 characters.
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
}

/// Changes a group's subject and/or description; `group.updated` follows for each (a new
/// subject also renames the chat: `chat.updated`). A locked group takes it from admins only.
#[utoipa::path(patch, path = "/api/v1/sessions/{id}/groups/{group}", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)), request_body = UpdateGroup,
    responses((status = 200, body = Group), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "a locked group, and not an admin"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn update_group(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<UpdateGroup>,
) -> ApiResult<Json<Group>> {
    let key = caller.use_session(&st, &id).await?.key();
    let update = GroupUpdate { subject: req.subject, description: req.description };
    Ok(Json(st.sessions.update_group(&key, &group, update).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeParticipants {
    action: ParticipantAction,
    /// 1 to 1024 phone numbers or their jids.
    participants: Vec<String>,
}

/// Adds, removes, promotes or demotes members (admins only). WhatsApp answers for each member;
/// `group.participants` follows for those it changed.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/groups/{group}/participants", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)), request_body = ChangeParticipants,
    responses((status = 200, body = Vec<ParticipantResult>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not an admin of the group"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn change_participants(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ChangeParticipants>,
) -> ApiResult<Json<Vec<ParticipantResult>>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.change_members(&key, &group, req.action, &req.participants).await?))
}

/// The group's invite link (admins only).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/groups/{group}/invite", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)),
    responses((status = 200, body = GroupInvite), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not an admin of the group"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn get_invite(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
) -> ApiResult<Json<GroupInvite>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.invite(&key, &group, false).await?))
}

/// Revokes the invite link: the old code stops working; the answer is the new one.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}/groups/{group}/invite", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)),
    responses((status = 200, body = GroupInvite), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not an admin of the group"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn revoke_invite(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
) -> ApiResult<Json<GroupInvite>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.invite(&key, &group, true).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinGroup {
    /// The invite code, or its `https://chat.whatsapp.com/<code>` link.
    invite: String,
}

/// Joins a group by invite. Where the group's admins approve new members the answer is
/// `pending` and nothing changes until they do; otherwise `group.participants` (`add`, the
/// session's number) follows.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/groups/join", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = JoinGroup,
    responses((status = 200, body = GroupJoin), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody, description = "the invite is not valid or was revoked")))]
async fn join_group(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<JoinGroup>,
) -> ApiResult<Json<GroupJoin>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.join_group(&key, &req.invite).await?))
}

/// Leaves a group; `group.participants` (`remove`, the session's number) follows. The chat
/// and its history stay.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/groups/{group}/leave", tag = "groups", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn leave_group(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let key = caller.use_session(&st, &id).await?.key();
    st.sessions.leave_group(&key, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}
