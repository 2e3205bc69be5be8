//! Tenant routes about contacts: which numbers have a WhatsApp account, and what WhatsApp
//! shows of one.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Caller};
use super::state::AppState;
use crate::model::{ContactInfo, Keyed, NumberCheck};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(check_numbers)).routes(routes!(contact))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckNumbers {
    /// 1 to 50 phone numbers (`+62812...`, `62812...` or their jids).
    numbers: Vec<String>,
}

/// Asks WhatsApp which numbers have an account, before writing to them. The answer keeps the
/// order asked; where WhatsApp tells an account's LID, the gateway keeps it, so the contact
/// keeps its chat when WhatsApp later addresses it by LID.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/contacts/check", tag = "contacts", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = CheckNumbers,
    responses((status = 200, body = Vec<NumberCheck>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the session is not connected"), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn check_numbers(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CheckNumbers>,
) -> ApiResult<Json<Vec<NumberCheck>>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.check_numbers(&key, &req.numbers).await?))
}

/// A contact's profile: its LID, about text, business flag and profile picture address as
/// WhatsApp shows them (each subject to the contact's privacy settings), and the name it
/// last wrote under. `contact` is a phone number or its jid.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/contacts/{contact}", tag = "contacts", security(("tenant" = [])),
    params(("id" = String, Path), ("contact" = String, Path)),
    responses((status = 200, body = ContactInfo), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`session_not_found`, or `not_on_whatsapp`"),
        (status = 409, body = ErrorBody, description = "the session is not connected"), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn contact(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, contact)): ApiPath<(String, String)>,
) -> ApiResult<Json<ContactInfo>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.contact(&key, &contact).await?))
}
