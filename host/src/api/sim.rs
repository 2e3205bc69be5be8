//! The phone side of the simulator, for sessions whose connector is `sim`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Admin, ApiJson, ApiPath, Caller};
use super::state::AppState;
use chrono::Utc;

use crate::connector::sim::{Device, NetworkRecord, Sender};
use crate::connector::{ConnectorEvent, ContactProfile, Details, QuotedRef};
use crate::model::{ContactCard, Jid, LinkPreview, Location, MediaInfo, MessageType, Poll, PollOption, SessionKey};
use crate::store::sessions as stored;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbound))
        // A contact's file comes base64 in the body, up to WhatsApp's largest.
        .layer(axum::extract::DefaultBodyLimit::max(140 * 1024 * 1024))
        .routes(routes!(scan))
        .routes(routes!(pair))
        .routes(routes!(contact_reacts))
        .routes(routes!(contact_edits))
        .routes(routes!(contact_revokes))
        .routes(routes!(contact_votes))
        .routes(routes!(network))
        .routes(routes!(drop_network))
        .routes(routes!(silence))
        .routes(routes!(phone_logout))
        .routes(routes!(invalid_numbers))
        .routes(routes!(set_contact))
        .routes(routes!(move_clock))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveClock {
    /// How far to move the plugins' clock, in milliseconds (back when negative).
    advance_ms: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginTime {
    /// How far the plugins' clock now is from real time.
    offset_ms: i64,
    /// What a plugin reads as now, in milliseconds since the epoch.
    now_ms: u64,
}

/// Moves the clock every plugin reads (the `clock` capability), so a test decides what time a
/// bot sees (business hours, cooldowns) without waiting; the rest of the gateway keeps real
/// time. At most ten years either way from real time. The operator's, as it applies to every
/// tenant.
#[utoipa::path(post, path = "/api/v1/sim/clock", tag = "simulator", security(("admin" = [])),
    request_body = MoveClock,
    responses((status = 200, body = PluginTime), (status = 422, body = ErrorBody)))]
async fn move_clock(
    _: Admin,
    State(st): State<AppState>,
    ApiJson(req): ApiJson<MoveClock>,
) -> ApiResult<Json<PluginTime>> {
    let clock = st.plugins.clock();
    let offset_ms =
        clock.advance(req.advance_ms).map_err(|e| ApiError::unprocessable("clock_too_far", e.to_string()))?;
    Ok(Json(PluginTime { offset_ms, now_ms: clock.now_ms() }))
}

/// Resolves a session the caller administers and checks it runs on the simulator: playing
/// the phone is the tenant administrator's, never a user's.
pub(super) async fn sim_session(st: &AppState, caller: &Caller, id: &str) -> ApiResult<SessionKey> {
    let key = caller.administered_session(id)?;
    // Only a simulated session can be connected to the simulator: no need to read it.
    if st.sim.is_connected(&key) {
        return Ok(key);
    }
    let session = st.sessions.get(&key).await?;
    if session.connector != "sim" {
        return Err(ApiError::conflict(
            "not_simulated",
            format!("session '{id}' uses the '{}' connector, not the simulator", session.connector),
        ));
    }
    // The simulated phone is where the session runs.
    st.sessions.refuse_if_elsewhere(&key).await?;
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
    /// The group the sender writes in (its jid; the sender must be a participant); omitted:
    /// the sender's own chat with the session.
    group: Option<String>,
    /// The sender's LID (`<digits>@lid`), as the network reports it beside the number.
    lid: Option<String>,
    /// The text, or a media caption; required for `text`.
    #[serde(default)]
    text: String,
    /// `text` (default), `image`, `audio`, `video`, `document`, `location`, `contact`, `poll`, ...
    #[serde(rename = "type", default, deserialize_with = "known_kind")]
    kind: Option<MessageType>,
    /// For `location`.
    location: Option<Location>,
    /// For `contact`.
    contact: Option<ContactCard>,
    /// For `poll`: the question and its options.
    poll: Option<SimPoll>,
    /// For `image`, `video`, `audio`, `document`, `sticker`: the file the contact sends.
    media: Option<SimMedia>,
    /// WhatsApp id of a message of this chat the contact replies to.
    reply_to: Option<String>,
    /// Jids or numbers the text mentions.
    #[serde(default)]
    mentions: Vec<String>,
    /// For `text`: the preview the contact's app made for the link in it.
    link_preview: Option<LinkPreview>,
    /// The id the message travels under (letters and digits, at most 64): WhatsApp keeps a
    /// message's id from sender to recipient, so a message another session sent arrives with
    /// the `waMessageId` it has there. Omitted: a new one.
    wa_message_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimMedia {
    /// The file, base64.
    base64: String,
    /// What the network says the file is (WhatsApp always says); omitted: told by the bytes.
    mime_type: Option<String>,
    file_name: Option<String>,
    #[serde(default)]
    voice_note: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimPoll {
    question: String,
    options: Vec<String>,
    selectable_count: Option<u32>,
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

pub(super) fn sender_jid(from: &str) -> ApiResult<Jid> {
    Jid::parse(from).map_err(|e| ApiError::unprocessable("invalid_sender", e.to_string()))
}

/// What an inbound message of `kind` carries, from the request's blocks.
fn inbound_details(st: &AppState, key: &SessionKey, req: &mut Inbound, kind: MessageType) -> ApiResult<Details> {
    let missing = |field: &str| ApiError::unprocessable("missing_content", format!("type '{kind}' needs '{field}'"));
    let mut details = Details::default();
    match kind {
        MessageType::Location => details.location = Some(req.location.take().ok_or_else(|| missing("location"))?),
        MessageType::Contact => details.contact = Some(req.contact.take().ok_or_else(|| missing("contact"))?),
        MessageType::Poll => {
            let p = req.poll.take().ok_or_else(|| missing("poll"))?;
            if p.options.len() < 2 {
                return Err(ApiError::unprocessable("invalid_poll", "a poll has at least 2 options"));
            }
            details.poll = Some(Poll {
                question: p.question,
                options: p.options.into_iter().map(|name| PollOption { name, voters: vec![] }).collect(),
                selectable_count: p.selectable_count.unwrap_or(1),
            });
        }
        MessageType::Text if req.text.is_empty() => return Err(missing("text")),
        MessageType::Image | MessageType::Video | MessageType::Audio | MessageType::Document | MessageType::Sticker => {
            use base64::Engine;
            // Without a file the message arrives as one whose file could not be fetched.
            let Some(m) = req.media.take() else { return finish(req, details) };
            let data = base64::engine::general_purpose::STANDARD
                .decode(m.base64.as_bytes())
                .map_err(|e| ApiError::unprocessable("invalid_media", format!("media.base64 is not base64: {e}")))?;
            details.media = Some(MediaInfo {
                mime_type: m.mime_type,
                size: Some(data.len() as u64),
                file_name: m.file_name,
                voice_note: m.voice_note,
                ..Default::default()
            });
            details.media_source = Some(st.sim.keep_media(key, data.into()));
        }
        _ => {}
    }
    finish(req, details)
}

/// The parts of an inbound message any kind may have: its text's length, mentions, a reply.
fn finish(req: &mut Inbound, mut details: Details) -> ApiResult<Details> {
    if req.text.chars().count() > crate::sessions::MAX_TEXT_CHARS {
        return Err(ApiError::unprocessable("invalid_text", "text must be at most 65536 characters"));
    }
    details.mentions = req
        .mentions
        .iter()
        .map(|m| Jid::parse(m).map(|j| j.to_string()))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::unprocessable("invalid_mentions", e.to_string()))?;
    details.quoted = req.reply_to.take().map(|wa_id| QuotedRef { wa_id, sender: None, from_me: false, text: None });
    details.link_preview = req.link_preview.take();
    if details.link_preview.is_some()
        && (details.media.is_some()
            || details.location.is_some()
            || details.contact.is_some()
            || details.poll.is_some())
    {
        return Err(ApiError::unprocessable("mixed_content", "linkPreview goes with a text"));
    }
    Ok(details)
}

/// How long an inbound waits for its session to store it before the answer says it was not.
const STORED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A contact sends the session a message of any kind: answered once the session stored it
/// (or, on a silenced connection, once the simulated server holds it for the next one).
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/inbound", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = Inbound,
    responses((status = 202, body = InboundAccepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn inbound(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(mut req): ApiJson<Inbound>,
) -> ApiResult<(StatusCode, Json<InboundAccepted>)> {
    let key = sim_session(&st, &caller, &id).await?;
    let from = sender_jid(&req.from)?;
    let kind = req.kind.unwrap_or(MessageType::Text);
    let details = inbound_details(&st, &key, &mut req, kind)?;
    let lid = match req.lid.as_deref().map(Jid::parse) {
        None => None,
        Some(Ok(lid)) if lid.is_lid() => Some(lid.to_string()),
        Some(_) => return Err(ApiError::unprocessable("invalid_lid", "lid must look like <digits>@lid")),
    };
    let text = match kind {
        MessageType::Location if req.text.is_empty() => {
            details.location.as_ref().and_then(|l| l.name.clone()).unwrap_or_default()
        }
        MessageType::Contact if req.text.is_empty() => {
            details.contact.as_ref().map(|c| c.name.clone()).unwrap_or_default()
        }
        MessageType::Poll if req.text.is_empty() => {
            details.poll.as_ref().map(|p| p.question.clone()).unwrap_or_default()
        }
        _ => req.text.clone(),
    };
    let group = req.group.as_deref().map(crate::sessions::groups::parse_group).transpose()?;
    if let Some(id) = &req.wa_message_id
        && (id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(ApiError::unprocessable("invalid_wa_message_id", "waMessageId: letters and digits, at most 64"));
    }
    let sender = Sender { from: &from, group, lid, name: req.name.as_deref(), wa_id: req.wa_message_id.clone() };
    let (wa_id, stored) = st.sim.inbound(&key, sender, kind, &text, details)?;
    // Answered once the session stored the message, as WhatsApp's server keeps a message until
    // the device acknowledges it: a 202 is a message that cannot be lost any more.
    if let Some(stored) = stored {
        let not_stored = |why: &str| {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "inbound_not_stored",
                format!("{why}; send it again with the same waMessageId ('{wa_id}') and it is stored once"),
            );
            e.retry_after = Some(1);
            e
        };
        match tokio::time::timeout(STORED_WAIT, stored).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Err(not_stored("the session could not store the message")),
            Ok(Err(_)) => return Err(not_stored("the session's connection closed before the message was stored")),
            Err(_) => return Err(not_stored("the session did not store the message in time")),
        }
    }
    Ok((StatusCode::ACCEPTED, Json(InboundAccepted { wa_message_id: wa_id })))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactReacts {
    /// Who reacts (phone number or jid); the chat is theirs.
    from: String,
    /// WhatsApp id of the message reacted to.
    wa_message_id: String,
    /// The emoji; empty takes the reaction back.
    emoji: String,
}

/// A contact reacts to a message of their chat.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/reaction", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = ContactReacts,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn contact_reacts(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ContactReacts>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let from = sender_jid(&req.from)?;
    if !req.emoji.is_empty() {
        crate::sessions::outgoing::check_emoji(&req.emoji)?;
    }
    let ev = ConnectorEvent::Reaction {
        chat: from.clone(),
        target_wa_id: req.wa_message_id,
        from,
        emoji: req.emoji,
        timestamp: Utc::now(),
    };
    st.sim.from_phone(&key, ev)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactEdits {
    from: String,
    /// WhatsApp id of the contact's message.
    wa_message_id: String,
    text: String,
}

/// A contact edits a text they sent.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/edit", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = ContactEdits,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn contact_edits(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ContactEdits>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let from = sender_jid(&req.from)?;
    crate::sessions::outgoing::check_text(&req.text)?;
    let ev = ConnectorEvent::Edited {
        chat: from.clone(),
        target_wa_id: req.wa_message_id,
        from,
        text: req.text,
        timestamp: Utc::now(),
    };
    st.sim.from_phone(&key, ev)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactRevokes {
    from: String,
    wa_message_id: String,
}

/// A contact deletes a message they sent for everyone.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/revoke", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = ContactRevokes,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn contact_revokes(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ContactRevokes>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let from = sender_jid(&req.from)?;
    let ev =
        ConnectorEvent::Revoked { chat: from.clone(), target_wa_id: req.wa_message_id, from, timestamp: Utc::now() };
    st.sim.from_phone(&key, ev)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactVotes {
    from: String,
    /// WhatsApp id of the poll.
    wa_message_id: String,
    /// The option names chosen; empty takes the vote back.
    options: Vec<String>,
}

/// A contact votes on a poll of their chat.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/vote", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = ContactVotes,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn contact_votes(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ContactVotes>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let from = sender_jid(&req.from)?;
    if req.options.len() > crate::sessions::outgoing::MAX_POLL_OPTIONS {
        return Err(ApiError::unprocessable("invalid_poll", "a vote names at most 12 options"));
    }
    st.sim.vote(&key, &from, &req.wa_message_id, &req.options)?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the session sent over the simulated network (messages, reactions, edits, revokes,
/// presence, typing), oldest first, the last 200.
#[utoipa::path(get, path = "/api/v1/sim/sessions/{id}/network", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<NetworkRecord>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn network(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<NetworkRecord>>> {
    let key = sim_session(&st, &caller, &id).await?;
    Ok(Json(st.sim.network(&key)))
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

/// The connection goes silent, as a zombie connection does: it still looks up, nothing
/// crosses it, and probes go unanswered. What contacts send meanwhile is held by the
/// simulated server and delivered once the session has reconnected.
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/silence", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn silence(caller: Caller, State(st): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    st.sim.silence(&key)?;
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimContact {
    /// The contact's phone number.
    number: String,
    about: Option<String>,
    picture_url: Option<String>,
    #[serde(default)]
    business: bool,
    /// `<digits>@lid`.
    lid: Option<String>,
}

/// Sets what the simulated network shows of a contact (`GET .../contacts/{contact}`).
#[utoipa::path(post, path = "/api/v1/sim/sessions/{id}/contacts", tag = "simulator", security(("tenant" = [])),
    params(("id" = String, Path)), request_body = SimContact,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_contact(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SimContact>,
) -> ApiResult<StatusCode> {
    let key = sim_session(&st, &caller, &id).await?;
    let lid = match req.lid.as_deref().map(Jid::parse) {
        None => None,
        Some(Ok(lid)) if lid.is_lid() => Some(lid),
        Some(_) => return Err(ApiError::unprocessable("invalid_lid", "lid must be <digits>@lid")),
    };
    let long = |v: &Option<String>| v.as_ref().is_some_and(|t| t.chars().count() > 1024);
    if long(&req.about) || long(&req.picture_url) {
        return Err(ApiError::unprocessable("invalid_input", "about and pictureUrl are at most 1024 characters"));
    }
    let profile = ContactProfile { lid, about: req.about, business: req.business, picture_url: req.picture_url };
    st.sim.set_profile(&key, &req.number, profile)?;
    Ok(StatusCode::NO_CONTENT)
}
