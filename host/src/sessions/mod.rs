//! WhatsApp sessions: one actor per session owns its state machine and its connection, so
//! everything that happens to a session is applied in order. Writes commit to the store with
//! their canonical events (`events::Journal`).

mod actor;
mod backoff;
mod qr_image;

pub use qr_image::png_data_url;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use self::actor::{Actor, Command};
use crate::config::SessionTimings;
use crate::connector::{Connector, LoginMethod, Unread};
use crate::events::{self, EventBody, EventDraft, Journal};
use crate::model::{Keyed, 
    Chat, Direction, IdError, Jid, JidError, Message, MessageStatus, MessageType, Session, SessionKey, SessionStatus,
    new_id, validate_id,
};
use crate::quotas::QuotaExceeded;
use crate::store::{Store, StoreError, chats, messages, sessions as stored};

/// A session's display name, and its owner (a user id, as long as a token's `sub` may be).
const MAX_NAME_CHARS: usize = 200;
const MAX_OWNER_CHARS: usize = 256;

/// WhatsApp's own limit on a text message.
pub const MAX_TEXT_CHARS: usize = 65_536;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("session not found")]
    NotFound,
    #[error("chat not found")]
    ChatNotFound,
    #[error("session '{0}' already exists")]
    AlreadyExists(String),
    #[error("invalid session id: {0}")]
    InvalidId(#[from] IdError),
    #[error("unknown connector '{0}' (available: {1})")]
    UnknownConnector(String, String),
    #[error("{message}")]
    InvalidState { code: &'static str, message: String },
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Jid(#[from] JidError),
    #[error(transparent)]
    Store(StoreError),
    #[error("the session stopped while handling the request")]
    Gone,
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => SessionError::AlreadyExists(what),
            other => SessionError::Store(other),
        }
    }
}

pub type SessionResult<T> = Result<T, SessionError>;

/// The QR code a session shows right now.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveQr {
    /// Raw payload, to render with any QR library.
    pub qr: String,
    /// The same code as a PNG data URL.
    pub data_url: String,
    pub expires_at: DateTime<Utc>,
    /// 1 for the first code of a login, counting up with each rotation.
    pub attempt: u32,
}

pub struct NewSession {
    pub id: Option<String>,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub connector: Option<String>,
    /// How many sessions the tenant may have (its quota).
    pub max_sessions: u32,
}

#[derive(Clone)]
struct ActorHandle {
    tx: mpsc::UnboundedSender<Command>,
    qr: Arc<Mutex<Option<LiveQr>>>,
}

struct Inner {
    store: Store,
    journal: Journal,
    connectors: HashMap<String, Arc<dyn Connector>>,
    /// Used when a create request names no connector.
    default_connector: String,
    timings: SessionTimings,
    actors: Mutex<HashMap<SessionKey, ActorHandle>>,
}

#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

impl Sessions {
    pub fn new(
        store: Store,
        journal: Journal,
        connectors: HashMap<String, Arc<dyn Connector>>,
        default_connector: String,
        timings: SessionTimings,
    ) -> Self {
        let actors = Mutex::new(HashMap::new());
        Self { inner: Arc::new(Inner { store, journal, connectors, default_connector, timings, actors }) }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    pub async fn get(&self, key: &SessionKey) -> SessionResult<Session> {
        stored::get(self.store().pool(), key).await?.ok_or(SessionError::NotFound)
    }

    pub async fn list(&self, tenant: &str) -> SessionResult<Vec<Session>> {
        Ok(stored::list(self.store().pool(), tenant).await?)
    }

    pub async fn create(&self, tenant: &str, req: NewSession) -> SessionResult<Session> {
        let id = match req.id {
            Some(id) => {
                validate_id(&id)?;
                id
            }
            None => new_id(),
        };
        for (field, value, max) in [("name", &req.name, MAX_NAME_CHARS), ("owner", &req.owner, MAX_OWNER_CHARS)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max || v.chars().any(char::is_control)) {
                return Err(SessionError::InvalidInput(format!("{field} must be at most {max} printable characters")));
            }
        }
        let connector = req.connector.unwrap_or_else(|| self.inner.default_connector.clone());
        if !self.inner.connectors.contains_key(&connector) {
            let mut names: Vec<_> = self.inner.connectors.keys().cloned().collect();
            names.sort();
            return Err(SessionError::UnknownConnector(connector, names.join(", ")));
        }
        let now = Utc::now();
        let session = Session {
            id,
            tenant_id: tenant.to_owned(),
            name: req.name,
            owner: req.owner,
            connector,
            status: SessionStatus::Init,
            phone: None,
            display_name: None,
            last_connected_at: None,
            disconnect_reason: None,
            last_error: None,
            linked: false,
            created_at: now,
            updated_at: now,
        };
        let mut w = self.store().begin_write().await?;
        // Counted inside the write: two creates at once cannot both take the last place.
        if stored::count(&mut w, tenant).await? >= i64::from(req.max_sessions) {
            return Err(SessionError::Quota(QuotaExceeded::count("sessions per tenant", req.max_sessions)));
        }
        stored::insert(&mut w, &session).await?;
        let body = EventBody::SessionStatus(events::SessionStatusChanged {
            status: SessionStatus::Init,
            previous_status: None,
            reason: None,
            phone: None,
            display_name: None,
        });
        self.inner.journal.commit(w, vec![EventDraft::session(&session.key(), body)]).await?;
        Ok(session)
    }

    /// The actor of a session, started on first use.
    async fn actor(&self, key: &SessionKey) -> SessionResult<ActorHandle> {
        if let Some(h) = self.inner.actors.lock().expect("actors lock").get(key).filter(|h| !h.tx.is_closed()) {
            return Ok(h.clone());
        }
        let session = self.get(key).await?;
        let connector = self
            .inner
            .connectors
            .get(&session.connector)
            .cloned()
            .ok_or_else(|| SessionError::UnknownConnector(session.connector.clone(), String::new()))?;
        let mut actors = self.inner.actors.lock().expect("actors lock");
        // Another caller may have started it while we read the store.
        if let Some(h) = actors.get(key).filter(|h| !h.tx.is_closed()) {
            return Ok(h.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let qr = Arc::new(Mutex::new(None));
        let handle = ActorHandle { tx, qr: qr.clone() };
        actors.insert(key.clone(), handle.clone());
        let actor = Actor::new(
            session,
            self.inner.store.clone(),
            self.inner.journal.clone(),
            connector,
            self.inner.timings.clone(),
            qr,
        );
        let sessions = self.clone();
        let key = key.clone();
        tokio::spawn(async move {
            actor.run(rx).await;
            let mut actors = sessions.inner.actors.lock().expect("actors lock");
            if actors.get(&key).is_some_and(|h| h.tx.is_closed()) {
                actors.remove(&key);
            }
        });
        Ok(handle)
    }

    async fn ask<T>(
        &self,
        key: &SessionKey,
        make: impl FnOnce(oneshot::Sender<SessionResult<T>>) -> Command,
    ) -> SessionResult<T> {
        let handle = self.actor(key).await?;
        let (tx, rx) = oneshot::channel();
        handle.tx.send(make(tx)).map_err(|_| SessionError::Gone)?;
        rx.await.map_err(|_| SessionError::Gone)?
    }

    pub async fn connect(&self, key: &SessionKey, method: LoginMethod) -> SessionResult<Session> {
        if let LoginMethod::Code { phone } = &method {
            Jid::parse(phone)?
                .phone_number()
                .ok_or_else(|| SessionError::InvalidInput("phoneNumber must be a phone number".into()))?;
        }
        self.ask(key, |reply| Command::Connect { method, reply }).await
    }

    pub async fn disconnect(&self, key: &SessionKey) -> SessionResult<Session> {
        self.ask(key, |reply| Command::Disconnect { reply }).await
    }

    pub async fn logout(&self, key: &SessionKey) -> SessionResult<Session> {
        self.ask(key, |reply| Command::Logout { reply }).await
    }

    pub async fn delete(&self, key: &SessionKey) -> SessionResult<()> {
        self.ask(key, |reply| Command::Delete { reply }).await
    }

    pub fn current_qr(&self, key: &SessionKey) -> Option<LiveQr> {
        let actors = self.inner.actors.lock().expect("actors lock");
        let qr = actors.get(key)?.qr.lock().expect("qr lock").clone()?;
        (qr.expires_at > Utc::now()).then_some(qr)
    }

    /// Accepts an outbound text: stored PENDING at once, sent by the session's actor when the
    /// session is (or is again) connected.
    pub async fn send_text(&self, key: &SessionKey, to: &str, text: &str) -> SessionResult<Message> {
        if text.trim().is_empty() {
            return Err(SessionError::InvalidInput("text must not be empty".into()));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(SessionError::InvalidInput(format!("text is longer than {MAX_TEXT_CHARS} characters")));
        }
        let jid = Jid::parse(to)?;
        let session = self.get(key).await?;
        if !matches!(session.status, SessionStatus::Connected | SessionStatus::Reconnecting) {
            return Err(SessionError::InvalidState {
                code: "session_not_connected",
                message: format!("session is {}; connect it before sending", session.status),
            });
        }
        let now = Utc::now();
        let mut w = self.store().begin_write().await?;
        let chat = chats::touch(
            &mut w,
            key,
            chats::ChatTouch { jid: &jid, name: None, preview: text, at: now, unread: false },
        )
        .await?;
        let own_jid = session.phone.as_deref().and_then(|p| Jid::parse(p).ok());
        let message = Message {
            id: new_id(),
            wa_message_id: None,
            session_id: key.session.clone(),
            chat_id: chat.id.clone(),
            direction: Direction::Outbound,
            from_me: true,
            from_jid: own_jid.map(|j| j.to_string()).unwrap_or_default(),
            from_number: session.phone.clone(),
            from_lid: None,
            from_name: session.display_name.clone(),
            kind: MessageType::Text,
            content: text.to_owned(),
            media_url: None,
            media: None,
            status: MessageStatus::Pending,
            error: None,
            timestamp: now,
            sent_at: None,
            delivered_at: None,
            read_at: None,
        };
        messages::insert(&mut w, &key.tenant, &message).await?;
        let drafts = vec![
            EventDraft::session(key, EventBody::MessageSent(events::MessageEvent { message: message.clone(), chat: chat.clone() })),
            EventDraft::session(key, EventBody::ChatUpdated(events::ChatUpdated { chat })),
        ];
        self.inner.journal.commit(w, drafts).await?;
        if let Ok(actor) = self.actor(key).await {
            let _ = actor.tx.send(Command::Flush);
        }
        Ok(message)
    }

    /// The user read a chat: unread count to zero, inbound messages READ, read receipts sent.
    pub async fn mark_read(&self, key: &SessionKey, chat_id: &str) -> SessionResult<Chat> {
        self.get(key).await?;
        let unread = messages::unread_inbound(self.store().pool(), key, chat_id).await?;
        let mut w = self.store().begin_write().await?;
        let chat = chats::mark_read(&mut w, key, chat_id).await?.ok_or(SessionError::ChatNotFound)?;
        messages::mark_inbound_read(&mut w, key, chat_id, Utc::now()).await?;
        let drafts = vec![
            EventDraft::session(key, EventBody::ChatRead(events::ChatRead { chat_id: chat.id.clone(), chat: chat.clone() })),
            EventDraft::session(key, EventBody::ChatUpdated(events::ChatUpdated { chat: chat.clone() })),
        ];
        self.inner.journal.commit(w, drafts).await?;
        let unread: Vec<Unread> = unread
            .into_iter()
            .filter_map(|m| Some(Unread { wa_id: m.wa_message_id?, sender: Jid::parse(&m.from_jid).ok()? }))
            .collect();
        if !unread.is_empty()
            && let Ok(jid) = Jid::parse(&chat.jid)
            && let Some(actor) = self.inner.actors.lock().expect("actors lock").get(key)
        {
            let _ = actor.tx.send(Command::MarkRead { chat: jid, unread });
        }
        Ok(chat)
    }

    /// After a restart: logins that were in progress are over; sessions that were connected
    /// come back by themselves, one every `resume_stagger_ms`, so a node with hundreds of
    /// numbers does not open them all in the same second.
    pub async fn resume_all(&self) -> SessionResult<usize> {
        let pool = self.store().pool();
        for s in stored::in_status(pool, &[SessionStatus::QrRequired, SessionStatus::Pairing]).await? {
            let _ = self.ask(&s.key(), |reply| Command::Abandon { reply }).await;
        }
        let resumable = stored::in_status(pool, &[SessionStatus::Connected, SessionStatus::Reconnecting]).await?;
        let count = resumable.len();
        let stagger = Duration::from_millis(self.inner.timings.resume_stagger_ms);
        let this = self.clone();
        tokio::spawn(async move {
            for (i, s) in resumable.into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(stagger).await;
                }
                match this.actor(&s.key()).await {
                    Ok(h) => {
                        let _ = h.tx.send(Command::Resume);
                    }
                    Err(e) => tracing::warn!(session = %s.key(), error = %e, "could not resume session"),
                }
            }
        });
        Ok(count)
    }

    /// Closes every connection without changing any stored status, so the sessions resume on
    /// the next start.
    pub async fn shutdown(&self) {
        let handles: Vec<ActorHandle> = self.inner.actors.lock().expect("actors lock").values().cloned().collect();
        let mut waits = Vec::new();
        for h in handles {
            let (tx, rx) = oneshot::channel();
            if h.tx.send(Command::Shutdown { reply: tx }).is_ok() {
                waits.push(rx);
            }
        }
        for w in waits {
            let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
        }
    }
}
