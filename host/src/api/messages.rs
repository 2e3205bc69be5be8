//! Tenant routes: sending messages of every kind, and what can be done to one afterwards
//! (react, edit, delete for everyone).

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::state::AppState;
use crate::media::links::{LinkError, MAX_LINK_TTL_SECS};
use crate::model::{Keyed, MediaInfo, Message, MessageOrigin, SessionKey};
use crate::sessions::{IdempotencyKey, SessionError, compose};
use wagate_model::send::{MediaInput, SendKind, SendMessage};
use crate::store::{messages, sessions as sessions_store};

/// A send may carry a file up to WhatsApp's largest (a 100 MB document), base64-encoded
/// in JSON (a third more) or as a multipart part; every other route keeps `max_body_bytes`.
const MAX_SEND_BODY: usize = 100 * 1024 * 1024 / 3 * 4 + 64 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .layer(DefaultBodyLimit::max(MAX_SEND_BODY))
        .routes(routes!(get_message, edit_message, revoke_message))
        .routes(routes!(react, remove_reaction))
        .routes(routes!(get_media))
        .routes(routes!(media_link))
        .routes(routes!(signed_media))
}

/// The header a client sets to make a send safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The same send as a form, for files: `file` is the file part (its filename is a
/// document's name).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SendMediaForm {
    to: String,
    #[schema(rename = "type")]
    kind: SendKind,
    caption: Option<String>,
    #[schema(rename = "replyTo")]
    reply_to: Option<String>,
    /// Comma-separated phone numbers or jids.
    mentions: Option<String>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn invalid_media(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("invalid_media", message)
}

/// A send as a multipart form: the same fields as the JSON body, the file as `file`.
async fn from_form(mut form: Multipart) -> ApiResult<(SendMessage, Bytes)> {
    let mut req = SendMessage::default();
    let (mut file, mut file_name) = (None, None);
    while let Some(field) = form.next_field().await.map_err(|e| invalid_media(format!("invalid form: {e}")))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            file_name = field.file_name().map(str::to_owned);
            file = Some(field.bytes().await.map_err(|e| invalid_media(format!("invalid form: {e}")))?);
            continue;
        }
        let text = field.text().await.map_err(|e| invalid_media(format!("invalid form field '{name}': {e}")))?;
        match name.as_str() {
            "to" => req.to = text,
            "type" => {
                req.kind = Some(
                    serde_json::from_value(serde_json::Value::String(text.clone()))
                        .map_err(|_| ApiError::unprocessable("invalid_body", format!("unknown type '{text}'")))?,
                )
            }
            "caption" => req.caption = Some(text),
            "replyTo" => req.reply_to = Some(text),
            "mentions" => req.mentions = Some(text.split(',').map(|m| m.trim().to_owned()).collect()),
            other => return Err(ApiError::unprocessable("invalid_body", format!("unknown form field '{other}'"))),
        }
    }
    if req.to.is_empty() {
        return Err(ApiError::unprocessable("invalid_body", "the form needs 'to'"));
    }
    let file = file.ok_or_else(|| ApiError::unprocessable("missing_content", "the form needs a 'file' part"))?;
    req.media = Some(MediaInput { base64: None, url: None, file_name });
    Ok((req, file))
}

fn idempotency_key(headers: &HeaderMap, req: &SendMessage, file: Option<&[u8]>) -> ApiResult<Option<IdempotencyKey>> {
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
    // The file counts by its digest, not by its base64 text.
    let mut fields = serde_json::to_value(req).expect("a request serialises");
    if let Some(media) = fields.get_mut("media").and_then(|m| m.as_object_mut()) {
        media.remove("base64");
    }
    let mut digest = Sha256::new();
    digest.update(serde_json::to_vec(&fields).expect("a request serialises"));
    if let Some(file) = file {
        digest.update(Sha256::digest(file));
    }
    Ok(Some(IdempotencyKey { key: key.to_owned(), request_sha256: hex::encode(digest.finalize()) }))
}

/// Accepted: stored `PENDING`, sent when the session is connected; `message.sent` and then
/// `message.status` follow. With an `Idempotency-Key`, a retry answers with the same message
/// (header `Idempotent-Replayed: true`) and sends nothing again; keys are kept 24 hours.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/messages", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "makes a retried send answer with the first one's message")),
    request_body(content((SendMessage = "application/json"), (SendMediaForm = "multipart/form-data"))),
    responses((status = 202, body = Message), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "the file is larger than WhatsApp takes for its kind"),
        (status = 415, body = ErrorBody, description = "the file's content is not a type its kind takes"), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "the session's send queue is full (`send_queue_full`, with `Retry-After`)")))]
async fn send_message(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let session = caller.use_session(&st, &id).await?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (req, file) = if is_form {
        let form = Multipart::from_request(request, &st).await.map_err(|e| invalid_media(e.body_text()))?;
        let (req, file) = from_form(form).await?;
        (req, Some(file))
    } else {
        let ApiJson(req) = ApiJson::<SendMessage>::from_request(request, &st).await?;
        let file = compose::decoded_media(&req)?;
        (req, file)
    };
    let idempotency = idempotency_key(&headers, &req, file.as_deref())?;
    let mut request = compose::request(req, file, idempotency)?;
    request.origin = Some(MessageOrigin::Api { user: caller.user().map(str::to_owned) });
    let accepted = match st.sessions.send(&session.key(), request).await {
        Ok(accepted) => accepted,
        Err(e) => {
            if matches!(e, SessionError::QueueFull { .. }) {
                st.sessions.queue_metrics().refused("api");
            }
            return Err(e.into());
        }
    };
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

/// The message's file, as stored: for images, videos, audio and stickers shown inline, for
/// documents as an attachment with their name. Served with `nosniff` and a sandbox policy, so
/// a file is never run as a page of the gateway.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages/{messageId}/media", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("messageId" = String, Path)),
    responses((status = 200, description = "the file, with its type, length and `ETag` (its SHA-256)", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 410, body = ErrorBody, description = "`media_expired`: deleted after `media.retention_secs`")))]
async fn get_media(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let key = caller.use_session(&st, &id).await?.key();
    serve_file(&st, &key, &message_id).await
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// How long the link works, 1 to 86400 seconds (default `media.link_ttl_secs`).
    ttl_seconds: Option<u64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaLinkBody {
    /// Path (on this gateway) that serves the file without any other credential.
    url: String,
    #[serde(serialize_with = "crate::model::time::millis")]
    expires_at: DateTime<Utc>,
}

/// A short-lived link to the message's file that works without credentials, for browsers
/// (`<img src>`, a download link). Anyone holding it can fetch that one file until it
/// expires.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/messages/{messageId}/media/link", tag = "messages", security(("tenant" = [])),
    params(("id" = String, Path), ("messageId" = String, Path), LinkQuery),
    responses((status = 200, body = MediaLinkBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn media_link(
    caller: Caller,
    State(st): State<AppState>,
    ApiPath((id, message_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<LinkQuery>,
) -> ApiResult<Json<MediaLinkBody>> {
    let key = caller.use_session(&st, &id).await?.key();
    let ttl = q.ttl_seconds.unwrap_or(st.config.media.link_ttl_secs);
    if !(1..=MAX_LINK_TTL_SECS).contains(&ttl) {
        return Err(ApiError::unprocessable(
            "invalid_ttl",
            format!("ttlSeconds must be between 1 and {MAX_LINK_TTL_SECS}"),
        ));
    }
    stored_file(&st, &key, &message_id).await?;
    let link = st.media_links.sign(&key, &message_id, Utc::now() + chrono::Duration::seconds(ttl as i64));
    Ok(Json(MediaLinkBody { url: link.path, expires_at: link.expires_at }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

/// A message's file through a signed link (from `.../media/link`): no credential, the link is
/// the right. An expired or altered link is refused with `403`.
#[utoipa::path(get, path = "/api/v1/media/{tenant}/{session}/{messageId}", tag = "messages",
    params(("tenant" = String, Path), ("session" = String, Path), ("messageId" = String, Path), SignedQuery),
    responses((status = 200, description = "the file, as `.../messages/{messageId}/media` serves it", content_type = "application/octet-stream"),
        (status = 403, body = ErrorBody, description = "`invalid_link` or `link_expired`"), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn signed_media(
    State(st): State<AppState>,
    ApiPath((tenant, session, message_id)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<SignedQuery>,
) -> ApiResult<Response> {
    let key = SessionKey::new(&tenant, &session);
    let (Some(expires), Some(signature)) = (q.expires, q.signature) else {
        return Err(ApiError::forbidden("invalid_link", "a media link needs its expires and signature"));
    };
    st.media_links.verify(&key, &message_id, expires, &signature, Utc::now()).map_err(|e| {
        let code = match e {
            LinkError::Expired => "link_expired",
            LinkError::BadSignature => "invalid_link",
        };
        ApiError::forbidden(code, e.to_string())
    })?;
    // A deleted tenant or session takes its links with it.
    if !st.directory.contains(&tenant) || sessions_store::get(st.store.pool(), &key).await?.is_none() {
        return Err(ApiError::not_found("media_not_found", "this file no longer exists"));
    }
    serve_file(&st, &key, &message_id).await
}

/// The message and its stored file's metadata, or 404 naming what is missing.
async fn stored_file(st: &AppState, key: &SessionKey, message_id: &str) -> ApiResult<(Message, MediaInfo)> {
    let message = messages::get(st.store.pool(), key, message_id)
        .await?
        .ok_or_else(|| ApiError::not_found("message_not_found", format!("message '{message_id}' not found")))?;
    if message.media_expired_at.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "media_expired",
            "the file was deleted when it passed the gateway's retention period (media.retention_secs)",
        ));
    }
    let not_stored = || ApiError::not_found("media_not_found", "this message has no stored file");
    let info = message.media.clone().ok_or_else(not_stored)?;
    if message.media_url.is_none() {
        return Err(not_stored());
    }
    Ok((message, info))
}

/// The file as stored, with headers that keep a browser from running it as a page.
async fn serve_file(st: &AppState, key: &SessionKey, message_id: &str) -> ApiResult<Response> {
    let (message, info) = stored_file(st, key, message_id).await?;
    let not_stored = || ApiError::not_found("media_not_found", "this message has no stored file");
    let bytes = st.media.get(key, &message.id).await?.ok_or_else(not_stored)?;
    let mime = info.mime_type.as_deref().unwrap_or("application/octet-stream");
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    if let Some(sha) = info.sha256.as_deref().and_then(|s| HeaderValue::from_str(&format!("\"{s}\"")).ok()) {
        h.insert(header::ETAG, sha);
    }
    let disposition = match info.file_name.as_deref() {
        Some(name) => {
            // A header value is ASCII: other characters of the name become '_'.
            let safe: String = name
                .chars()
                .map(|c| if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' { c } else { '_' })
                .collect();
            format!("attachment; filename=\"{safe}\"")
        }
        None => "inline".to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
