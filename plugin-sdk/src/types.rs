use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// A canonical event (docs/events.md) with its payload parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub tenant: String,
    pub session: Option<String>,
    pub seq: u64,
    pub payload: Value,
}

impl Event {
    /// A payload field, `Value::Null` when absent.
    pub fn get(&self, field: &str) -> &Value {
        self.payload.get(field).unwrap_or(&Value::Null)
    }

    /// A string payload field.
    pub fn str(&self, field: &str) -> Option<&str> {
        self.payload.get(field).and_then(Value::as_str)
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
