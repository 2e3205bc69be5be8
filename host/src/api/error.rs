//! The one place errors become HTTP: `{"error":{"code","message"}}` with a fitting status.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthError;
use crate::connector::sim::SimError;
use crate::media::fetch::FetchError;
use crate::media::kinds::MediaError;
use crate::plugins::PluginError;
use crate::quotas::QuotaExceeded;
use crate::sessions::SessionError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Seconds until a rate-limited request may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
    /// The cluster node that runs the request's session, when it is not this one: the
    /// response carries it (`RunsOn`) for the forwarding layer (`forward.rs`).
    pub runs_on: Option<String>,
}

/// On a response refused because another node runs the session: that node.
#[derive(Debug, Clone)]
pub struct RunsOn(pub String);

/// Error body of every failed request.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `session_not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), retry_after: None, runs_on: None }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the gateway log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.into_owned(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if let Some(node) = self.runs_on {
            response.extensions_mut().insert(RunsOn(node));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::conflict("already_exists", format!("{what} already exists")),
            StoreError::NotFound(what) => ApiError::not_found("not_found", format!("{what} not found")),
            other => ApiError::internal(other),
        }
    }
}

/// A count over its limit is forbidden; a rate over its limit is "too many requests" with
/// the time to wait.
impl From<crate::media::MediaStoreError> for ApiError {
    fn from(e: crate::media::MediaStoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<QuotaExceeded> for ApiError {
    fn from(e: QuotaExceeded) -> Self {
        let status = if e.retry_after.is_some() { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::FORBIDDEN };
        ApiError { retry_after: e.retry_after_secs(), ..ApiError::new(status, "quota_exceeded", e.to_string()) }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        if let AuthError::Quota(q) = e {
            return q.into();
        }
        let status = match e {
            AuthError::InvalidPublicKey(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::UNAUTHORIZED,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<crate::webhooks::WebhookError> for ApiError {
    fn from(e: crate::webhooks::WebhookError) -> Self {
        use crate::webhooks::WebhookError;
        match e {
            WebhookError::Store(e) => e.into(),
            WebhookError::Quota(q) => q.into(),
            other => {
                let (status, code) = other.status();
                ApiError::new(status, code, other.to_string())
            }
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        let message = e.to_string();
        match e {
            SessionError::NotFound => ApiError::not_found("session_not_found", message),
            SessionError::OnAnotherNode(node) => {
                ApiError { runs_on: Some(node), ..ApiError::conflict("session_on_another_node", message) }
            }
            SessionError::ChatNotFound => ApiError::not_found("chat_not_found", message),
            SessionError::MessageNotFound => ApiError::not_found("message_not_found", message),
            SessionError::GroupNotFound => ApiError::not_found("group_not_found", message),
            SessionError::NotGroupAdmin(_) => ApiError::new(StatusCode::FORBIDDEN, "not_group_admin", message),
            SessionError::NotOnWhatsApp => ApiError::not_found("not_on_whatsapp", message),
            SessionError::Unprocessable { code, .. } => ApiError::unprocessable(code, message),
            SessionError::NotOwnMessage(_) => ApiError::new(StatusCode::FORBIDDEN, "not_own_message", message),
            SessionError::IdempotencyKeyReused => ApiError::unprocessable("idempotency_key_reused", message),
            SessionError::Refused(_) => ApiError::new(StatusCode::BAD_GATEWAY, "whatsapp_refused", message),
            SessionError::Media(e) => {
                let (status, code) = match e {
                    MediaError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "media_too_large"),
                    MediaError::Empty => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_media"),
                    MediaError::WrongType { .. } | MediaError::VoiceNotOpus { .. } => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                    }
                };
                ApiError::new(status, code, message)
            }
            SessionError::MediaStore(e) => ApiError::from(e),
            SessionError::MediaUrl(e) => {
                let code = match e {
                    FetchError::Forbidden(_) => "media_url_forbidden",
                    _ => "invalid_media_url",
                };
                ApiError::unprocessable(code, message)
            }
            SessionError::AlreadyExists(_) => ApiError::conflict("session_exists", message),
            SessionError::InvalidId(_) => ApiError::unprocessable("invalid_id", message),
            SessionError::UnknownConnector(..) => ApiError::unprocessable("unknown_connector", message),
            SessionError::InvalidState { code, .. } => ApiError::conflict(code, message),
            SessionError::InvalidInput(_) => ApiError::unprocessable("invalid_input", message),
            SessionError::Jid(_) => ApiError::unprocessable("invalid_recipient", message),
            SessionError::Store(inner) => ApiError::from(inner),
            SessionError::Gone => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "session_unavailable", message),
            SessionError::Quota(q) => ApiError::from(q),
            SessionError::QueueFull { retry_after, .. } => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                ApiError {
                    retry_after: Some(secs.max(1)),
                    ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "send_queue_full", message)
                }
            }
            SessionError::Policy(_) => ApiError::unprocessable("invalid_send_policy", message),
        }
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        let code = match e {
            SimError::NoQr => "no_qr",
            SimError::QrExpired => "qr_expired",
            SimError::QrMismatch => "qr_mismatch",
            SimError::NoPairingCode => "no_pairing_code",
            SimError::WrongPairingCode => "wrong_pairing_code",
            SimError::NotConnected => "session_not_connected",
            SimError::Invalid(_) => "invalid_input",
        };
        let status = match e {
            SimError::Invalid(_) | SimError::WrongPairingCode | SimError::QrMismatch => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::CONFLICT,
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<PluginError> for ApiError {
    fn from(e: PluginError) -> Self {
        let message = e.to_string();
        match e {
            PluginError::NotLoaded(_) => ApiError::not_found("plugin_not_found", message),
            PluginError::NotBound(_) => ApiError::not_found("binding_not_found", message),
            PluginError::ConfigRefused(_) => ApiError::unprocessable("config_refused", message),
            PluginError::Invalid(_) => ApiError::unprocessable("invalid_binding", message),
            PluginError::Store(inner) => ApiError::from(inner),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let code = match &r {
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            _ => "invalid_body",
        };
        ApiError::new(r.status(), code, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
