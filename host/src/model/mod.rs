//! The canonical model every layer speaks: tenants, sessions, chats, messages and their states.
//! Wire names (camelCase fields, SCREAMING_SNAKE statuses) are fixed here once.

mod ids;
mod jid;
mod status;
pub mod time;

pub use ids::{IdError, SessionKey, new_id, validate_id};
pub use jid::{Jid, JidError};
pub use status::{Direction, DisconnectReason, MessageStatus, MessageType, SessionStatus};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A tenant as the operator sees it. Secrets are never part of this view.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub jwt: TenantJwt,
    /// Which sessions user tokens without the `admin` role may use (docs/auth.md).
    pub session_access: crate::auth::SessionAccess,
    /// The operator's overrides of the configured quotas; absent limits are the defaults.
    pub quotas: crate::quotas::LimitOverrides,
    #[serde(serialize_with = "time::millis")]
    pub created_at: DateTime<Utc>,
}

/// How user tokens of a tenant are verified, besides the HS256 secret every tenant has.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantJwt {
    /// PEM public key (RSA or EC) accepted for RS*/PS*/ES* tokens.
    pub public_key_pem: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// The claim that names the tenant in a token; `tenant` unless configured.
    pub tenant_claim: String,
}

/// One WhatsApp number of a tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub tenant_id: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub connector: String,
    pub status: SessionStatus,
    pub phone: Option<String>,
    pub display_name: Option<String>,
    #[serde(serialize_with = "time::millis_opt")]
    pub last_connected_at: Option<DateTime<Utc>>,
    pub disconnect_reason: Option<DisconnectReason>,
    pub last_error: Option<String>,
    /// Whether the device is linked (credentials stored): a connect needs no QR.
    pub linked: bool,
    #[serde(serialize_with = "time::millis")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::millis")]
    pub updated_at: DateTime<Utc>,
}

impl Session {
    pub fn key(&self) -> SessionKey {
        SessionKey::new(&self.tenant_id, &self.id)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    pub id: String,
    pub session_id: String,
    pub jid: String,
    pub number: Option<String>,
    pub name: Option<String>,
    pub last_message: Option<String>,
    #[serde(serialize_with = "time::millis_opt")]
    pub last_message_at: Option<DateTime<Utc>>,
    pub unread_count: i64,
    pub is_group: bool,
    pub pinned: bool,
    pub archived: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    /// The id WhatsApp knows the message by; absent until the connector accepted it.
    pub wa_message_id: Option<String>,
    pub session_id: String,
    pub chat_id: String,
    pub direction: Direction,
    pub from_me: bool,
    pub from_jid: String,
    pub from_number: Option<String>,
    /// The sender's LID (`<id>@lid`), WhatsApp's privacy id, where the network gave one
    /// beside the phone number; null otherwise.
    pub from_lid: Option<String>,
    pub from_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub content: String,
    pub media_url: Option<String>,
    /// Media messages: what the network told about the file (`mimeType`, `size`, `seconds`,
    /// `fileName`, `width`, `height`, ...); the caption is `content`.
    #[schema(value_type = Option<Object>)]
    pub media: Option<serde_json::Value>,
    pub status: MessageStatus,
    pub error: Option<String>,
    #[serde(serialize_with = "time::millis")]
    pub timestamp: DateTime<Utc>,
    #[serde(serialize_with = "time::millis_opt")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::millis_opt")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::millis_opt")]
    pub read_at: Option<DateTime<Utc>>,
}

/// Per-tenant counters pushed as `tenant.stats` and served by the API.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TenantStats {
    pub sessions: i64,
    pub connected: i64,
    pub chats: i64,
    pub unread: i64,
    pub messages_sent: i64,
    pub messages_received: i64,
    pub messages_failed: i64,
}
