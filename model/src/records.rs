//! What the gateway stores and hands out: a tenant's sessions, their chats and messages, and
//! the tenant's counters. REST returns them, events carry them, plugins read them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::status::{Direction, DisconnectReason, MessageStatus, MessageType, SessionStatus};
use crate::time;

/// One WhatsApp number of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// A conversation of a session with one contact or group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl Chat {
    /// What a contact list shows: the name, else the number, else the jid.
    pub fn title(&self) -> &str {
        self.name.as_deref().or(self.number.as_deref()).unwrap_or(&self.jid)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
