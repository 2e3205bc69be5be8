//! Canonical events: what happened, after the store committed it. Every event carries its
//! tenant, its session where it has one, an ISO 8601 timestamp and a per-tenant sequence number.

mod bus;
mod journal;
mod stats;

pub use bus::EventBus;
pub use journal::{EventDraft, Journal};
pub use stats::spawn_stats_publisher;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::model::{Chat, DisconnectReason, Message, MessageStatus, SessionStatus, TenantStats};

#[derive(Debug, Clone)]
pub struct Event {
    pub tenant_id: String,
    pub session_id: Option<String>,
    pub seq: u64,
    pub timestamp: DateTime<Utc>,
    pub body: EventBody,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum EventBody {
    SessionStatus {
        status: SessionStatus,
        previous_status: Option<SessionStatus>,
        reason: Option<DisconnectReason>,
        phone: Option<String>,
        display_name: Option<String>,
    },
    SessionQr {
        qr: String,
        data_url: String,
        #[serde(serialize_with = "crate::model::time::millis")]
        expires_at: DateTime<Utc>,
        attempt: u32,
        max_attempts: u32,
    },
    SessionPairingCode {
        code: String,
        phone_number: String,
        #[serde(serialize_with = "crate::model::time::millis")]
        expires_at: DateTime<Utc>,
    },
    SessionConnected {
        phone: Option<String>,
        display_name: Option<String>,
    },
    SessionDisconnected {
        reason: DisconnectReason,
        message: Option<String>,
        will_reconnect: bool,
    },
    SessionError {
        code: String,
        message: String,
    },
    MessageReceived {
        message: Message,
        chat: Chat,
    },
    MessageSent {
        message: Message,
        chat: Chat,
    },
    MessageStatus {
        message_id: String,
        wa_message_id: Option<String>,
        chat_id: String,
        status: MessageStatus,
        previous_status: MessageStatus,
        error: Option<String>,
    },
    ChatUpdated {
        chat: Chat,
    },
    ChatRead {
        chat_id: String,
        chat: Chat,
    },
    TenantStats {
        stats: TenantStats,
    },
}

impl EventBody {
    /// The canonical Socket.IO event name (docs/events.md).
    pub fn name(&self) -> &'static str {
        match self {
            EventBody::SessionStatus { .. } => "session.status",
            EventBody::SessionQr { .. } => "session.qr",
            EventBody::SessionPairingCode { .. } => "session.pairing_code",
            EventBody::SessionConnected { .. } => "session.connected",
            EventBody::SessionDisconnected { .. } => "session.disconnected",
            EventBody::SessionError { .. } => "session.error",
            EventBody::MessageReceived { .. } => "message.received",
            EventBody::MessageSent { .. } => "message.sent",
            EventBody::MessageStatus { .. } => "message.status",
            EventBody::ChatUpdated { .. } => "chat.updated",
            EventBody::ChatRead { .. } => "chat.read",
            EventBody::TenantStats { .. } => "tenant.stats",
        }
    }

    /// Lifecycle events go to the whole tenant (dashboards list every number); the rest only
    /// to sockets that subscribed to the session, so a chat UI is not flooded by other numbers.
    pub fn goes_to_tenant_room(&self) -> bool {
        matches!(
            self,
            EventBody::SessionStatus { .. }
                | EventBody::SessionConnected { .. }
                | EventBody::SessionDisconnected { .. }
                | EventBody::SessionError { .. }
                | EventBody::TenantStats { .. }
        )
    }
}

impl Event {
    pub fn name(&self) -> &'static str {
        self.body.name()
    }

    /// The canonical payload: envelope fields first, then the body's own fields.
    pub fn payload(&self) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("tenantId".into(), self.tenant_id.clone().into());
        if let Some(s) = &self.session_id {
            out.insert("sessionId".into(), s.clone().into());
        }
        out.insert("timestamp".into(), Value::String(iso(self.timestamp)));
        out.insert("seq".into(), self.seq.into());
        if let Ok(Value::Object(body)) = serde_json::to_value(&self.body) {
            out.extend(body);
        }
        Value::Object(out)
    }
}

pub use crate::model::time::iso;
