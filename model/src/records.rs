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
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub last_connected_at: Option<DateTime<Utc>>,
    pub disconnect_reason: Option<DisconnectReason>,
    pub last_error: Option<String>,
    /// Whether the device is linked (credentials stored): a connect needs no QR.
    pub linked: bool,
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub updated_at: DateTime<Utc>,
}

/// Who had a message sent: what a bot reads to step back once a person writes in a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageOrigin {
    /// A REST send: with the tenant's API key (`user` null) or a user's token (its subject).
    Api { user: Option<String> },
    /// A plugin acting for a connected socket's user (a frontend's send event).
    Socket { user: Option<String> },
    /// A bot plugin's answer; `plugin` names the plugin where the gateway knows it (every
    /// answer it sends; a bot's message arriving at another session of the tenant).
    Bot {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plugin: Option<String>,
    },
    /// Typed on the phone, or on another device linked to the number.
    Phone,
}

impl MessageOrigin {
    /// A person wrote it (everything but a bot).
    pub fn is_person(&self) -> bool {
        !matches!(self, MessageOrigin::Bot { .. })
    }
}

/// How recently WhatsApp was heard from on a session's live connection: what the watchdog
/// goes by (docs/connectors.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Liveness {
    /// The last thing that arrived on the connection: an event, or the answer to a probe.
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub last_traffic_at: DateTime<Utc>,
    /// Milliseconds from then until this was read.
    pub silent_for_ms: u64,
    /// A probe is out and not yet answered.
    pub probing: bool,
}

/// A session as `GET /api/v1/sessions/{id}` shows it: its record, and its live connection's
/// liveness while it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: Session,
    /// `null` unless the session is connected.
    pub liveness: Option<Liveness>,
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
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
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

/// One message of a chat, of any kind. `content` is what a chat list shows: the text, a
/// media caption, a poll's question, a location's name, a contact's name. The blocks that
/// belong to one kind (`media`, `location`, `contact`, `poll`) are present only on messages of
/// that kind; `quoted`, `mentions`, `reactions`, `editedAt` and `revokedAt` may be on any.
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
    /// Media messages: what is known of the file; the caption is `content`.
    pub media: Option<MediaInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactCard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// The message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<Quoted>,
    /// Jids of the people the text mentions (`@<number>` in the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Texts: the preview WhatsApp shows for the first link in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_preview: Option<LinkPreview>,
    /// Who had an outbound message sent (a REST caller, a socket's user through a plugin, a
    /// bot, or the phone); on an inbound message, `bot` when one of this gateway's bots wrote
    /// it from another session. Absent where nobody is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<MessageOrigin>,
    /// One per person who reacted, their latest emoji.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// When the sender last edited the text (`content` is the edited text).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "time::millis_opt",
        deserialize_with = "time::read_opt"
    )]
    pub edited_at: Option<DateTime<Utc>>,
    /// When the sender deleted it for everyone (`content` is then empty).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "time::millis_opt",
        deserialize_with = "time::read_opt"
    )]
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the gateway deleted the file for its age (`media.retention_secs`); `mediaUrl` is
    /// null from then on.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "time::millis_opt",
        deserialize_with = "time::read_opt"
    )]
    pub media_expired_at: Option<DateTime<Utc>>,
    pub status: MessageStatus,
    pub error: Option<String>,
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub timestamp: DateTime<Utc>,
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub read_at: Option<DateTime<Utc>>,
}

/// What is known of a message's file. Every field is optional: the network does not always
/// say everything, and a reader built before a field was added ignores it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MediaInfo {
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Hex SHA-256 of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Audio and video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Audio recorded as a voice note (push-to-talk).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice_note: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// Degrees, -90 to 90.
    pub latitude: f64,
    /// Degrees, -180 to 180.
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// A contact card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContactCard {
    /// The name the chat shows.
    pub name: String,
    /// The card as vCard 3.0 text.
    pub vcard: String,
}

/// A poll and its votes so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Poll {
    pub question: String,
    pub options: Vec<PollOption>,
    /// How many options one voter may choose: 1 for a single choice, else up to all of them.
    pub selectable_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PollOption {
    pub name: String,
    /// Jids of the people whose latest vote includes this option.
    #[serde(default)]
    pub voters: Vec<String>,
}

/// What a chat shows under a text for the link in it: the page's title and description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LinkPreview {
    /// The link as the text has it.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The message a reply quotes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Quoted {
    /// Our id of the quoted message, when the gateway has it.
    #[serde(default)]
    pub message_id: Option<String>,
    pub wa_message_id: String,
    /// Who wrote the quoted message.
    #[serde(default)]
    pub from_jid: Option<String>,
    /// The quoted message's `content` as the reply shows it.
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    /// Who reacted (the session's own jid for our reactions).
    pub from_jid: String,
    pub emoji: String,
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub at: DateTime<Utc>,
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

/// Whether a phone number has a WhatsApp account (`POST .../contacts/check`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NumberCheck {
    /// The number as it was asked.
    pub number: String,
    /// Its jid (`<digits>@s.whatsapp.net`), what sends and chats use.
    pub jid: String,
    pub exists: bool,
    /// The account's LID (`<digits>@lid`), where WhatsApp tells it.
    pub lid: Option<String>,
    pub business: bool,
}

/// What WhatsApp and the gateway know of a contact (`GET .../contacts/{contact}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContactInfo {
    pub jid: String,
    /// `+<digits>`.
    pub number: Option<String>,
    /// The contact's LID (`<digits>@lid`), where known.
    pub lid: Option<String>,
    /// The name the contact gave itself, as last seen on a message (its chat's name).
    pub name: Option<String>,
    /// The contact's "about" text, where its privacy settings show it.
    pub about: Option<String>,
    pub business: bool,
    /// Where WhatsApp serves the contact's profile picture (a short-lived CDN address), where
    /// its privacy settings show one.
    pub picture_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `MessageOrigin` as the model had it before bots were named: plugins built then still
    /// read a named bot's origin (an internally tagged unit variant ignores other fields).
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Before {
        Api { user: Option<String> },
        Socket { user: Option<String> },
        Bot,
        Phone,
    }

    #[test]
    fn a_named_bot_reads_as_a_bot_to_older_plugins_and_an_unnamed_one_stays_as_it_was() {
        let named = serde_json::to_value(MessageOrigin::Bot { plugin: Some("ai-answer".into()) }).unwrap();
        assert_eq!(named, serde_json::json!({ "kind": "bot", "plugin": "ai-answer" }));
        assert_eq!(serde_json::from_value::<Before>(named).unwrap(), Before::Bot);
        let unnamed = serde_json::to_value(MessageOrigin::Bot { plugin: None }).unwrap();
        assert_eq!(unnamed, serde_json::json!({ "kind": "bot" }));
        assert_eq!(serde_json::from_value::<MessageOrigin>(unnamed).unwrap(), MessageOrigin::Bot { plugin: None });
        let api = serde_json::json!({ "kind": "api", "user": "u" });
        assert_eq!(serde_json::from_value::<Before>(api).unwrap(), Before::Api { user: Some("u".into()) });
    }
}
