//! The state machine of one session. It is the only writer of its session's state and the
//! only user of its connection; commands (from the API) and connector events are handled one
//! at a time, in arrival order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

mod groups;
mod messages;
mod outbox;

pub(super) use groups::GroupCommand;
pub(super) use outbox::Outbox;

use super::liveness::{Liveness, WatchdogMetrics};
use super::url_media::UrlMedia;
use super::{LiveQr, Operation, SessionError, SessionResult, backoff, qr_image};
use crate::config::SessionTimings;
use crate::connector::{
    self, Connection, Connector, ConnectorError, ConnectorEvent, DropKind, EventSource, InboundMessage, LoginMethod,
    OpenRequest, ReceiptKind, Unread,
};
use crate::events::{self, EventBody, EventDraft, Journal};
use crate::media::MediaStore;
use crate::model::{DisconnectReason, Jid, Keyed, MessageStatus, Session, SessionKey, SessionStatus};
use crate::store::{Store, StoreResult, sessions as stored};

/// Inbound messages recorded in one write at most.
const MAX_INBOUND_BATCH: usize = 64;

/// What a session's actor is asked to do. Its queue carries commands boxed: tokio allocates a
/// channel's slots 32 at a time, as soon as the channel exists, and a command is large, so
/// every session would otherwise hold 32 commands' worth of memory while idle.
pub(super) enum Command {
    Connect {
        method: LoginMethod,
        reply: oneshot::Sender<SessionResult<Session>>,
    },
    Disconnect {
        reply: oneshot::Sender<SessionResult<Session>>,
    },
    Logout {
        reply: oneshot::Sender<SessionResult<Session>>,
    },
    Delete {
        reply: oneshot::Sender<SessionResult<()>>,
    },
    /// A login was in progress when the gateway stopped: it cannot be continued.
    Abandon {
        reply: oneshot::Sender<SessionResult<()>>,
    },
    /// Reconnect a linked session after a gateway restart; `done` is dropped when this
    /// attempt is over (connected, refused, or retrying later).
    Resume {
        done: oneshot::Sender<()>,
    },
    /// Outbound messages are waiting in the store.
    Flush,
    /// The session's send policy changed (already stored).
    SendPolicy(crate::model::SendPolicy),
    /// The watchdog's probe of connection `generation` came back (or timed out).
    Probed {
        generation: u64,
        answer: Result<(), String>,
    },
    MarkRead {
        chat: Jid,
        unread: Vec<Unread>,
    },
    /// Done on the live connection, then recorded; answers with the message afterwards.
    Operate {
        op: Operation,
        reply: oneshot::Sender<SessionResult<Option<crate::model::Message>>>,
    },
    /// Asks WhatsApp which of these numbers have an account.
    CheckNumbers {
        numbers: Vec<Jid>,
        reply: oneshot::Sender<SessionResult<Vec<crate::connector::NumberStatus>>>,
    },
    /// Asks WhatsApp for a contact's profile.
    Contact {
        jid: Jid,
        reply: oneshot::Sender<SessionResult<Option<crate::connector::ContactProfile>>>,
    },
    /// Asks for or changes a group (answered on the command's own reply).
    Group(GroupCommand),
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// What to do with the stored device credentials in a state write.
enum Creds {
    Keep,
    Set(String),
    Clear,
}

pub(super) struct Actor {
    key: SessionKey,
    session: Session,
    store: Store,
    media: MediaStore,
    journal: Journal,
    connector: Arc<dyn Connector>,
    timings: SessionTimings,
    qr: Arc<Mutex<Option<LiveQr>>>,
    /// Shared with a probe in flight, which must not keep the actor waiting.
    conn: Option<Arc<dyn Connection>>,
    /// Counts the connections opened, so a late probe answer is matched to its own.
    generation: u64,
    events: Option<EventSource>,
    /// When the current connection last carried anything (for the watchdog's timer).
    last_traffic: Option<Instant>,
    /// The generation of the connection a probe is out on.
    probe_out: Option<u64>,
    liveness: Arc<Liveness>,
    watchdog: WatchdogMetrics,
    /// Phone number a pairing-code login was asked for.
    pairing_phone: Option<String>,
    qr_count: u32,
    reconnect_at: Option<Instant>,
    /// Reconnect attempts since the last stable connection.
    attempts: u32,
    connected_since: Option<Instant>,
    /// Files of sends named by URL, fetched beside the actor.
    url_media: UrlMedia,
    /// The send queue: what is paced, and when the next message is due.
    outbox: Outbox,
    /// This actor's own queue, for a finished fetch to wake the outbox; weak, so the actor
    /// still ends when every handle is gone.
    wake: mpsc::WeakUnboundedSender<Box<Command>>,
    /// Held while a resume after a restart is under way: the resumer waits for it to go.
    resuming: Option<oneshot::Sender<()>>,
}

async fn next_event(rx: &mut Option<EventSource>) -> Option<ConnectorEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn wait_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Actor {
    pub(super) fn new(
        session: Session,
        store: Store,
        media: MediaStore,
        journal: Journal,
        connector: Arc<dyn Connector>,
        timings: SessionTimings,
        qr: Arc<Mutex<Option<LiveQr>>>,
        url_media: UrlMedia,
        outbox: Outbox,
        wake: mpsc::WeakUnboundedSender<Box<Command>>,
        liveness: Arc<Liveness>,
        watchdog: WatchdogMetrics,
    ) -> Self {
        Self {
            key: session.key(),
            session,
            store,
            media,
            journal,
            connector,
            timings,
            qr,
            conn: None,
            generation: 0,
            events: None,
            last_traffic: None,
            probe_out: None,
            liveness,
            watchdog,
            pairing_phone: None,
            qr_count: 0,
            reconnect_at: None,
            attempts: 0,
            connected_since: None,
            url_media,
            outbox,
            wake,
            resuming: None,
        }
    }

    /// Each piece of work runs in a future of its own on the heap: the actor waits far more
    /// than it works, and an idle task is as large as the largest future it holds inline.
    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Box<Command>>) {
        loop {
            let probe_due = self.probe_due();
            tokio::select! {
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { break };
                    if !Box::pin(self.command(*cmd)).await {
                        break;
                    }
                }
                ev = next_event(&mut self.events) => {
                    if ev.is_some() {
                        self.heard();
                    }
                    let result = match ev {
                        Some(ConnectorEvent::Message(m)) => Box::pin(self.inbound_burst(m)).await,
                        Some(ev) => Box::pin(self.connector_event(ev)).await,
                        // The connector went away without saying why: a network failure.
                        None => Box::pin(self.dropped(DropKind::Transient("connection closed".into()))).await,
                    };
                    self.log_failure(result);
                }
                _ = wait_until(self.reconnect_at) => {
                    self.reconnect_at = None;
                    let result = Box::pin(self.open(None)).await;
                    self.log_failure(result);
                }
                _ = wait_until(probe_due) => self.probe(),
                _ = wait_until(self.outbox.due) => {
                    self.outbox.due = None;
                    let result = Box::pin(self.flush_outbox()).await;
                    self.log_failure(result);
                }
            }
        }
        Box::pin(self.close_connection()).await;
    }

    /// The inbound messages already waiting behind `first` go into the same write, up to
    /// `MAX_INBOUND_BATCH`, in order; a message with a file to fetch starts a write of its
    /// own, so the messages before it do not wait for the download.
    async fn inbound_burst(&mut self, first: InboundMessage) -> StoreResult<()> {
        let (batch, after) = self.take_burst(first);
        let result = self.inbound(batch).await;
        match after {
            None => result,
            Some(ev) => {
                self.log_failure(result);
                self.connector_event(ev).await
            }
        }
    }

    /// `first` and the messages waiting behind it that share its write; the event that ended
    /// the burst, if one was taken off the queue.
    fn take_burst(&mut self, first: InboundMessage) -> (Vec<InboundMessage>, Option<ConnectorEvent>) {
        let mut batch = vec![first];
        while batch.len() < MAX_INBOUND_BATCH
            && let Some(rx) = &mut self.events
            && let Ok(ev) = rx.try_recv()
        {
            match ev {
                ConnectorEvent::Message(m) if m.details.media_source.is_none() => batch.push(m),
                other => return (batch, Some(other)),
            }
        }
        (batch, None)
    }

    /// What the connector delivered before a command takes the connection down already
    /// happened on the phone: it is stored first, so a disconnect never drops a message that
    /// arrived just ahead of it. Lifecycle events still queued are superseded by the command.
    async fn keep_delivered(&mut self) {
        let mut next = None;
        loop {
            let ev = match next.take() {
                Some(ev) => ev,
                None => match self.events.as_mut().map(|rx| rx.try_recv()) {
                    Some(Ok(ev)) => ev,
                    _ => return,
                },
            };
            let result = match ev {
                ConnectorEvent::Message(m) => {
                    let (batch, after) = self.take_burst(m);
                    next = after;
                    self.inbound(batch).await
                }
                ev if ev.is_lifecycle() => continue,
                ev => self.connector_event(ev).await,
            };
            self.log_failure(result);
        }
    }

    fn log_failure(&self, result: StoreResult<()>) {
        if let Err(e) = result {
            tracing::error!(session = %self.key, error = %e, "session state could not be saved");
        }
    }

    /// Returns false when the actor should stop.
    async fn command(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Connect { method, reply } => {
                let r = self.connect(method).await;
                let _ = reply.send(r);
            }
            Command::Disconnect { reply } => {
                let r = self.disconnect().await.map(|_| self.session.clone()).map_err(SessionError::from);
                let _ = reply.send(r);
            }
            Command::Logout { reply } => {
                let r = self.logout().await.map(|_| self.session.clone()).map_err(SessionError::from);
                let _ = reply.send(r);
            }
            Command::Delete { reply } => {
                let r = self.delete().await;
                let ok = r.is_ok();
                let _ = reply.send(r);
                return !ok;
            }
            Command::Abandon { reply } => {
                let r = self
                    .set_state(SessionStatus::Disconnected, Some(DisconnectReason::ConnectionLost), Creds::Keep, vec![])
                    .await;
                let _ = reply.send(r.map_err(SessionError::from));
            }
            Command::Resume { done } => {
                if self.conn.is_none() {
                    self.resuming = Some(done);
                    let r = self.open(None).await;
                    self.log_failure(r);
                }
            }
            Command::CheckNumbers { numbers, reply } => {
                let r = self.check_numbers(&numbers).await;
                let _ = reply.send(r);
            }
            Command::Contact { jid, reply } => {
                let r = self.contact(&jid).await;
                let _ = reply.send(r);
            }
            Command::Group(cmd) => self.group_command(cmd).await,
            Command::Flush => {
                let r = self.flush_outbox().await;
                self.log_failure(r);
            }
            Command::SendPolicy(policy) => {
                self.outbox.set_policy(policy);
                let r = self.flush_outbox().await;
                self.log_failure(r);
            }
            Command::Probed { generation, answer } => {
                if self.probe_out != Some(generation) {
                    // The connection it probed has gone since.
                    return true;
                }
                self.probe_out = None;
                self.liveness.probing(false);
                match answer {
                    Ok(()) => self.heard(),
                    Err(why) => {
                        self.watchdog.stale.inc();
                        tracing::warn!(session = %self.key, %why, "connection silent and unanswered: reconnecting");
                        self.keep_delivered().await;
                        self.close_connection().await;
                        let r = self.dropped(DropKind::Stale(why)).await;
                        self.log_failure(r);
                    }
                }
            }
            Command::MarkRead { chat, unread } => {
                if let Some(conn) = &self.conn
                    && let Err(e) = conn.mark_read(&chat, &unread).await
                {
                    tracing::debug!(session = %self.key, error = %e, "read receipts not sent");
                }
            }
            Command::Operate { op, reply } => {
                let r = self.operate(op).await;
                let _ = reply.send(r);
            }
            Command::Shutdown { reply } => {
                // Closed first: an event arriving after the last one is read would otherwise be
                // accepted by the connection and dropped with the channel.
                if let Some(events) = self.events.as_mut() {
                    events.close();
                }
                self.keep_delivered().await;
                self.close_connection().await;
                let _ = reply.send(());
                return false;
            }
        }
        true
    }

    // ---- commands ----

    async fn connect(&mut self, method: LoginMethod) -> SessionResult<Session> {
        if self.session.status == SessionStatus::Connected && self.conn.is_some() {
            return Err(SessionError::InvalidState {
                code: "already_connected",
                message: "session is already connected".into(),
            });
        }
        // A login in progress is replaced by the new one (the user asked again, perhaps for
        // another method); a pending reconnect is brought forward.
        self.close_connection().await;
        self.reconnect_at = None;
        self.attempts = 0;
        self.open(Some(method)).await?;
        Ok(self.session.clone())
    }

    async fn disconnect(&mut self) -> StoreResult<()> {
        let was_active = self.conn.is_some() || self.reconnect_at.is_some();
        self.keep_delivered().await;
        self.close_connection().await;
        self.reconnect_at = None;
        if !was_active && !self.session.status.is_active() {
            return Ok(());
        }
        let body = EventBody::SessionDisconnected(events::SessionDisconnected {
            reason: DisconnectReason::Manual,
            message: Some("disconnected on request".into()),
            will_reconnect: false,
        });
        self.set_state(SessionStatus::Disconnected, Some(DisconnectReason::Manual), Creds::Keep, vec![body]).await
    }

    async fn logout(&mut self) -> StoreResult<()> {
        self.keep_delivered().await;
        if let Some(conn) = self.let_go() {
            conn.logout().await;
        }
        self.reconnect_at = None;
        self.session.phone = None;
        self.session.display_name = None;
        let body = EventBody::SessionDisconnected(events::SessionDisconnected {
            reason: DisconnectReason::LoggedOut,
            message: Some("logged out on request".into()),
            will_reconnect: false,
        });
        self.set_state(SessionStatus::Disconnected, Some(DisconnectReason::LoggedOut), Creds::Clear, vec![body]).await
    }

    async fn delete(&mut self) -> SessionResult<()> {
        if self.conn.is_some() || self.session.linked {
            self.logout().await?;
        }
        let mut w = self.store.begin_write().await?;
        if !stored::delete(&mut w, &self.key).await? {
            return Err(SessionError::NotFound);
        }
        w.commit().await?;
        self.connector.erase(&self.key).await;
        self.media.delete_all(&self.key.tenant, Some(&self.key.session)).await?;
        Ok(())
    }

    // ---- connection ----

    /// Opens a connection: with the stored credentials when the device is linked, otherwise
    /// with a login (`method`, QR by default).
    async fn open(&mut self, method: Option<LoginMethod>) -> StoreResult<()> {
        let credentials = stored::credentials(self.store.pool(), &self.key).await?;
        let relogin = method.is_some() && credentials.is_none();
        if credentials.is_none() && !relogin {
            // A reconnect without credentials: the device was unlinked meanwhile.
            let body = EventBody::SessionDisconnected(events::SessionDisconnected {
                reason: DisconnectReason::LoggedOut,
                message: Some("the device is no longer linked; connect again to log in".into()),
                will_reconnect: false,
            });
            return self
                .set_state(SessionStatus::Disconnected, Some(DisconnectReason::LoggedOut), Creds::Keep, vec![body])
                .await;
        }
        let login = method.unwrap_or(LoginMethod::Qr);
        self.pairing_phone = match &login {
            LoginMethod::Code { phone } => Some(phone.clone()),
            LoginMethod::Qr => None,
        };
        self.qr_count = 0;
        let (tx, rx) = connector::event_channel();
        let req = OpenRequest {
            key: self.key.clone(),
            credentials: credentials.clone(),
            login,
            events: tx,
            store: self.store.clone(),
        };
        match self.connector.open(req).await {
            Ok(conn) => {
                self.conn = Some(Arc::from(conn));
                self.generation += 1;
                self.events = Some(rx);
                let status = if credentials.is_some() { SessionStatus::Reconnecting } else { SessionStatus::Init };
                // A retry after a drop keeps saying why the session is down; a fresh start has no reason.
                let reason = match self.session.status {
                    SessionStatus::Reconnecting => self.session.disconnect_reason,
                    _ => None,
                };
                self.set_state(status, reason, Creds::Keep, vec![]).await
            }
            Err(ConnectorError::NotConnected) => self.dropped(DropKind::Transient("network unreachable".into())).await,
            Err(ConnectorError::Rejected(msg)) => self.dropped(DropKind::Failed(msg)).await,
        }
    }

    async fn close_connection(&mut self) {
        if let Some(conn) = self.let_go() {
            conn.close().await;
        }
    }

    /// Lets go of the connection and everything that belongs to it (its events, its QR, the
    /// watchdog's view of it); hands the connection back to be closed or logged out, if any.
    fn let_go(&mut self) -> Option<Arc<dyn Connection>> {
        self.events = None;
        self.clear_qr();
        self.unwatch();
        self.conn.take()
    }

    // ---- watchdog ----

    fn heard(&mut self) {
        self.last_traffic = Some(Instant::now());
        self.liveness.heard(Utc::now());
    }

    /// The connection is gone: nothing to watch until the next one connects.
    fn unwatch(&mut self) {
        self.last_traffic = None;
        self.probe_out = None;
        self.liveness.lost();
    }

    /// When a connected session that stays silent is due a probe; never while one is out.
    fn probe_due(&self) -> Option<Instant> {
        let silence = self.timings.watchdog_silence_ms;
        if silence == 0 || self.probe_out.is_some() || self.conn.is_none() {
            return None;
        }
        if self.session.status != SessionStatus::Connected {
            return None;
        }
        Some(self.last_traffic? + Duration::from_millis(silence))
    }

    /// Probes the connection beside the actor; the answer comes back as `Command::Probed`.
    fn probe(&mut self) {
        let (Some(conn), Some(wake)) = (self.conn.clone(), self.wake.upgrade()) else { return };
        let generation = self.generation;
        self.probe_out = Some(generation);
        self.liveness.probing(true);
        self.watchdog.probes.inc();
        let timeout = Duration::from_millis(self.timings.watchdog_probe_timeout_ms);
        tokio::spawn(async move {
            let answer = match tokio::time::timeout(timeout, conn.probe()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("the connection carried nothing and failed a probe: {e}")),
                Err(_) => Err(format!(
                    "the connection carried nothing and a probe went unanswered for {} ms",
                    timeout.as_millis()
                )),
            };
            let _ = wake.send(Box::new(Command::Probed { generation, answer }));
        });
    }

    fn clear_qr(&self) {
        *self.qr.lock().expect("qr lock") = None;
    }

    // ---- connector events ----

    async fn connector_event(&mut self, ev: ConnectorEvent) -> StoreResult<()> {
        match ev {
            ConnectorEvent::Qr { code, ttl } => self.qr_code(code, ttl).await,
            ConnectorEvent::PairingCode { code, ttl } => {
                let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
                let body = EventBody::SessionPairingCode(events::SessionPairingCode {
                    code,
                    phone_number: self.pairing_phone.clone().unwrap_or_default(),
                    expires_at,
                });
                self.set_state(SessionStatus::Pairing, None, Creds::Keep, vec![body]).await
            }
            ConnectorEvent::LoginTimedOut => self.login_timed_out().await,
            ConnectorEvent::PairSuccess { phone, display_name, credentials } => {
                self.clear_qr();
                self.session.phone = Some(phone);
                self.session.display_name = display_name;
                self.set_state(SessionStatus::Pairing, None, Creds::Set(credentials), vec![]).await
            }
            ConnectorEvent::Connected { phone, display_name } => {
                self.clear_qr();
                self.session.phone = Some(phone.clone());
                if display_name.is_some() {
                    self.session.display_name = display_name;
                }
                self.session.last_connected_at = Some(Utc::now());
                self.session.last_error = None;
                self.connected_since = Some(Instant::now());
                let body = EventBody::SessionConnected(events::SessionConnected {
                    phone: Some(phone),
                    display_name: self.session.display_name.clone(),
                });
                self.set_state(SessionStatus::Connected, None, Creds::Keep, vec![body]).await?;
                self.flush_outbox().await
            }
            ConnectorEvent::Disconnected(kind) => self.dropped(kind).await,
            ConnectorEvent::Reconnecting(why) => {
                // The connector retries on its own backoff; the connection stays ours.
                self.clear_qr();
                self.connected_since = None;
                self.session.last_error = Some(why.clone());
                let body = EventBody::SessionDisconnected(events::SessionDisconnected {
                    reason: DisconnectReason::ConnectionLost,
                    message: Some(why),
                    will_reconnect: true,
                });
                let reason = Some(DisconnectReason::ConnectionLost);
                self.set_state(SessionStatus::Reconnecting, reason, Creds::Keep, vec![body]).await
            }
            ConnectorEvent::Message(m) => self.inbound(vec![m]).await,
            ConnectorEvent::Ack { wa_id, error } => {
                let status = if error.is_some() { MessageStatus::Failed } else { MessageStatus::Sent };
                self.message_status(&[wa_id], status, error).await
            }
            ConnectorEvent::Receipt { wa_ids, kind } => {
                let status = match kind {
                    ReceiptKind::Delivered => MessageStatus::Delivered,
                    ReceiptKind::Read => MessageStatus::Read,
                };
                self.message_status(&wa_ids, status, None).await
            }
            ConnectorEvent::Reaction { chat, target_wa_id, from, emoji, timestamp } => {
                self.reaction(&chat, &target_wa_id, &from, emoji, timestamp).await
            }
            ConnectorEvent::Edited { chat, target_wa_id, from, text, timestamp } => {
                self.edited(&chat, &target_wa_id, &from, text, timestamp).await
            }
            ConnectorEvent::Revoked { chat, target_wa_id, from, timestamp } => {
                self.revoked(&chat, &target_wa_id, &from, timestamp).await
            }
            ConnectorEvent::Group(ev) => self.group_event(ev).await,
            ConnectorEvent::PollVote { chat, poll_wa_id, voter, vote } => {
                self.poll_vote(&chat, &poll_wa_id, &voter, vote).await
            }
        }
    }

    async fn qr_code(&mut self, code: String, ttl: Duration) -> StoreResult<()> {
        self.qr_count += 1;
        if self.qr_count > self.timings.max_qr_codes {
            return self.login_timed_out().await;
        }
        let live = LiveQr {
            data_url: qr_image::png_data_url(&code),
            qr: code,
            expires_at: Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
            attempt: self.qr_count,
        };
        *self.qr.lock().expect("qr lock") = Some(live.clone());
        let body = EventBody::SessionQr(events::SessionQr {
            qr: live.qr,
            data_url: live.data_url,
            expires_at: live.expires_at,
            attempt: live.attempt,
            max_attempts: self.timings.max_qr_codes,
        });
        self.set_state(SessionStatus::QrRequired, None, Creds::Keep, vec![body]).await
    }

    async fn login_timed_out(&mut self) -> StoreResult<()> {
        self.close_connection().await;
        let body = EventBody::SessionDisconnected(events::SessionDisconnected {
            reason: DisconnectReason::QrTimeout,
            message: Some("the login was not completed in time".into()),
            will_reconnect: false,
        });
        self.set_state(SessionStatus::Disconnected, Some(DisconnectReason::QrTimeout), Creds::Keep, vec![body]).await
    }

    async fn dropped(&mut self, kind: DropKind) -> StoreResult<()> {
        self.resuming = None;
        self.let_go();
        let stable = self
            .connected_since
            .take()
            .is_some_and(|t| t.elapsed() >= Duration::from_millis(self.timings.stable_after_ms));
        if stable {
            self.attempts = 0;
        }
        let (status, reason, creds, body) = match kind {
            DropKind::Transient(why) => return self.schedule_reconnect(why, DisconnectReason::ConnectionLost).await,
            DropKind::Stale(why) => return self.schedule_reconnect(why, DisconnectReason::Stale).await,
            DropKind::LoggedOut => {
                self.session.phone = None;
                self.session.display_name = None;
                let body = EventBody::SessionDisconnected(events::SessionDisconnected {
                    reason: DisconnectReason::LoggedOut,
                    message: Some("the device was logged out from the phone".into()),
                    will_reconnect: false,
                });
                (SessionStatus::Disconnected, DisconnectReason::LoggedOut, Creds::Clear, body)
            }
            DropKind::Replaced => {
                let body = EventBody::SessionDisconnected(events::SessionDisconnected {
                    reason: DisconnectReason::ConnectionLost,
                    message: Some("another client took this session over".into()),
                    will_reconnect: false,
                });
                (SessionStatus::Disconnected, DisconnectReason::ConnectionLost, Creds::Keep, body)
            }
            DropKind::Banned(msg) => {
                self.session.last_error = Some(msg.clone());
                let body = EventBody::SessionError(events::SessionError { code: "temporary_ban".into(), message: msg });
                (SessionStatus::Error, DisconnectReason::Error, Creds::Keep, body)
            }
            DropKind::Failed(msg) => {
                self.session.last_error = Some(msg.clone());
                let body =
                    EventBody::SessionError(events::SessionError { code: "connect_failed".into(), message: msg });
                (SessionStatus::Error, DisconnectReason::Error, Creds::Keep, body)
            }
        };
        self.set_state(status, Some(reason), creds, vec![body]).await
    }

    async fn schedule_reconnect(&mut self, why: String, reason: DisconnectReason) -> StoreResult<()> {
        if self.attempts >= self.timings.max_reconnect_attempts {
            let message = format!("gave up after {} reconnect attempts: {why}", self.attempts);
            self.session.last_error = Some(message.clone());
            let body = EventBody::SessionError(events::SessionError { code: "reconnect_failed".into(), message });
            return self.set_state(SessionStatus::Error, Some(DisconnectReason::Error), Creds::Keep, vec![body]).await;
        }
        let delay = backoff::delay(self.attempts, self.timings.backoff_initial_ms, self.timings.backoff_max_ms);
        self.attempts += 1;
        self.reconnect_at = Some(Instant::now() + delay);
        let mut events = Vec::new();
        // A retry that fails again keeps the reason the session first went down for.
        let reason = match self.session.status {
            SessionStatus::Reconnecting => self.session.disconnect_reason.unwrap_or(reason),
            _ => {
                events.push(EventBody::SessionDisconnected(events::SessionDisconnected {
                    reason,
                    message: Some(why),
                    will_reconnect: true,
                }));
                reason
            }
        };
        self.set_state(SessionStatus::Reconnecting, Some(reason), Creds::Keep, events).await
    }

    // ---- state ----

    /// Writes the session's state (and credentials) with the events it causes; a
    /// `session.status` event is added whenever the status itself changed.
    async fn set_state(
        &mut self,
        status: SessionStatus,
        reason: Option<DisconnectReason>,
        creds: Creds,
        extra: Vec<EventBody>,
    ) -> StoreResult<()> {
        let previous = self.session.status;
        if !matches!(status, SessionStatus::Reconnecting | SessionStatus::Init) {
            self.resuming = None;
        }
        self.session.status = status;
        self.session.disconnect_reason = reason;
        self.session.updated_at = Utc::now();
        let mut w = self.store.begin_write().await?;
        stored::save_state(&mut w, &self.session).await?;
        match &creds {
            Creds::Keep => {}
            Creds::Set(c) => stored::set_credentials(&mut w, &self.key, Some(c)).await?,
            Creds::Clear => stored::set_credentials(&mut w, &self.key, None).await?,
        }
        let mut drafts = Vec::new();
        if previous != status {
            drafts.push(EventDraft::session(
                &self.key,
                EventBody::SessionStatus(events::SessionStatusChanged {
                    status,
                    previous_status: Some(previous),
                    reason,
                    phone: self.session.phone.clone(),
                    display_name: self.session.display_name.clone(),
                }),
            ));
        }
        drafts.extend(extra.into_iter().map(|b| EventDraft::session(&self.key, b)));
        self.journal.commit(w, drafts).await?;
        match creds {
            Creds::Keep => {}
            Creds::Set(_) => {
                self.session.linked = true;
                self.outbox.linked(true);
            }
            Creds::Clear => {
                self.session.linked = false;
                self.outbox.linked(false);
                // Void credentials leave nothing behind: what the connector keeps outside
                // our store (the whatsapp device file) goes with them.
                self.connector.unlinked(&self.key).await;
            }
        }
        // A queue that was going out now waits for the connection: its gauge and
        // `session.queue` say so.
        if previous == SessionStatus::Connected && status != SessionStatus::Connected {
            return Box::pin(self.flush_outbox()).await;
        }
        Ok(())
    }
}
