//! The simulator's groups, played from the other members' phones: a contact creates a group
//! (to invite the session's number to), and members change one the session is in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Caller};
use super::sim::{sender_jid, sim_session};
use super::state::AppState;
use crate::connector::groups::GroupChange;
use crate::model::{Jid, ParticipantAction};
use crate::sessions::groups::{MAX_DESCRIPTION_CHARS, MAX_MEMBERS, MAX_SUBJECT_CHARS, parse_group};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(contact_creates_group))
        .routes(routes!(member_changes_participants))
        .routes(routes!(member_changes_settings))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactGroup {
    /// The contact who creates it (its `superadmin`).
    owner: String,
    subject: String,
    /// Other members besides the owner.
    #[serde(default)]
    participants: Vec<String>,
    /// Joins by invite wait for an admin's approval.
    #[serde(default)]
    approval: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactGroupCreated {
    group_jid: String,
    invite_code: String,
}

fn members(list: &[String]) -> ApiResult<Vec<Jid>> {
    if list.len() > MAX_MEMBERS {
        return Err(ApiError::unprocessable("invalid_participants", format!("at most {MAX_MEMBERS} participants")));
    }
    list.iter().map(|m| sender_jid(m)).collect()
}

fn check_len(field: &str, text: &str, max: usize) -> ApiResult<()> {
    if text.chars().count() > max {
        return Err(ApiError::unprocessable("invalid_input", format!("{field}: at most {max} characters")));
    }
    Ok(())
}

/// A contact creates a group the session's number is not in; join it with the invite code.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/groups", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = ContactGroup,
    responses((status = 201, body = ContactGroupCreated), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn contact_creates_group(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ContactGroup>,
) -> ApiResult<(StatusCode, Json<ContactGroupCreated>)> {
    let key = sim_session(&st, &caller, &id).await?;
    let owner = sender_jid(&req.owner)?;
    if req.subject.trim().is_empty() {
        return Err(ApiError::unprocessable("invalid_input", "subject must not be empty"));
    }
    check_len("subject", &req.subject, MAX_SUBJECT_CHARS)?;
    let (jid, code) = st.sim.contact_group(&key, &owner, &req.subject, &members(&req.participants)?, req.approval)?;
    Ok((StatusCode::CREATED, Json(ContactGroupCreated { group_jid: jid.to_string(), invite_code: code })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberChangesParticipants {
    /// The member who does it: an admin, or a member removing itself (leaving) or adding
    /// itself (joining by invite).
    by: String,
    action: ParticipantAction,
    participants: Vec<String>,
}

/// A member of a group the session is in adds, removes, promotes or demotes members.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/groups/{group}/participants", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)), request_body = MemberChangesParticipants,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn member_changes_participants(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<MemberChangesParticipants>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let (group, by) = (parse_group(&group)?, sender_jid(&req.by)?);
    let jids = members(&req.participants)?;
    if jids.is_empty() {
        return Err(ApiError::unprocessable("invalid_participants", "name at least one participant"));
    }
    st.sim.group_change(&key, &group, &by, GroupChange::Members { action: req.action, jids })?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberChangesSettings {
    /// The member who does it.
    by: String,
    subject: Option<String>,
    /// `null` removes the description.
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
}

/// A member of a group the session is in changes its subject and/or description.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/groups/{group}/settings", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path), ("group" = String, Path)), request_body = MemberChangesSettings,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn member_changes_settings(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, group)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<MemberChangesSettings>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let (group, by) = (parse_group(&group)?, sender_jid(&req.by)?);
    if req.subject.is_none() && req.description.is_none() {
        return Err(ApiError::unprocessable("invalid_input", "give a subject, a description, or both"));
    }
    if let Some(subject) = req.subject {
        if subject.trim().is_empty() {
            return Err(ApiError::unprocessable("invalid_input", "subject must not be empty"));
        }
        check_len("subject", &subject, MAX_SUBJECT_CHARS)?;
        st.sim.group_change(&key, &group, &by, GroupChange::Subject(subject))?;
    }
    if let Some(description) = req.description {
        check_len("description", description.as_deref().unwrap_or(""), MAX_DESCRIPTION_CHARS)?;
        st.sim.group_change(&key, &group, &by, GroupChange::Description(description))?;
    }
    Ok(StatusCode::NO_CONTENT)
}
