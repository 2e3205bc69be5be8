use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wagate_model::Event;
use wagate_model::events::{Envelope, EventBody, UnknownEvent};

/// An event as the host hands it over: name, envelope, canonical payload text. A payload
/// that does not have its kind's shape (a gateway whose model changed a field this SDK relies
/// on) arrives as [`EventBody::Other`], like a kind this SDK never knew.
pub fn decode_event(name: String, tenant: String, session: Option<String>, seq: u64, payload: &str) -> Event {
    // The host hands over tenant, session and sequence number beside the payload; of the
    // payload's envelope only the time is read.
    let (timestamp, body) = match EventBody::decode(&name, payload) {
        Ok(body) => (Envelope::timestamp_of(payload).unwrap_or_default(), body),
        Err(_) => (
            Default::default(),
            EventBody::Other(UnknownEvent { payload: serde_json::from_str(payload).unwrap_or(Value::Null), name }),
        ),
    };
    Event { tenant_id: tenant, session_id: session, seq, timestamp, body }
}

/// Who a socket is. `tenant` is fixed by the host; `rooms` are joined at connect;
/// `attributes` are what auth plugins recorded from the claims, handed back with every
/// client event of the socket.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Identity {
    pub tenant: String,
    pub user: Option<String>,
    pub roles: Vec<String>,
    pub rooms: Vec<String>,
    pub attributes: Map<String, Value>,
}

impl Identity {
    /// A string attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).and_then(Value::as_str)
    }
}

/// An event a socket sent (`$connect` when the socket has just connected).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientEvent {
    pub name: String,
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A room of the plugin's naming (kept inside the tenant by the host).
    Room(String),
    /// The canonical room of one of the tenant's sessions.
    Session(String),
    /// Every socket of the tenant.
    Tenant,
    /// The socket being handled.
    Caller,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub event: String,
    pub payload: Value,
    pub target: Target,
}

impl Emit {
    pub fn new(event: impl Into<String>, payload: Value, target: Target) -> Self {
        Self { event: event.into(), payload, target }
    }
    pub fn to_room(room: impl Into<String>, event: impl Into<String>, payload: Value) -> Self {
        Self::new(event, payload, Target::Room(room.into()))
    }
    pub fn to_session(session: impl Into<String>, event: impl Into<String>, payload: Value) -> Self {
        Self::new(event, payload, Target::Session(session.into()))
    }
    pub fn to_tenant(event: impl Into<String>, payload: Value) -> Self {
        Self::new(event, payload, Target::Tenant)
    }
    pub fn to_caller(event: impl Into<String>, payload: Value) -> Self {
        Self::new(event, payload, Target::Caller)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Emit(Emit),
    Join(String),
    Leave(String),
    SendText {
        session: String,
        to: String,
        text: String,
    },
    /// Mark a chat read (unread count to 0, receipts sent); the host emits `chat.read`.
    MarkRead {
        session: String,
        chat: String,
    },
}

impl From<Emit> for Action {
    fn from(e: Emit) -> Self {
        Action::Emit(e)
    }
}

/// What a webhook endpoint that takes plugin bodies (`body: "plugins"`) receives for an event.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookBody {
    /// No opinion: the next plugin decides, else the canonical body is sent.
    Canonical,
    /// Nothing is sent; the delivery ends `skipped`.
    Skip,
    /// The whole HTTP body.
    Json(Value),
}

impl WebhookBody {
    /// The Standard Webhooks layout the canonical body has too, `{type, timestamp, data}`,
    /// with the event's time: a dialect's own event name and payload in the envelope
    /// receivers' libraries expect.
    pub fn standard(event: &Event, kind: &str, data: Value) -> Self {
        WebhookBody::Json(serde_json::json!({
            "type": kind,
            "timestamp": wagate_model::time::iso(event.timestamp),
            "data": data,
        }))
    }
}
