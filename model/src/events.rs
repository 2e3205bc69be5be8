//! Canonical events: what happened, after the gateway stored it. Every event has an envelope
//! (tenant, session where it has one, a per-tenant sequence number, a timestamp) and a body
//! whose kind is the event's name (`session.qr`, `message.received`, ...).
//!
//! The host builds them and serialises [`Event::payload`]; plugins get them back with
//! [`EventBody::decode`]. A kind this build does not know decodes as [`EventBody::Other`], so
//! a gateway that adds an event kind never breaks a plugin built before it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::queue::QueueState;
use crate::records::{Chat, Message, TenantStats};
use crate::status::{DisconnectReason, GroupField, MessageStatus, ParticipantAction, SessionStatus};
use crate::time;

/// One canonical event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub tenant_id: String,
    /// Absent for tenant-wide events (`tenant.stats`).
    pub session_id: Option<String>,
    /// Per tenant, strictly increasing in commit order.
    pub seq: u64,
    pub timestamp: DateTime<Utc>,
    pub body: EventBody,
}

/// The fields every event payload starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub timestamp: DateTime<Utc>,
    pub seq: u64,
}

/// The canonical payload: the envelope's fields first, then the body's.
impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            tenant_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            session_id: Option<&'a str>,
            #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
            timestamp: DateTime<Utc>,
            seq: u64,
            #[serde(flatten)]
            body: &'a EventBody,
        }
        Wire {
            tenant_id: &self.tenant_id,
            session_id: self.session_id.as_deref(),
            timestamp: self.timestamp,
            seq: self.seq,
            body: &self.body,
        }
        .serialize(s)
    }
}

/// Why an event could not be read back.
#[derive(Debug)]
pub struct DecodeError {
    pub name: String,
    pub error: serde_json::Error,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event '{}' does not have its canonical payload: {}", self.name, self.error)
    }
}

impl std::error::Error for DecodeError {}

impl Event {
    pub fn name(&self) -> &str {
        self.body.name()
    }

    pub fn envelope(&self) -> Envelope {
        Envelope {
            tenant_id: self.tenant_id.clone(),
            session_id: self.session_id.clone(),
            timestamp: self.timestamp,
            seq: self.seq,
        }
    }

    /// The canonical payload as a JSON value. Serialising the event itself gives the same
    /// document as text without building the value.
    pub fn payload(&self) -> Value {
        serde_json::to_value(self).expect("an event serialises")
    }

    /// An event from its name and whole payload, as a Socket.IO client receives it. The body
    /// is read in one pass; the envelope comes first in every payload the gateway writes, so
    /// only the front of the text is read for it (a payload ordered otherwise is read again).
    pub fn parse(name: &str, payload: &str) -> Result<Event, DecodeError> {
        let wrap = |error| DecodeError { name: name.to_owned(), error };
        let body = EventBody::decode(name, payload)?;
        let envelope = match Envelope::from_front(payload) {
            Some(envelope) => envelope,
            None => serde_json::from_str(payload).map_err(wrap)?,
        };
        Ok(Event {
            tenant_id: envelope.tenant_id,
            session_id: envelope.session_id,
            seq: envelope.seq,
            timestamp: envelope.timestamp,
            body,
        })
    }
}

impl Envelope {
    /// A payload's `timestamp` (for a reader that has the rest of the envelope already, as
    /// a plugin does), reading as little of the payload as it can.
    pub fn timestamp_of(payload: &str) -> Option<DateTime<Utc>> {
        Envelope::front_timestamp(payload).or_else(|| Envelope::from_front(payload).map(|e| e.timestamp))
    }

    /// The envelope's `timestamp` where the gateway writes it: a top-level key before the
    /// body's first object or array. Found by looking, not by parsing: inside a JSON string a
    /// quote is always escaped, so `"timestamp":"` there can only be a key.
    fn front_timestamp(payload: &str) -> Option<DateTime<Utc>> {
        // Byte loops, not `str::find`: a substring searcher is set up anew on every call, which
        // costs more than this whole scan on a small event.
        const KEY: &[u8] = b"\"timestamp\":\"";
        let bytes = payload.as_bytes();
        let body_starts = bytes.iter().skip(1).position(|b| matches!(b, b'{' | b'[')).map_or(bytes.len(), |i| i + 1);
        let front = &bytes[..body_starts];
        let at = (0..front.len().checked_sub(KEY.len())? + 1)
            .find(|&i| front[i] == b'"' && front[i + 1] == b't' && &front[i..i + KEY.len()] == KEY)?;
        let start = at + KEY.len();
        let len = bytes[start..].iter().position(|b| *b == b'"')?;
        time::parse(payload.get(start..start + len)?)
    }

    /// The envelope when the payload starts with it (`tenantId`, `sessionId` if any,
    /// `timestamp`, `seq`), reading no further than `seq`.
    fn from_front(payload: &str) -> Option<Envelope> {
        use serde::de::{Deserializer, Error, MapAccess, Visitor};

        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "camelCase")]
        enum Key {
            TenantId,
            SessionId,
            Timestamp,
            Seq,
            #[serde(other)]
            Other,
        }

        #[derive(Deserialize)]
        struct Timestamp(#[serde(deserialize_with = "time::read")] DateTime<Utc>);

        struct Front<'a>(&'a mut Option<Envelope>);

        impl<'de> Visitor<'de> for Front<'_> {
            type Value = ();

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event payload")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                let (mut tenant_id, mut session_id, mut timestamp) = (None, None, None);
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::TenantId => tenant_id = Some(map.next_value::<String>()?),
                        Key::SessionId => session_id = map.next_value::<Option<String>>()?,
                        Key::Timestamp => timestamp = Some(map.next_value::<Timestamp>()?.0),
                        Key::Seq => {
                            let seq = map.next_value::<u64>()?;
                            if let (Some(tenant_id), Some(timestamp)) = (tenant_id, timestamp) {
                                *self.0 = Some(Envelope { tenant_id, session_id, timestamp, seq });
                            }
                            break;
                        }
                        Key::Other => break,
                    }
                }
                // Stops the parser here: the rest of the payload is the body's.
                Err(A::Error::custom("front read"))
            }
        }

        let mut found = None;
        let mut parser = serde_json::Deserializer::from_str(payload);
        let _ = (&mut parser).deserialize_map(Front(&mut found));
        found
    }
}

/// Declares the event kinds once: variant, body type, wire name, and whether the tenant's
/// every socket gets it.
macro_rules! event_kinds {
    ($( $(#[$doc:meta])* $variant:ident($body:ident) = $name:literal, tenant_wide = $wide:literal; )+) => {
        /// What happened. `#[non_exhaustive]`: new kinds are added in minor versions.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum EventBody {
            $( $(#[$doc])* $variant($body), )+
            /// A kind this build of the model does not know, with its payload as sent.
            Other(UnknownEvent),
        }

        /// Every event name the model knows, in declaration order.
        pub const EVENT_NAMES: &[&str] = &[$($name),+];

        impl EventBody {
            /// The event's Socket.IO name (docs/events.md).
            pub fn name(&self) -> &str {
                match self {
                    $( EventBody::$variant(_) => $name, )+
                    EventBody::Other(other) => &other.name,
                }
            }

            /// Lifecycle events go to every socket of the tenant (dashboards list every
            /// number); the rest only to sockets that subscribed to the session.
            pub fn goes_to_tenant_room(&self) -> bool {
                match self {
                    $( EventBody::$variant(_) => $wide, )+
                    EventBody::Other(_) => false,
                }
            }

            /// The body of event `name` from its payload (envelope fields are ignored). An
            /// unknown name gives [`EventBody::Other`]; a known name whose payload does not
            /// match its type is an error.
            pub fn decode(name: &str, payload: &str) -> Result<EventBody, DecodeError> {
                let wrap = |error| DecodeError { name: name.to_owned(), error };
                Ok(match name {
                    $( $name => EventBody::$variant(serde_json::from_str(payload).map_err(wrap)?), )+
                    _ => EventBody::Other(UnknownEvent {
                        name: name.to_owned(),
                        payload: serde_json::from_str(payload).map_err(wrap)?,
                    }),
                })
            }
        }

        /// Every event name with the schema name of its body.
        #[cfg(feature = "openapi")]
        pub(crate) fn body_schema_names() -> Vec<(&'static str, String)> {
            vec![$( ($name, <$body as utoipa::ToSchema>::name().into_owned()) ),+]
        }

        /// The schemas of every body type and of the types they use.
        #[cfg(feature = "openapi")]
        pub(crate) fn add_body_schemas(
            schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
        ) {
            $(
                schemas.push((<$body as utoipa::ToSchema>::name().into_owned(), <$body as utoipa::PartialSchema>::schema()));
                <$body as utoipa::ToSchema>::schemas(schemas);
            )+
        }
    };
}

event_kinds! {
    SessionStatus(SessionStatusChanged) = "session.status", tenant_wide = true;
    SessionQr(SessionQr) = "session.qr", tenant_wide = false;
    SessionPairingCode(SessionPairingCode) = "session.pairing_code", tenant_wide = false;
    SessionConnected(SessionConnected) = "session.connected", tenant_wide = true;
    SessionDisconnected(SessionDisconnected) = "session.disconnected", tenant_wide = true;
    SessionError(SessionError) = "session.error", tenant_wide = true;
    /// The session's send queue started or stopped waiting, or its depth moved while it
    /// waits (at most about once a second).
    SessionQueue(QueueState) = "session.queue", tenant_wide = false;
    /// An inbound message was stored.
    MessageReceived(MessageEvent) = "message.received", tenant_wide = false;
    /// An outbound message was accepted (status `PENDING`) or sent from the phone.
    MessageSent(MessageEvent) = "message.sent", tenant_wide = false;
    MessageStatus(MessageStatusChanged) = "message.status", tenant_wide = false;
    /// Someone reacted to a message, changed their reaction or took it back.
    MessageReaction(MessageReaction) = "message.reaction", tenant_wide = false;
    /// The sender edited a message's text.
    MessageEdited(MessageEdited) = "message.edited", tenant_wide = false;
    /// The sender deleted a message for everyone.
    MessageRevoked(MessageRevoked) = "message.revoked", tenant_wide = false;
    /// Someone voted on a poll (or changed their vote).
    PollVote(PollVote) = "message.poll_vote", tenant_wide = false;
    /// A message's file was stored after the message was (a send's `media.url` fetched).
    MessageMedia(MessageMedia) = "message.media", tenant_wide = false;
    ChatUpdated(ChatUpdated) = "chat.updated", tenant_wide = false;
    ChatRead(ChatRead) = "chat.read", tenant_wide = false;
    /// Members joined, left, were added or removed, or changed standing in a group.
    GroupParticipants(GroupParticipants) = "group.participants", tenant_wide = false;
    /// A group's subject or description changed.
    GroupUpdated(GroupUpdated) = "group.updated", tenant_wide = false;
    TenantStats(TenantStatsUpdated) = "tenant.stats", tenant_wide = true;
    /// The gateway stopped delivering to one of the tenant's webhook endpoints.
    WebhookDisabled(WebhookDisabled) = "webhook.disabled", tenant_wide = true;
}

/// An event of a kind the model does not know; its payload serialises as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownEvent {
    pub name: String,
    pub payload: Value,
}

impl Serialize for UnknownEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.payload.serialize(s)
    }
}

/// `session.status`: the session's state changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionStatusChanged {
    pub status: SessionStatus,
    /// Null when the session was just created.
    pub previous_status: Option<SessionStatus>,
    pub reason: Option<DisconnectReason>,
    pub phone: Option<String>,
    pub display_name: Option<String>,
}

/// `session.qr`: a QR code to scan with the phone; one per rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionQr {
    /// The raw QR payload.
    pub qr: String,
    /// The QR as a PNG data URL.
    pub data_url: String,
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub expires_at: DateTime<Utc>,
    /// 1, 2, ... up to `max_attempts`.
    pub attempt: u32,
    pub max_attempts: u32,
}

/// `session.pairing_code`: a code to type on the phone instead of scanning a QR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionPairingCode {
    /// 8 characters.
    pub code: String,
    pub phone_number: String,
    #[serde(serialize_with = "time::millis", deserialize_with = "time::read")]
    pub expires_at: DateTime<Utc>,
}

/// `session.connected`: the number is online.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionConnected {
    /// `+<digits>`.
    pub phone: Option<String>,
    pub display_name: Option<String>,
}

/// `session.disconnected`: the number went offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionDisconnected {
    pub reason: DisconnectReason,
    pub message: Option<String>,
    pub will_reconnect: bool,
}

/// `session.error`: the session cannot go on by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionError {
    /// `reconnect_failed`, `connect_failed`, `temporary_ban`.
    pub code: String,
    pub message: String,
}

/// `message.received` and `message.sent`: a message and its chat as they are now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    pub message: Message,
    pub chat: Chat,
}

/// `message.status`: a receipt moved a message forward (or it failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageStatusChanged {
    pub message_id: String,
    pub wa_message_id: Option<String>,
    pub chat_id: String,
    pub status: MessageStatus,
    pub previous_status: MessageStatus,
    pub error: Option<String>,
}

/// `message.reaction`: a reaction was set or removed; `message.reactions` is the message's
/// reactions after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageReaction {
    pub message: Message,
    /// Who reacted.
    pub from_jid: String,
    /// The emoji; empty when the reaction was removed.
    pub emoji: String,
    pub removed: bool,
}

/// `message.edited`: `message.content` is the new text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    pub message: Message,
    pub previous_content: String,
}

/// `message.revoked`: the message as it is now (`revokedAt` set, `content` empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageRevoked {
    pub message: Message,
}

/// `message.media`: `message.media` (type, size, SHA-256) and `message.mediaUrl` are set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageMedia {
    pub message: Message,
}

/// `message.poll_vote`: `message.poll` carries every option's voters after this vote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PollVote {
    pub message: Message,
    /// Who voted.
    pub voter_jid: String,
    /// The option names of this vote; empty when the voter took their vote back.
    pub selected: Vec<String>,
}

/// `chat.updated`: a chat's last message, unread count or flags changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatUpdated {
    pub chat: Chat,
}

/// `chat.read`: a chat was marked read (unread count 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatRead {
    pub chat_id: String,
    pub chat: Chat,
}

/// `group.participants`: `participants` were added, removed, promoted or demoted. A member
/// who joined by invite is an `add` by itself, one who left a `remove` by itself; the
/// session's own number appears here too when it creates, joins or leaves a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupParticipants {
    pub group_jid: String,
    /// The session's chat with the group.
    pub chat_id: String,
    pub action: ParticipantAction,
    /// Jids of the members the change applied to.
    pub participants: Vec<String>,
    /// Who did it, where WhatsApp tells.
    pub by: Option<String>,
}

/// `group.updated`: `field` now reads `value` (a removed description is null). A new
/// subject also renames the group's chat (`chat.updated`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupUpdated {
    pub group_jid: String,
    pub chat_id: String,
    pub field: GroupField,
    pub value: Option<String>,
    pub by: Option<String>,
}

/// `tenant.stats`: the tenant's counters (at most one per stats interval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TenantStatsUpdated {
    pub stats: TenantStats,
}

/// `webhook.disabled`: an endpoint failed for too long, or asked (HTTP 410) to get nothing
/// more; its pending deliveries were given up. Enabling it again resumes with new events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookDisabled {
    pub webhook_id: String,
    pub url: String,
    pub reason: String,
}
