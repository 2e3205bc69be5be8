//! Test a plugin's logic natively with `cargo test`, no wasm involved.
//!
//! ```ignore
//! let mut h = Harness::<MyPlugin>::new(json!({"greeting": "hi"})).unwrap();
//! let qr = SessionQr { qr: "2@x".into(), ..testing::qr() };
//! let emits = h.transform(&testing::event("s1", EventBody::SessionQr(qr)));
//! ```

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use wagate_model::events::SessionQr;

use crate::host::{Level, Queued};
use crate::http;
use crate::{
    Action, Chat, ClientEvent, Direction, Emit, Event, EventBody, Identity, Message, MessageStatus, MessageType,
    Plugin, Session, SessionStatus, WebhookBody,
};

/// The host as a test sets it up: state, clock, data to read, and what was logged.
#[derive(Debug, Default, Clone)]
pub struct FakeHost {
    pub kv: HashMap<String, String>,
    pub now_ms: u64,
    /// What `host::sessions()` returns.
    pub sessions: Vec<Session>,
    /// Per session id, what `host::chats()` pages through.
    pub chats: HashMap<String, Vec<Chat>>,
    /// Per chat id, what `host::history()` pages through.
    pub history: HashMap<String, Vec<Message>>,
    pub logs: Vec<(Level, String)>,
    /// Per message id, what `host::media_link()` answers.
    pub media_links: HashMap<String, String>,
    /// What the plugin queued through `host::send()`, `react()`, `edit()`, `revoke()`, with
    /// the session it queued from, oldest first.
    pub queued: Vec<(String, Queued)>,
    /// What `http::send` answers, one per request in order; with none left it fails.
    pub http_answers: VecDeque<Result<http::Response, http::HttpError>>,
    /// The requests the plugin sent, oldest first.
    pub http_requests: Vec<http::Request>,
}

thread_local! {
    static HOST: RefCell<FakeHost> = RefCell::new(FakeHost::default());
}

pub(crate) fn with_host<T>(f: impl FnOnce(&mut FakeHost) -> T) -> T {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// A plugin under test, with the fake host of this thread.
pub struct Harness<P: Plugin> {
    pub plugin: P,
}

impl<P: Plugin> Harness<P> {
    /// Decodes `config` into the plugin's config type and runs `init`, as the gateway does
    /// when a tenant binds the plugin (a bad config gives the same message).
    pub fn new(config: Value) -> Result<Self, String> {
        Self::with_host(FakeHost::default(), config)
    }

    pub fn with_host(host: FakeHost, config: Value) -> Result<Self, String> {
        with_host(|h| *h = host);
        Ok(Self { plugin: P::init(crate::config::decode(config)?)? })
    }

    /// The fake host, to inspect logs and state or to change data between calls.
    pub fn host<T>(&self, f: impl FnOnce(&mut FakeHost) -> T) -> T {
        with_host(f)
    }

    pub fn map_auth(&mut self, claims: Value, identity: Identity) -> Result<Identity, String> {
        self.plugin.map_auth(&claims, identity)
    }

    pub fn client_event(&mut self, caller: &Identity, name: &str, payload: Value) -> Vec<Action> {
        self.plugin.on_client_event(caller, ClientEvent { name: name.to_owned(), payload })
    }

    pub fn transform(&mut self, event: &Event) -> Vec<Emit> {
        self.plugin.transform(event)
    }

    pub fn webhook(&mut self, event: &Event) -> WebhookBody {
        self.plugin.webhook(event)
    }

    pub fn on_event(&mut self, event: &Event) -> Vec<Action> {
        self.plugin.on_event(event)
    }
}

/// The moment every sample is taken at: 2026-01-15T10:30:00.000Z.
pub fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap()
}

/// An event of tenant `t1` about session `session`, seq 1, taken [`at`].
pub fn event(session: &str, body: EventBody) -> Event {
    Event { tenant_id: "t1".into(), session_id: Some(session.to_owned()), seq: 1, timestamp: at(), body }
}

/// A tenant-wide event of tenant `t1` (`tenant.stats`).
pub fn tenant_event(body: EventBody) -> Event {
    Event { tenant_id: "t1".into(), session_id: None, seq: 1, timestamp: at(), body }
}

/// Session `id` of tenant `t1`, connected; change what a test needs with `..session(id)`.
pub fn session(id: &str) -> Session {
    Session {
        id: id.to_owned(),
        tenant_id: "t1".into(),
        name: None,
        owner: None,
        connector: "sim".into(),
        status: SessionStatus::Connected,
        phone: Some("+15550000001".into()),
        display_name: None,
        last_connected_at: Some(at()),
        disconnect_reason: None,
        last_error: None,
        linked: true,
        created_at: at(),
        updated_at: at(),
    }
}

/// Chat `id` of session `session` with +15551234567, one unread message.
pub fn chat(session: &str, id: &str) -> Chat {
    Chat {
        id: id.to_owned(),
        session_id: session.to_owned(),
        jid: "15551234567@s.whatsapp.net".into(),
        number: Some("+15551234567".into()),
        name: Some("Ana".into()),
        last_message: Some("hello".into()),
        last_message_at: Some(at()),
        unread_count: 1,
        is_group: false,
        pinned: false,
        archived: false,
    }
}

/// An inbound text `content` in chat `chat` of session `session`, from the contact of [`chat`].
pub fn message(session: &str, chat: &str, content: &str) -> Message {
    Message {
        id: format!("m-{chat}"),
        wa_message_id: Some("3EB0C0FFEE".into()),
        session_id: session.to_owned(),
        chat_id: chat.to_owned(),
        direction: Direction::Inbound,
        from_me: false,
        from_jid: "15551234567@s.whatsapp.net".into(),
        from_number: Some("+15551234567".into()),
        from_lid: None,
        from_name: Some("Ana".into()),
        kind: MessageType::Text,
        content: content.to_owned(),
        media_url: None,
        media: None,
        location: None,
        contact: None,
        poll: None,
        quoted: None,
        mentions: Vec::new(),
        reactions: Vec::new(),
        edited_at: None,
        revoked_at: None,
        link_preview: None,
        origin: None,
        media_expired_at: None,
        status: MessageStatus::Delivered,
        error: None,
        timestamp: at(),
        sent_at: None,
        delivered_at: None,
        read_at: None,
    }
}

/// A first QR code, valid for a minute.
pub fn qr() -> SessionQr {
    SessionQr {
        qr: "2@sample".into(),
        data_url: "data:image/png;base64,iVBORw0KGgo=".into(),
        expires_at: at() + chrono::Duration::seconds(60),
        attempt: 1,
        max_attempts: 5,
    }
}

/// An identity of tenant `t1`.
pub fn identity(user: &str) -> Identity {
    Identity { tenant: "t1".into(), user: Some(user.to_owned()), ..Default::default() }
}
