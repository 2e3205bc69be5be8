//! WhatsApp sessions: one actor per session owns its state machine and its connection, so
//! everything that happens to a session is applied in order. Writes commit to the store with
//! their canonical events (`events::Journal`).

mod actor;
mod backoff;
pub mod compose;
pub mod groups;
mod liveness;
pub mod outgoing;
mod ownership;
mod pacing;
mod qr_image;
pub mod send_queue;
mod url_media;

pub use liveness::WatchdogMetrics;
pub use ownership::{Node, Round};
pub use qr_image::png_data_url;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use url::Url;
use utoipa::ToSchema;

use self::actor::{Actor, Command};
use crate::config::SessionTimings;
use crate::connector::{Connector, LoginMethod, OutgoingBody, Unread};
use crate::events::{self, EventBody, EventDraft, Journal};
use crate::media::MediaStore;
use crate::media::fetch::{FetchError, Fetcher};
use crate::media::kinds::MediaKind;
use crate::model::{
    Chat, ChatState, ContactInfo, Direction, DisconnectReason, IdError, Jid, JidError, Keyed, Liveness, Message,
    MessageOrigin, MessageStatus, NumberCheck, PolicySource, Presence, QueueWait, Quoted, SendPolicy, SendQueue,
    Session, SessionDetail, SessionKey, SessionStatus, new_id, validate_id,
};
use crate::quotas::QuotaExceeded;
use crate::store::{Store, StoreError, chats, idempotency, messages, send_queue as queued, sessions as stored};

/// How long an `Idempotency-Key` answers with the message it made.
const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;
/// Numbers one existence check may ask about.
pub const MAX_NUMBER_CHECKS: usize = 50;
/// WhatsApp lets the sender edit a text for this long.
pub const EDIT_WINDOW_MINUTES: i64 = 15;

/// A session's display name, and its owner (a user id, as long as a token's `sub` may be).
const MAX_NAME_CHARS: usize = 200;
const MAX_OWNER_CHARS: usize = 256;

/// WhatsApp's own limit on a text message.
pub const MAX_TEXT_CHARS: usize = 65_536;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("session not found")]
    NotFound,
    #[error("the session runs on node '{0}'; send this request to that node")]
    OnAnotherNode(String),
    #[error("chat not found")]
    ChatNotFound,
    #[error("message not found")]
    MessageNotFound,
    #[error("group not found, or this number is not a participant")]
    GroupNotFound,
    #[error("only the group's admins may {0}")]
    NotGroupAdmin(&'static str),
    #[error("this number has no WhatsApp account")]
    NotOnWhatsApp,
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("only messages this session sent can be {0}")]
    NotOwnMessage(&'static str),
    #[error("this Idempotency-Key was used for a different request; use a new key for a new message")]
    IdempotencyKeyReused,
    #[error("WhatsApp refused it: {0}")]
    Refused(String),
    #[error(transparent)]
    Media(crate::media::kinds::MediaError),
    #[error(transparent)]
    MediaStore(#[from] crate::media::MediaStoreError),
    #[error(transparent)]
    MediaUrl(#[from] FetchError),
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
    #[error("the session's send queue is full ({depth} messages waiting to go to WhatsApp); retry later")]
    QueueFull { depth: u32, retry_after: Duration },
    #[error("invalid send policy: {0}")]
    Policy(#[from] send_queue::PolicyError),
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

/// Where the gateway serves a message's file (tenant-authorised, like every session route).
pub fn media_path(key: &SessionKey, message_id: &str) -> String {
    format!("/api/v1/sessions/{}/messages/{}/media", key.session, message_id)
}

/// A send as the API or a plugin action asks for it.
#[derive(Debug, Default)]
pub struct SendRequest {
    /// Phone number or jid.
    pub to: String,
    pub body: SendBody,
    /// Our id of a message of the same chat this one replies to.
    pub reply_to: Option<String>,
    /// Phone numbers or jids the text mentions.
    pub mentions: Vec<String>,
    pub idempotency: Option<IdempotencyKey>,
    /// Texts: read the first link's page for a preview.
    pub link_preview: bool,
    /// Who asked for it (kept on the message).
    pub origin: Option<MessageOrigin>,
}

/// What a send carries: a body ready for WhatsApp, or a file the gateway is still to fetch.
#[derive(Debug)]
pub enum SendBody {
    Ready(OutgoingBody),
    FromUrl(MediaFromUrl),
}

impl Default for SendBody {
    fn default() -> Self {
        SendBody::Ready(OutgoingBody::default())
    }
}

/// A media send whose file is at a URL (`media.url`).
#[derive(Debug)]
pub struct MediaFromUrl {
    pub kind: MediaKind,
    pub url: Url,
    pub file_name: Option<String>,
    pub caption: String,
}

/// A client's `Idempotency-Key` and a digest of the request it came with.
#[derive(Debug)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_sha256: String,
}

/// A send the gateway took: the message, and whether an earlier request already made it.
pub struct Accepted {
    pub message: Message,
    pub replayed: bool,
}

/// Something done to WhatsApp on the session's live connection, then recorded.
pub(crate) enum Operation {
    React { message: Message, emoji: String },
    Edit { message: Message, text: String },
    Revoke { message: Message },
    Presence(Presence),
    ChatState { chat: Jid, state: ChatState },
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
    tx: mpsc::UnboundedSender<Box<Command>>,
    qr: Arc<Mutex<Option<LiveQr>>>,
    liveness: Arc<liveness::Liveness>,
    queue: Arc<send_queue::Gauge>,
    /// When the actor started (its lease, in cluster mode, was taken just before).
    since: std::time::Instant,
}

struct Inner {
    store: Store,
    media: MediaStore,
    fetcher: Fetcher,
    journal: Journal,
    connectors: HashMap<String, Arc<dyn Connector>>,
    /// Used when a create request names no connector.
    default_connector: String,
    timings: SessionTimings,
    actors: Mutex<HashMap<SessionKey, ActorHandle>>,
    watchdog: WatchdogMetrics,
    /// The send policy of sessions that set none.
    send_defaults: SendPolicy,
    queue_metrics: send_queue::QueueMetrics,
    /// This node in cluster mode; `None` runs every session here without leases.
    node: Option<Arc<Node>>,
    /// Set when shutdown begins: no session is taken over any more.
    stopping: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

impl Sessions {
    pub fn new(
        store: Store,
        media: MediaStore,
        fetcher: Fetcher,
        journal: Journal,
        connectors: HashMap<String, Arc<dyn Connector>>,
        default_connector: String,
        timings: SessionTimings,
        send_defaults: SendPolicy,
        node: Option<Arc<Node>>,
    ) -> Self {
        let actors = Mutex::new(HashMap::new());
        Self {
            inner: Arc::new(Inner {
                store,
                media,
                fetcher,
                journal,
                connectors,
                default_connector,
                timings,
                actors,
                watchdog: WatchdogMetrics::default(),
                send_defaults,
                queue_metrics: send_queue::QueueMetrics::default(),
                node,
                stopping: Default::default(),
            }),
        }
    }

    fn stopping(&self) -> bool {
        self.inner.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    pub async fn get(&self, key: &SessionKey) -> SessionResult<Session> {
        stored::get(self.store().pool(), key).await?.ok_or(SessionError::NotFound)
    }

    /// The session with its live connection's liveness.
    pub fn detail(&self, session: Session) -> SessionDetail {
        let liveness = self.liveness(&session.key());
        SessionDetail { session, liveness }
    }

    /// How recently the session's connection carried anything; `None` without a connection.
    pub fn liveness(&self, key: &SessionKey) -> Option<Liveness> {
        self.inner.actors.lock().expect("actors lock").get(key)?.liveness.view(Utc::now())
    }

    /// Every session with a live connection and its liveness (for the metrics).
    pub fn liveness_all(&self) -> Vec<(SessionKey, Liveness)> {
        let now = Utc::now();
        let actors = self.inner.actors.lock().expect("actors lock");
        actors.iter().filter_map(|(key, h)| Some((key.clone(), h.liveness.view(now)?))).collect()
    }

    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.inner.watchdog.register(registry);
        self.inner.queue_metrics.register(registry);
    }

    pub fn queue_metrics(&self) -> &send_queue::QueueMetrics {
        &self.inner.queue_metrics
    }

    /// The session's send policy in force, where it comes from, and when its device was linked.
    async fn send_policy(&self, key: &SessionKey) -> SessionResult<(SendPolicy, PolicySource, Option<DateTime<Utc>>)> {
        let stored = queued::get(self.store().pool(), key).await?.ok_or(SessionError::NotFound)?;
        Ok(match stored.policy {
            Some(p) => (p, PolicySource::Session, stored.linked_at),
            None => (self.inner.send_defaults, PolicySource::Default, stored.linked_at),
        })
    }

    /// The session's send queue: its policy, what it is doing, what it sent lately.
    pub async fn send_queue(&self, key: &SessionKey) -> SessionResult<SendQueue> {
        let session = self.get(key).await?;
        let (policy, policy_source, linked_at) = self.send_policy(key).await?;
        let mut state = self.queue_state(key).unwrap_or_else(|| send_queue::idle(policy.max_depth));
        // The gauge is the actor's last pass; what is stored right now says how deep it is.
        state.depth = queued::depth(self.store().pool().into(), key).await?;
        state.max_depth = policy.max_depth;
        if state.depth == 0 {
            state.waiting_for = None;
            state.next_send_at = None;
            state.oldest_queued_at = None;
        } else if session.status != SessionStatus::Connected {
            state.waiting_for = Some(QueueWait::NotConnected);
            state.next_send_at = None;
        }
        let now = Utc::now();
        let (sent_last_minute, sent_last_day) = queued::handed_in(
            self.store().pool(),
            key,
            now - chrono::Duration::minutes(1),
            now - chrono::Duration::days(1),
        )
        .await?;
        let warm_up_until = send_queue::warm_up_until(&policy, linked_at).filter(|until| *until > now);
        Ok(SendQueue { policy, policy_source, state, sent_last_minute, sent_last_day, linked_at, warm_up_until })
    }

    /// Sets the session's own send policy, or with `None` returns it to the gateway's
    /// default; the queue goes by it from its next message.
    pub async fn set_send_policy(&self, key: &SessionKey, policy: Option<SendPolicy>) -> SessionResult<SendQueue> {
        if let Some(p) = &policy {
            send_queue::check(p)?;
        }
        let mut w = self.store().begin_write().await?;
        if !queued::set_policy(&mut w, key, policy.as_ref()).await? {
            return Err(SessionError::NotFound);
        }
        w.commit().await?;
        let actor = self.actor(key).await?;
        let _ = actor.tx.send(Box::new(Command::SendPolicy(policy.unwrap_or(self.inner.send_defaults))));
        self.send_queue(key).await
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

    /// The actor of a session, started on first use. In cluster mode an actor started here
    /// for a session that should be running (a command or a send for a session no node held,
    /// its node having stopped) takes the session over and brings its connection back, as an
    /// ownership round does: holding the lease of a session without running it would keep the
    /// other nodes from taking it.
    async fn actor(&self, key: &SessionKey) -> SessionResult<ActorHandle> {
        self.start_actor(key, true).await
    }

    /// [`Self::actor`] for the callers that bring the connection back themselves (resuming
    /// after a start, taking sessions over in an ownership round).
    async fn actor_without_resume(&self, key: &SessionKey) -> SessionResult<ActorHandle> {
        self.start_actor(key, false).await
    }

    async fn start_actor(&self, key: &SessionKey, resume: bool) -> SessionResult<ActorHandle> {
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
        let (policy, _, linked_at) = self.send_policy(key).await?;
        let taken_over = resume
            && self.inner.node.is_some()
            && matches!(session.status, SessionStatus::Connected | SessionStatus::Reconnecting);
        let store = self.take_lease(key).await?;
        let mut actors = self.inner.actors.lock().expect("actors lock");
        // Another caller may have started it while we read the store.
        if let Some(h) = actors.get(key).filter(|h| !h.tx.is_closed()) {
            return Ok(h.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let qr = Arc::new(Mutex::new(None));
        let liveness = Arc::new(liveness::Liveness::default());
        let queue = Arc::new(send_queue::Gauge::new(policy.max_depth));
        let since = std::time::Instant::now();
        let handle = ActorHandle { tx, qr: qr.clone(), liveness: liveness.clone(), queue: queue.clone(), since };
        actors.insert(key.clone(), handle.clone());
        let url_media = url_media::UrlMedia::new(
            self.inner.fetcher.clone(),
            self.inner.media.clone(),
            store.clone(),
            self.inner.journal.clone(),
        );
        let actor = Actor::new(
            session,
            store,
            self.inner.media.clone(),
            self.inner.journal.clone(),
            connector,
            self.inner.timings.clone(),
            qr,
            url_media,
            actor::Outbox::new(policy, linked_at, queue, self.inner.queue_metrics.clone()),
            handle.tx.downgrade(),
            liveness,
            self.inner.watchdog.clone(),
        );
        let sessions = self.clone();
        let handle_key = key.clone();
        let key = key.clone();
        tokio::spawn(async move {
            actor.run(rx).await;
            let ended = {
                let mut actors = sessions.inner.actors.lock().expect("actors lock");
                let ended = actors.get(&key).is_some_and(|h| h.tx.is_closed());
                if ended {
                    actors.remove(&key);
                }
                ended
            };
            if ended {
                sessions.give_lease_back(&key).await;
            }
        });
        if taken_over {
            tracing::info!(session = %handle_key, "taking the session over");
            let (done, _) = oneshot::channel();
            let _ = handle.tx.send(Box::new(Command::Resume { done }));
        }
        Ok(handle)
    }

    async fn ask<T>(
        &self,
        key: &SessionKey,
        make: impl FnOnce(oneshot::Sender<SessionResult<T>>) -> Command,
    ) -> SessionResult<T> {
        let handle = self.actor(key).await?;
        let (tx, rx) = oneshot::channel();
        handle.tx.send(Box::new(make(tx))).map_err(|_| SessionError::Gone)?;
        rx.await.map_err(|_| SessionError::Gone)?
    }

    /// Which of `numbers` (1 to [`MAX_NUMBER_CHECKS`] phone numbers) have a WhatsApp account,
    /// in the order asked.
    pub async fn check_numbers(&self, key: &SessionKey, numbers: &[String]) -> SessionResult<Vec<NumberCheck>> {
        if numbers.is_empty() || numbers.len() > MAX_NUMBER_CHECKS {
            return Err(SessionError::Unprocessable {
                code: "invalid_numbers",
                message: format!("numbers: give 1 to {MAX_NUMBER_CHECKS} phone numbers"),
            });
        }
        let jids = numbers
            .iter()
            .map(|n| {
                Jid::parse_phone(n).ok_or_else(|| SessionError::Unprocessable {
                    code: "invalid_numbers",
                    message: format!("numbers: '{n}' is not a phone number"),
                })
            })
            .collect::<SessionResult<Vec<_>>>()?;
        let found = self.ask(key, |reply| Command::CheckNumbers { numbers: jids, reply }).await?;
        Ok(numbers
            .iter()
            .zip(found)
            .map(|(number, s)| NumberCheck {
                number: number.clone(),
                jid: s.jid.to_string(),
                exists: s.exists,
                lid: s.lid.map(|l| l.to_string()),
                business: s.business,
            })
            .collect())
    }

    /// What WhatsApp and this session know of a contact (a phone number or its jid).
    pub async fn contact(&self, key: &SessionKey, contact: &str) -> SessionResult<ContactInfo> {
        let jid = Jid::parse_phone(contact).ok_or_else(|| SessionError::Unprocessable {
            code: "invalid_contact",
            message: format!("'{contact}' is not a phone number"),
        })?;
        let profile = self
            .ask(key, |reply| Command::Contact { jid: jid.clone(), reply })
            .await?
            .ok_or(SessionError::NotOnWhatsApp)?;
        let chat = chats::by_jid(self.store().pool(), key, &jid).await?;
        Ok(ContactInfo {
            number: jid.phone_number(),
            jid: jid.to_string(),
            lid: profile.lid.map(|l| l.to_string()),
            name: chat.and_then(|c| c.name),
            about: profile.about,
            business: profile.business,
            picture_url: profile.picture_url,
        })
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

    /// Accepts an outbound text (what plugin actions send).
    pub async fn send_text(
        &self,
        key: &SessionKey,
        to: &str,
        text: &str,
        origin: MessageOrigin,
    ) -> SessionResult<Message> {
        let body = SendBody::Ready(OutgoingBody::Text(text.to_owned()));
        let req = SendRequest { to: to.to_owned(), body, origin: Some(origin), ..SendRequest::default() };
        Ok(self.send(key, req).await?.message)
    }

    /// Accepts an outbound message: stored PENDING at once, sent by the session's actor when
    /// the session is (or is again) connected. With an idempotency key, a retry of the same
    /// request answers with the message the first one made.
    pub async fn send(&self, key: &SessionKey, req: SendRequest) -> SessionResult<Accepted> {
        let (kind, content, blocks) = match &req.body {
            SendBody::Ready(body) => outgoing::check(body)?,
            SendBody::FromUrl(m) => {
                self.inner.fetcher.policy().check_url(&m.url).map_err(FetchError::from)?;
                outgoing::check_to_fetch(m.kind, &m.caption, m.file_name.clone())?
            }
        };
        let jid = Jid::parse(&req.to)?;
        if req.mentions.len() > outgoing::MAX_MENTIONS {
            return Err(SessionError::Unprocessable {
                code: "invalid_mentions",
                message: format!("at most {} mentions", outgoing::MAX_MENTIONS),
            });
        }
        let mentions = req
            .mentions
            .iter()
            .map(|m| Jid::parse(m).map(|j| j.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SessionError::Unprocessable { code: "invalid_mentions", message: e.to_string() })?;
        let session = self.get(key).await?;
        if !matches!(session.status, SessionStatus::Connected | SessionStatus::Reconnecting) {
            return Err(SessionError::InvalidState {
                code: "session_not_connected",
                message: format!("session is {}; connect it before sending", session.status),
            });
        }
        // Another node runs the session: the send is stored here all the same, and that
        // node's actor, told by the cluster feed (`flush_remote_sends`), picks it up. Only a
        // file kept on this node's disk could not be read there.
        if matches!(req.body, SendBody::Ready(OutgoingBody::Media(_))) && !self.inner.media.shared() {
            self.refuse_if_elsewhere(key).await?;
        }
        let quoted = match &req.reply_to {
            Some(id) => Some(self.quotable(key, id, &jid).await?),
            None => None,
        };
        // A retry is answered before anything is stored.
        if let Some(idem) = &req.idempotency
            && let Some(seen) = idempotency::find(self.store().pool().into(), key, &idem.key).await?
        {
            return self.replay(key, idem, seen).await;
        }
        let (policy, _, _) = self.send_policy(key).await?;
        let depth = queued::depth(self.store().pool().into(), key).await?;
        if depth >= policy.max_depth {
            return Err(self.queue_full(key, depth));
        }
        let link_preview = match &req.body {
            SendBody::Ready(OutgoingBody::Text(text)) if req.link_preview => {
                crate::media::link_preview::for_text(&self.inner.fetcher, text).await
            }
            _ => None,
        };
        let now = Utc::now();
        let id = new_id();
        // The file is kept before the message that needs it is written.
        let media_url = match &req.body {
            SendBody::Ready(OutgoingBody::Media(m)) => {
                self.inner.media.put(key, &id, m.data.clone()).await?;
                Some(media_path(key, &id))
            }
            _ => None,
        };
        let mut w = self.store().begin_write().await?;
        // The same key may have arrived twice at once: the first to write wins.
        if let Some(idem) = &req.idempotency
            && let Some(seen) = idempotency::find((&mut w).into(), key, &idem.key).await?
        {
            drop(w);
            if media_url.is_some() {
                self.inner.media.delete(key, &id).await?;
            }
            return self.replay(key, idem, seen).await;
        }
        // Checked again under the writer lock: sends that raced past the first check stop here.
        let depth = queued::depth((&mut w).into(), key).await?;
        if depth >= policy.max_depth {
            drop(w);
            if media_url.is_some() {
                self.inner.media.delete(key, &id).await?;
            }
            return Err(self.queue_full(key, depth));
        }
        let chat = chats::touch(
            &mut w,
            key,
            chats::ChatTouch { jid: &jid, name: None, preview: &content, at: now, unread: 0 },
        )
        .await?;
        let own_jid = session.phone.as_deref().and_then(|p| Jid::parse(p).ok());
        let message = Message {
            id,
            wa_message_id: None,
            session_id: key.session.clone(),
            chat_id: chat.id.clone(),
            direction: Direction::Outbound,
            from_me: true,
            from_jid: own_jid.map(|j| j.to_string()).unwrap_or_default(),
            from_number: session.phone.clone(),
            from_lid: None,
            from_name: session.display_name.clone(),
            kind,
            content,
            media_url,
            media: blocks.media,
            location: blocks.location,
            contact: blocks.contact,
            poll: blocks.poll,
            quoted,
            mentions,
            reactions: Vec::new(),
            edited_at: None,
            revoked_at: None,
            link_preview,
            origin: req.origin.clone(),
            media_expired_at: None,
            status: MessageStatus::Pending,
            error: None,
            timestamp: now,
            sent_at: None,
            delivered_at: None,
            read_at: None,
        };
        messages::insert(&mut w, &key.tenant, &message).await?;
        if let SendBody::FromUrl(m) = &req.body {
            messages::set_media_source(&mut w, key, &message.id, Some(m.url.as_str())).await?;
        }
        if let Some(idem) = &req.idempotency {
            idempotency::remember(&mut w, key, &idem.key, &idem.request_sha256, &message.id, now).await?;
            idempotency::forget_before(&mut w, now - chrono::Duration::hours(IDEMPOTENCY_WINDOW_HOURS)).await?;
        }
        let drafts = vec![
            EventDraft::session(
                key,
                EventBody::MessageSent(events::MessageEvent { message: message.clone(), chat: chat.clone() }),
            ),
            EventDraft::session(key, EventBody::ChatUpdated(events::ChatUpdated { chat })),
        ];
        self.inner.journal.commit(w, drafts).await?;
        // Another node's session is not started here: its own node flushes.
        if let Ok(actor) = self.actor(key).await {
            let _ = actor.tx.send(Box::new(Command::Flush));
        }
        Ok(Accepted { message, replayed: false })
    }

    /// The refusal of a send to a full queue, with the time until its next message is due.
    fn queue_full(&self, key: &SessionKey, depth: u32) -> SessionError {
        let state = self.queue_state(key).unwrap_or_else(|| send_queue::idle(depth));
        SessionError::QueueFull { depth, retry_after: send_queue::retry_after(&state, Utc::now()) }
    }

    /// What the session's queue did at its actor's last pass; none while no actor runs (a
    /// reading starts none).
    fn queue_state(&self, key: &SessionKey) -> Option<crate::model::QueueState> {
        let actors = self.inner.actors.lock().expect("actors lock");
        actors.get(key).map(|h| h.queue.get())
    }

    /// The answer to a send retried with a key already used.
    async fn replay(
        &self,
        key: &SessionKey,
        idem: &IdempotencyKey,
        seen: idempotency::Remembered,
    ) -> SessionResult<Accepted> {
        if seen.request_sha256 != idem.request_sha256 {
            return Err(SessionError::IdempotencyKeyReused);
        }
        let message =
            messages::get(self.store().pool(), key, &seen.message_id).await?.ok_or(SessionError::MessageNotFound)?;
        Ok(Accepted { message, replayed: true })
    }

    /// The message a reply quotes: one of this chat's, already on WhatsApp, not deleted.
    async fn quotable(&self, key: &SessionKey, message_id: &str, chat: &Jid) -> SessionResult<Quoted> {
        let m =
            messages::get(self.store().pool(), key, message_id).await?.ok_or_else(|| SessionError::Unprocessable {
                code: "quoted_not_found",
                message: format!("replyTo: message '{message_id}' not found in this session"),
            })?;
        let same_chat = chats::get(self.store().pool(), key, &m.chat_id).await?.is_some_and(|c| c.jid == chat.as_str());
        if !same_chat {
            return Err(SessionError::Unprocessable {
                code: "quoted_other_chat",
                message: "replyTo names a message of another chat".into(),
            });
        }
        let wa_message_id = self.on_whatsapp(&m)?;
        Ok(Quoted { message_id: Some(m.id), wa_message_id, from_jid: Some(m.from_jid), content: Some(m.content) })
    }

    /// WhatsApp's id of a message that reactions, edits, replies and revokes can name.
    fn on_whatsapp(&self, m: &Message) -> SessionResult<String> {
        if m.revoked_at.is_some() {
            return Err(SessionError::InvalidState {
                code: "message_revoked",
                message: "the message was deleted".into(),
            });
        }
        m.wa_message_id.clone().ok_or_else(|| SessionError::InvalidState {
            code: "message_not_sent",
            message: format!("the message is {} and not on WhatsApp yet", m.status),
        })
    }

    async fn message(&self, key: &SessionKey, message_id: &str) -> SessionResult<Message> {
        messages::get(self.store().pool(), key, message_id).await?.ok_or(SessionError::MessageNotFound)
    }

    /// Sets our reaction to a message (`None` removes it); answers with the message after.
    pub async fn react(&self, key: &SessionKey, message_id: &str, emoji: Option<&str>) -> SessionResult<Message> {
        if let Some(e) = emoji {
            outgoing::check_emoji(e)?;
        }
        let message = self.message(key, message_id).await?;
        self.on_whatsapp(&message)?;
        let emoji = emoji.unwrap_or_default().to_owned();
        self.operate(key, Operation::React { message, emoji }).await
    }

    /// Replaces the text of a text message this session sent, within WhatsApp's edit window.
    pub async fn edit(&self, key: &SessionKey, message_id: &str, text: &str) -> SessionResult<Message> {
        outgoing::check_text(text)?;
        let message = self.message(key, message_id).await?;
        if !message.from_me {
            return Err(SessionError::NotOwnMessage("edited"));
        }
        if message.kind != crate::model::MessageType::Text {
            return Err(SessionError::Unprocessable {
                code: "not_editable",
                message: format!("only text messages can be edited, this one is {}", message.kind),
            });
        }
        self.on_whatsapp(&message)?;
        if Utc::now() - message.timestamp > chrono::Duration::minutes(EDIT_WINDOW_MINUTES) {
            return Err(SessionError::Unprocessable {
                code: "edit_window_passed",
                message: format!("WhatsApp allows edits for {EDIT_WINDOW_MINUTES} minutes after sending"),
            });
        }
        let text = text.to_owned();
        self.operate(key, Operation::Edit { message, text }).await
    }

    /// Deletes a message this session sent for everyone in the chat.
    pub async fn revoke(&self, key: &SessionKey, message_id: &str) -> SessionResult<Message> {
        let message = self.message(key, message_id).await?;
        if !message.from_me {
            return Err(SessionError::NotOwnMessage("deleted for everyone"));
        }
        self.on_whatsapp(&message)?;
        self.operate(key, Operation::Revoke { message }).await
    }

    /// An operation on a message: the message as it is afterwards.
    async fn operate(&self, key: &SessionKey, op: Operation) -> SessionResult<Message> {
        self.ask(key, |reply| Command::Operate { op, reply }).await?.ok_or(SessionError::Gone)
    }

    /// Online or offline for the account's contacts.
    pub async fn set_presence(&self, key: &SessionKey, presence: Presence) -> SessionResult<()> {
        self.get(key).await?;
        self.ask(key, |reply| Command::Operate { op: Operation::Presence(presence), reply }).await.map(drop)
    }

    /// Typing or recording in a chat (`paused` ends it).
    pub async fn chat_state(&self, key: &SessionKey, chat_id: &str, state: ChatState) -> SessionResult<()> {
        let chat = chats::get(self.store().pool(), key, chat_id).await?.ok_or(SessionError::ChatNotFound)?;
        let jid = Jid::parse(&chat.jid).map_err(|e| SessionError::Store(StoreError::Corrupt(e.to_string())))?;
        self.ask(key, |reply| Command::Operate { op: Operation::ChatState { chat: jid, state }, reply }).await.map(drop)
    }

    /// The user read a chat: unread count to zero, inbound messages READ, read receipts sent.
    pub async fn mark_read(&self, key: &SessionKey, chat_id: &str) -> SessionResult<Chat> {
        self.get(key).await?;
        let unread = messages::unread_inbound(self.store().pool(), key, chat_id).await?;
        let mut w = self.store().begin_write().await?;
        let chat = chats::mark_read(&mut w, key, chat_id).await?.ok_or(SessionError::ChatNotFound)?;
        messages::mark_inbound_read(&mut w, key, chat_id, Utc::now()).await?;
        let drafts = vec![
            EventDraft::session(
                key,
                EventBody::ChatRead(events::ChatRead { chat_id: chat.id.clone(), chat: chat.clone() }),
            ),
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
            let _ = actor.tx.send(Box::new(Command::MarkRead { chat: jid, unread }));
        }
        Ok(chat)
    }

    /// After a restart: logins that were in progress are over; sessions that were connected
    /// read RECONNECTING at once (they are not connected until their connection is back) and
    /// come back by themselves, `resume_concurrency` at a time. Those of a network that minds
    /// (WhatsApp) also start one every `resume_stagger_ms`, so a node with hundreds of numbers
    /// does not open them all in the same second.
    pub async fn resume_all(&self) -> SessionResult<usize> {
        let statuses =
            [SessionStatus::QrRequired, SessionStatus::Pairing, SessionStatus::Connected, SessionStatus::Reconnecting];
        self.resume_sessions(stored::in_status(self.store().pool(), &statuses).await?).await
    }

    /// Sessions this node starts running (after a restart, or taken over from another node):
    /// logins in progress are over, connected ones come back.
    async fn resume_sessions(&self, sessions: Vec<Session>) -> SessionResult<usize> {
        let (logins, resumable): (Vec<Session>, Vec<Session>) = sessions
            .into_iter()
            .partition(|s| matches!(s.status, SessionStatus::QrRequired | SessionStatus::Pairing));
        for s in logins {
            let _ = self.ask(&s.key(), |reply| Command::Abandon { reply }).await;
        }
        self.mark_reconnecting(&resumable).await?;
        let count = resumable.len();
        let (paced, unpaced): (Vec<Session>, Vec<Session>) = resumable
            .into_iter()
            .partition(|s| self.inner.connectors.get(&s.connector).is_none_or(|c| c.paces_resumes()));
        let slots = Arc::new(tokio::sync::Semaphore::new(self.inner.timings.resume_concurrency));
        let stagger = Duration::from_millis(self.inner.timings.resume_stagger_ms);
        tokio::spawn(self.clone().resume_each(paced, slots.clone(), stagger));
        tokio::spawn(self.clone().resume_each(unpaced, slots, Duration::ZERO));
        Ok(count)
    }

    /// One write for all of them: a restart would otherwise show hundreds of sessions as
    /// CONNECTED for as long as it takes to bring the last one back.
    async fn mark_reconnecting(&self, sessions: &[Session]) -> SessionResult<()> {
        let was_connected: Vec<&Session> = sessions.iter().filter(|s| s.status == SessionStatus::Connected).collect();
        if was_connected.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut w = self.inner.store.begin_write().await?;
        let mut drafts = Vec::with_capacity(was_connected.len());
        for s in was_connected {
            let mut s = s.clone();
            s.status = SessionStatus::Reconnecting;
            s.disconnect_reason = Some(DisconnectReason::ConnectionLost);
            s.updated_at = now;
            stored::save_state(&mut w, &s).await?;
            let body = EventBody::SessionStatus(events::SessionStatusChanged {
                status: SessionStatus::Reconnecting,
                previous_status: Some(SessionStatus::Connected),
                reason: s.disconnect_reason,
                phone: s.phone.clone(),
                display_name: s.display_name.clone(),
            });
            drafts.push(EventDraft::session(&s.key(), body));
        }
        self.inner.journal.commit(w, drafts).await?;
        Ok(())
    }

    /// Opens each session's connection, holding one of `slots` until that attempt is over
    /// (connected, refused, or retrying with backoff), and at most `connect_timeout_ms`.
    async fn resume_each(self, sessions: Vec<Session>, slots: Arc<tokio::sync::Semaphore>, stagger: Duration) {
        let attempt_limit = Duration::from_millis(self.inner.timings.connect_timeout_ms);
        for (i, s) in sessions.into_iter().enumerate() {
            if i > 0 && !stagger.is_zero() {
                tokio::time::sleep(stagger).await;
            }
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            // Shutting down: an actor started now would not be among those told to stop (and,
            // in a cluster, would take a lease the node is giving up).
            if self.stopping() {
                return;
            }
            let handle = match self.actor_without_resume(&s.key()).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(session = %s.key(), error = %e, "could not resume session");
                    continue;
                }
            };
            let (done, attempt_over) = oneshot::channel();
            if handle.tx.send(Box::new(Command::Resume { done })).is_err() {
                continue;
            }
            tokio::spawn(async move {
                let _ = tokio::time::timeout(attempt_limit, attempt_over).await;
                drop(slot);
            });
        }
    }

    /// Closes every connection without changing any stored status, so the sessions resume on
    /// the next start.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let handles: Vec<ActorHandle> = self.inner.actors.lock().expect("actors lock").values().cloned().collect();
        let mut waits = Vec::new();
        for h in handles {
            let (tx, rx) = oneshot::channel();
            if h.tx.send(Box::new(Command::Shutdown { reply: tx })).is_ok() {
                waits.push(rx);
            }
        }
        for w in waits {
            let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
        }
        self.leave_cluster().await;
    }
}
