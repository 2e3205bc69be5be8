//! The phone side of the simulator, for sessions whose connector is `sim`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Caller};
use super::state::AppState;
use crate::connector::sim::{Device, Sender};
use crate::model::{Jid, MessageType, SessionKey};
use crate::store::sessions as stored;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(scan))
        .routes(routes!(pair))
        .routes(routes!(inbound))
        .routes(routes!(drop_network))
        .routes(routes!(phone_logout))
        .routes(routes!(invalid_numbers))
}

/// Resolves a session the caller administers and checks it runs on the simulator: playing
/// the phone is the tenant administrator's, never a user's.
async fn sim_session(st: &AppState, caller: &Caller, id: &str) -> ApiResult<SessionKey> {
    let key = caller.administered_session(id)?;
    let session = st.sessions.get(&key).await?;
    if session.connector != "sim" {
        return Err(ApiError::conflict(
            "not_simulated",
            format!("session '{id}' uses the '{}' connector, not the simulator", session.connector),
        ));
    }
    Ok(key)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scan {
    /// The QR payload the phone read; omitted = whatever is shown now.
    qr: Option<String>,
    /// The phone's number; random when omitted.
    phone_number: Option<String>,
    display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Linked {
    phone_number: String,
    display_name: Option<String>,
}

impl From<Device> for Linked {
    fn from(d: Device) -> Self {
        Linked { phone_number: d.phone, display_name: d.name }
    }
}

/// The phone scans the session's QR code.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/scan", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body(content = Option<Scan>),
    responses((status = 200, body = Linked), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn scan(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Linked>> {
    let req: Scan = super::optional_json(&body)?;
    let key = sim_session(&st, &caller, &id).await?;
    let device = st.sim.scan(&key, req.qr.as_deref(), req.phone_number.as_deref(), req.display_name.as_deref())?;
    Ok(Json(device.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pair {
    /// The 8-character code, with or without a dash.
    code: String,
    display_name: Option<String>,
}

/// The phone's user enters the pairing code.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/pair", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = Pair,
    responses((status = 200, body = Linked), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pair(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Pair>,
) -> ApiResult<Json<Linked>> {
    let key = sim_session(&st, &caller, &id).await?;
    Ok(Json(st.sim.pair(&key, &req.code, req.display_name.as_deref())?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inbound {
    /// The sender's phone number or jid.
    from: String,
    /// The sender's WhatsApp name.
    name: Option<String>,
    /// The sender's LID (`<digits>@lid`), as the network reports it beside the number.
    lid: Option<String>,
    text: String,
    /// `text` (default), `image`, `audio`, `video`, `document`, ...
    #[serde(rename = "type", default, deserialize_with = "known_kind")]
    kind: Option<MessageType>,
}

/// Readers of the model take kinds they do not know as `other`; a request names a kind this
/// gateway knows, or is refused.
fn known_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MessageType>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundAccepted {
    wa_message_id: String,
}

/// A contact sends the session a message.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/inbound", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = Inbound,
    responses((status = 202, body = InboundAccepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn inbound(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Inbound>,
) -> ApiResult<(StatusCode, Json<InboundAccepted>)> {
    let key = sim_session(&st, &caller, &id).await?;
    let from = Jid::parse(&req.from).map_err(|e| ApiError::unprocessable("invalid_sender", e.to_string()))?;
    if req.text.is_empty() || req.text.chars().count() > crate::sessions::MAX_TEXT_CHARS {
        return Err(ApiError::unprocessable("invalid_text", "text must be 1 to 65536 characters"));
    }
    let lid = match req.lid.as_deref().map(Jid::parse) {
        None => None,
        Some(Ok(lid)) if lid.is_lid() => Some(lid.to_string()),
        Some(_) => return Err(ApiError::unprocessable("invalid_lid", "lid must look like <digits>@lid")),
    };
    let sender = Sender { from: &from, lid, name: req.name.as_deref() };
    let wa_id = st.sim.inbound(&key, sender, &req.text, req.kind.unwrap_or(MessageType::Text))?;
    Ok((StatusCode::ACCEPTED, Json(InboundAccepted { wa_message_id: wa_id })))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Drop {
    /// How long reconnects keep failing after the drop, in ms (default 0).
    outage_ms: Option<u64>,
}

/// The network drops the connection (the session reconnects with backoff).
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/drop", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body(content = Option<Drop>),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn drop_network(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let req: Drop = super::optional_json(&body)?;
    let key = sim_session(&st, &caller, &id).await?;
    st.sim.drop_connection(&key, req.outage_ms.unwrap_or(0))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user removes the linked device from the phone.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/logout", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn phone_logout(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let token = stored::credentials(st.store.pool(), &key)
        .await?
        .and_then(|c| serde_json::from_str::<Device>(&c).ok())
        .map(|d| d.token);
    st.sim.phone_logout(&key, token.as_deref())?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvalidNumbers {
    numbers: Vec<String>,
}

/// Tells the simulated network these numbers are not on WhatsApp: sends to them go FAILED.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/invalid-numbers", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = InvalidNumbers,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn invalid_numbers(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<InvalidNumbers>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    st.sim.add_invalid_numbers(&key, &req.numbers)?;
    Ok(StatusCode::NO_CONTENT)
}
