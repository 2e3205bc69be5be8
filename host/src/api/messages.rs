//! Tenant routes: sending messages of every kind, and what can be done to one afterwards
//! (react, edit, delete for everyone).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Caller};
use super::state::AppState;
use crate::connector::OutgoingBody;
use crate::model::{ContactCard, Keyed, Location, Message};
use crate::sessions::outgoing::vcard_for;
use crate::sessions::{IdempotencyKey, SendRequest};
use crate::store::messages;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(get_message, edit_message, revoke_message))
        .routes(routes!(react, remove_reaction))
}

/// The header a client sets to make a send safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum SendKind {
    Text,
    Location,
    Contact,
    Poll,
}

/// A contact card: give `vcard`, or a `phone` and the gateway writes the card.
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactInput {
    name: String,
    vcard: Option<String>,
    /// A phone number; the card WhatsApp shows gets it with its "message" button.
    phone: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollInput {
    question: String,
    /// 2 to 12 distinct options.
    options: Vec<String>,
    /// How many options a voter may pick (default 1: single choice).
    selectable_count: Option<u32>,
}

/// A message to send. `type` says which block it has (`text`, `location`, `contact`, `poll`);
/// without `type` the one block given says it. `replyTo` and `mentions` go with any kind.
#[derive(Deserialize, Serialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessage {
    /// Phone number (`+62812...`) or jid (`62812...@s.whatsapp.net`, `...@g.us`).
    to: String,
    #[serde(rename = "type")]
    kind: Option<SendKind>,
    text: Option<String>,
    location: Option<Location>,
    contact: Option<ContactInput>,
    poll: Option<PollInput>,
    /// Id of a message of the same chat this one replies to (quotes).
    reply_to: Option<String>,
    /// Phone numbers or jids the text mentions (write them as `@<number>` in the text).
    mentions: Option<Vec<String>>,
}

impl SendMessage {
    fn body(self) -> ApiResult<(String, OutgoingBody, Option<String>, Vec<String>)> {
        let given: Vec<SendKind> = [
            (self.text.is_some(), SendKind::Text),
            (self.location.is_some(), SendKind::Location),
            (self.contact.is_some(), SendKind::Contact),
            (self.poll.is_some(), SendKind::Poll),
        ]
        .into_iter()
        .filter_map(|(present, kind)| present.then_some(kind))
        .collect();
        let kind = match (self.kind, given.as_slice()) {
            (Some(kind), [only]) if *only == kind => kind,
            (None, [only]) => *only,
            (Some(kind), []) => {
                let field = serde_json::to_value(kind).expect("kind serialises");
                return Err(ApiError::unprocessable(
                    "missing_content",
                    format!("type '{}' needs the field {field}", field.as_str().unwrap_or_default()),
                ));
            }
            (None, []) => {
                return Err(ApiError::unprocessable("missing_content", "give one of text, location, contact, poll"));
            }
            _ => {
                return Err(ApiError::unprocessable(
                    "mixed_content",
                    "a message has exactly one of text, location, contact, poll (matching its type)",
                ));
            }
        };
        let body = match kind {
            SendKind::Text => OutgoingBody::Text(self.text.unwrap_or_default()),
            SendKind::Location => OutgoingBody::Location(self.location.expect("checked above")),
            SendKind::Contact => {
                let c = self.contact.expect("checked above");
                let vcard = match (c.vcard, c.phone) {
                    (Some(v), None) => v,
                    (None, Some(phone)) => vcard_for(&c.name, &phone),
                    _ => {
                        return Err(ApiError::unprocessable(
                            "invalid_contact",
                            "contact needs exactly one of vcard, phone",
                        ));
                    }
                };
                OutgoingBody::Contact(ContactCard { name: c.name, vcard })
            }
            SendKind::Poll => {
                let p = self.poll.expect("checked above");
                OutgoingBody::Poll {
                    question: p.question,
                    options: p.options,
                    selectable_count: p.selectable_count.unwrap_or(1),
                }
            }
        };
        Ok((self.to, body, self.reply_to, self.mentions.unwrap_or_default()))
    }
}

fn idempotency_key(headers: &HeaderMap, req: &SendMessage) -> ApiResult<Option<IdempotencyKey>> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.chars().count() <= MAX_IDEMPOTENCY_KEY_CHARS)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable characters"),
            )
        })?;
    let digest = Sha256::digest(serde_json::to_vec(req).expect("a request serialises"));
    Ok(Some(IdempotencyKey { key: key.to_owned(), request_sha256: hex::encode(digest) }))
}

/// Accepted: stored `PENDING`, sent when the session is connected; `message.sent` and then
/// `message.status` follow. With an `Idempotency-Key`, a retry answers with the same message
/// (header `Idempotent-Replayed: true`) and sends nothing again; keys are kept 24 hours.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "makes a retried send answer with the first one's message")),
    request_body = SendMessage,
    responses((status = 202, body = Message), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_message(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SendMessage>,
) -> ApiResult<Response> {
    let session = caller.use_session(&st, &id).await?;
    let idempotency = idempotency_key(&headers, &req)?;
    let (to, body, reply_to, mentions) = req.body()?;
    let accepted = st.sessions.send(&session.key(), SendRequest { to, body, reply_to, mentions, idempotency }).await?;
    let mut response = (StatusCode::ACCEPTED, Json(accepted.message)).into_response();
    if accepted.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages/{messageId}", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("messageId" = String, Path)),
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_message(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<Message>> {
    let key = caller.use_session(&st, &id).await?.key();
    messages::get(st.store.pool(), &key, &message_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("message_not_found", format!("message '{message_id}' not found")))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditMessage {
    /// The new text.
    text: String,
}

/// Edits a text this session sent, within WhatsApp's 15 minutes; `message.edited` follows.
#[utoipa::path(patch, path = "/api/v1/sessions/{id}/messages/{messageId}", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("messageId" = String, Path)), request_body = EditMessage,
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not a message this session sent"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn edit_message(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<EditMessage>,
) -> ApiResult<Json<Message>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.edit(&key, &message_id, &req.text).await?))
}

/// Deletes a message this session sent for everyone in the chat; `message.revoked` follows.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}/messages/{messageId}", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("messageId" = String, Path)),
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "not a message this session sent"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn revoke_message(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<Message>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.revoke(&key, &message_id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct React {
    /// One emoji.
    emoji: String,
}

/// Sets this session's reaction to a message (replacing an earlier one); `message.reaction`
/// follows.
#[utoipa::path(put, path = "/api/v1/sessions/{id}/messages/{messageId}/reaction", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("messageId" = String, Path)), request_body = React,
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn react(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<React>,
) -> ApiResult<Json<Message>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.react(&key, &message_id, Some(&req.emoji)).await?))
}

/// Takes this session's reaction back.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}/messages/{messageId}/reaction", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("messageId" = String, Path)),
    responses((status = 200, body = Message), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn remove_reaction(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<Message>> {
    let key = caller.use_session(&st, &id).await?.key();
    Ok(Json(st.sessions.react(&key, &message_id, None).await?))
}
