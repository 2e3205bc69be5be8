//! The simulated phone and network: what WhatsApp's servers and the user's phone would know.
//! The sim REST endpoints act on it; the sim connector's connections observe it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use rand::Rng;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use super::codes;
use super::groups::SimGroups;
use crate::config::SimConfig;
use crate::connector::groups::{GroupChange, GroupEvent};
use crate::connector::{
    ConnectorEvent, ContactProfile, Details, DropKind, EventSink, InboundMessage, Outgoing, OutgoingBody,
};
use crate::model::{ChatState, ContactCard, Jid, LinkPreview, Location, MessageType, Presence, SessionKey, time};

/// How much of what a session sent the simulated network remembers.
const NETWORK_RECORDS: usize = 200;
/// Inbound messages one connection's server waits to hear were stored, at most; past it an
/// inbound is answered without waiting (the message is still delivered).
const MAX_AWAITING: usize = 4096;
/// Files contacts sent that the phone still holds for download, per session.
const MEDIA_FILES: usize = 64;

/// A file as the network received it: what the recipient would get.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentMedia {
    pub mime_type: Option<String>,
    pub size: usize,
    /// Hex SHA-256 of the bytes that went over the network.
    pub sha256: String,
    pub file_name: Option<String>,
    pub voice_note: bool,
}

/// One thing a session sent over the simulated network, as WhatsApp's servers would see it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum NetworkRecord {
    #[serde(rename_all = "camelCase")]
    Message {
        to: String,
        wa_message_id: String,
        #[serde(rename = "type")]
        kind: MessageType,
        text: Option<String>,
        location: Option<Location>,
        contact: Option<ContactCard>,
        poll_question: Option<String>,
        poll_options: Option<Vec<String>>,
        poll_selectable_count: Option<u32>,
        quoted_wa_message_id: Option<String>,
        mentions: Vec<String>,
        /// The preview a text carried for its link.
        link_preview: Option<LinkPreview>,
        media: Option<SentMedia>,
        at: String,
    },
    Reaction {
        chat: String,
        target: String,
        emoji: String,
    },
    Edit {
        chat: String,
        target: String,
        text: String,
    },
    Revoke {
        chat: String,
        target: String,
    },
    Presence {
        presence: Presence,
    },
    ChatState {
        chat: String,
        state: ChatState,
        at: String,
    },
}

impl NetworkRecord {
    pub(super) fn message(to: &Jid, m: &Outgoing, wa_id: &str) -> Self {
        let (mut text, mut location, mut contact, mut poll, mut media) = (None, None, None, None, None);
        let kind = match &m.body {
            OutgoingBody::Text(t) => {
                text = Some(t.clone());
                MessageType::Text
            }
            OutgoingBody::Location(l) => {
                location = Some(l.clone());
                MessageType::Location
            }
            OutgoingBody::Contact(c) => {
                contact = Some(c.clone());
                MessageType::Contact
            }
            OutgoingBody::Poll { question, options, selectable_count } => {
                poll = Some((question.clone(), options.clone(), *selectable_count));
                MessageType::Poll
            }
            OutgoingBody::Media(m) => {
                use sha2::Digest;
                text = (!m.caption.is_empty()).then(|| m.caption.clone());
                media = Some(SentMedia {
                    mime_type: m.info.mime_type.clone(),
                    size: m.data.len(),
                    sha256: hex::encode(sha2::Sha256::digest(&m.data)),
                    file_name: m.info.file_name.clone(),
                    voice_note: m.info.voice_note,
                });
                m.kind.message_type()
            }
        };
        let (poll_question, poll_options, poll_selectable_count) = match poll {
            Some((q, o, n)) => (Some(q), Some(o), Some(n)),
            None => (None, None, None),
        };
        NetworkRecord::Message {
            to: to.to_string(),
            wa_message_id: wa_id.to_owned(),
            kind,
            text,
            location,
            contact,
            poll_question,
            poll_options,
            poll_selectable_count,
            quoted_wa_message_id: m.quoted.as_ref().map(|q| q.wa_id.clone()),
            mentions: m.mentions.iter().map(ToString::to_string).collect(),
            link_preview: m.link_preview.clone(),
            media,
            at: time::iso(Utc::now()),
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SimError {
    #[error("no QR code is being shown for this session; POST /connect first")]
    NoQr,
    #[error("that QR code has expired; scan the current one")]
    QrExpired,
    #[error("that QR code does not belong to this session")]
    QrMismatch,
    #[error("no pairing code is being shown for this session; connect with method 'code' first")]
    NoPairingCode,
    #[error("wrong pairing code")]
    WrongPairingCode,
    #[error("the session is not connected")]
    NotConnected,
    #[error("{0}")]
    Invalid(String),
}

/// Phase of the one live connection a session may have.
#[derive(Debug, Clone)]
pub(super) enum Phase {
    Qr { current: String, earlier: Vec<String> },
    Code { code: String, phone: String },
    Connecting,
    Connected(Device),
}

/// A linked device as the simulated server remembers it; serialised as the credentials.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Device {
    pub token: String,
    pub phone: String,
    pub name: Option<String>,
}

/// What the phone's user does during a login.
#[derive(Debug)]
pub(super) enum PhoneAction {
    Linked(Device),
}

pub(super) struct Live {
    pub id: u64,
    pub phase: Phase,
    pub events: EventSink,
    pub phone: mpsc::UnboundedSender<PhoneAction>,
    /// Dropped (with the connection task) to end the connection.
    pub stop: mpsc::UnboundedSender<()>,
    /// The connection still looks up but nothing crosses it either way, and probes go
    /// unanswered: what the server sends meanwhile waits in `held` for the next connection.
    pub silent: bool,
    /// Inbound messages the session has not said it stored yet, by WhatsApp id: whoever
    /// waits on one hears when it is (or that the connection ended first).
    pub awaiting: HashMap<String, oneshot::Sender<bool>>,
}

#[derive(Default)]
struct SimSession {
    live: Option<Live>,
    revoked: HashSet<String>,
    invalid_numbers: HashSet<String>,
    /// Contacts' profiles the phone side set, by jid.
    profiles: HashMap<String, ContactProfile>,
    outage_until: Option<Instant>,
    network: VecDeque<NetworkRecord>,
    /// Files of inbound media messages, by token, oldest first.
    media: VecDeque<(String, bytes::Bytes)>,
    /// The secrets of the polls the network carried either way, by WhatsApp id, oldest first.
    poll_secrets: VecDeque<(String, Vec<u8>)>,
    groups: SimGroups,
    /// What the server had for the session while its connection was silent, oldest first
    /// (at most `NETWORK_RECORDS`): delivered once a connection is up again, as WhatsApp
    /// delivers what a device missed.
    held: VecDeque<ConnectorEvent>,
}

/// Who writes an inbound message: a number, and the LID the network may report beside it.
pub struct Sender<'a> {
    pub from: &'a Jid,
    /// The group the message is written in; `None`: the sender's own chat.
    pub group: Option<Jid>,
    pub lid: Option<String>,
    pub name: Option<&'a str>,
    /// The id the message travels under; `None`: a new one. WhatsApp keeps a message's id
    /// from sender to recipient, so a message another session sent arrives with its id.
    pub wa_id: Option<String>,
}

impl SimSession {
    fn hold(&mut self, ev: ConnectorEvent) -> Result<(), SimError> {
        if self.held.len() >= NETWORK_RECORDS {
            return Err(SimError::Invalid(format!(
                "the connection is silent and the server already holds {NETWORK_RECORDS} events for it"
            )));
        }
        self.held.push_back(ev);
        Ok(())
    }
}

#[derive(Clone)]
pub struct SimWorld {
    sessions: Arc<Mutex<HashMap<SessionKey, SimSession>>>,
    config: Arc<SimConfig>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

impl SimWorld {
    pub fn new(config: SimConfig) -> Self {
        Self { sessions: Default::default(), config: Arc::new(config), next_id: Default::default() }
    }

    pub(super) fn config(&self) -> &SimConfig {
        &self.config
    }

    fn with<T>(&self, key: &SessionKey, f: impl FnOnce(&mut SimSession) -> T) -> T {
        let mut map = self.sessions.lock().expect("sim lock");
        f(map.entry(key.clone()).or_default())
    }

    pub(super) fn attach(&self, key: &SessionKey, live: impl FnOnce(u64) -> Live) -> u64 {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        self.with(key, |s| s.live = Some(live(id)));
        id
    }

    /// Forgets connection `id` unless a newer one replaced it.
    pub(super) fn detach(&self, key: &SessionKey, id: u64) {
        self.with(key, |s| {
            if s.live.as_ref().is_some_and(|l| l.id == id) {
                s.live = None;
            }
        });
    }

    pub(super) fn set_phase(&self, key: &SessionKey, id: u64, phase: Phase) {
        self.with(key, |s| {
            if let Some(l) = s.live.as_mut().filter(|l| l.id == id) {
                l.phase = phase;
            }
        });
    }

    pub(super) fn is_revoked(&self, key: &SessionKey, token: &str) -> bool {
        self.with(key, |s| s.revoked.contains(token))
    }

    pub(super) fn revoke(&self, key: &SessionKey, token: &str) {
        self.with(key, |s| {
            s.revoked.insert(token.to_owned());
        });
    }

    pub(super) fn network_down(&self, key: &SessionKey) -> bool {
        self.with(key, |s| s.outage_until.is_some_and(|t| Instant::now() < t))
    }

    pub(super) fn is_invalid_number(&self, key: &SessionKey, jid: &Jid) -> bool {
        let Some(number) = jid.phone_number() else { return false };
        let digits = number.trim_start_matches('+').to_owned();
        let global = self.config.invalid_numbers.iter().any(|n| n.trim_start_matches('+') == digits);
        global || self.with(key, |s| s.invalid_numbers.contains(&digits))
    }

    /// Events to the session's current connection (receipts arrive on whichever connection
    /// is up when WhatsApp sends them).
    pub(super) fn emit_to_current(&self, key: &SessionKey, ev: ConnectorEvent) {
        self.with(key, |s| {
            if s.live.as_ref().is_some_and(|l| l.silent) {
                // A receipt beyond the limit is lost, as the status of an old message may be.
                let _ = s.hold(ev);
            } else if let Some(l) = &s.live {
                let _ = l.events.send(ev);
            }
        });
    }

    /// The connection goes silent: it stays up on both ends, but nothing crosses it.
    pub fn silence(&self, key: &SessionKey) -> Result<(), SimError> {
        self.with(key, |s| match s.live.as_mut() {
            Some(l) if matches!(l.phase, Phase::Connected(_)) => {
                l.silent = true;
                Ok(())
            }
            _ => Err(SimError::NotConnected),
        })
    }

    pub(super) fn is_silent(&self, key: &SessionKey, id: u64) -> bool {
        self.with(key, |s| s.live.as_ref().is_some_and(|l| l.id == id && l.silent))
    }

    /// Connection `id` is up: what the server held for the session goes out on it.
    pub(super) fn release_held(&self, key: &SessionKey, id: u64) {
        self.with(key, |s| {
            let Some(live) = s.live.as_ref().filter(|l| l.id == id && !l.silent) else { return };
            for ev in s.held.drain(..) {
                let _ = live.events.send(ev);
            }
        });
    }

    pub(super) fn connected_device(&self, key: &SessionKey, id: u64) -> Option<Device> {
        self.with(key, |s| match s.live.as_ref().filter(|l| l.id == id).map(|l| &l.phase) {
            Some(Phase::Connected(d)) => Some(d.clone()),
            _ => None,
        })
    }

    /// The session whose connected device is `number`, and that device: where the simulated
    /// network delivers what another session sends to it.
    pub(super) fn session_of_number(&self, number: &Jid) -> Option<(SessionKey, Device)> {
        let map = self.sessions.lock().expect("sim lock");
        map.iter().find_map(|(key, s)| match s.live.as_ref().map(|l| &l.phase) {
            Some(Phase::Connected(d)) if Jid::parse(&d.phone).is_ok_and(|j| j == *number) => {
                Some((key.clone(), d.clone()))
            }
            _ => None,
        })
    }

    // ---- what the phone and the network do (sim REST endpoints) ----

    /// The phone scans a QR code. `qr` may be omitted to scan whatever is on screen.
    pub fn scan(
        &self,
        key: &SessionKey,
        qr: Option<&str>,
        phone: Option<&str>,
        name: Option<&str>,
    ) -> Result<Device, SimError> {
        let phone = match phone {
            Some(p) => Jid::parse(p)
                .ok()
                .and_then(|j| j.phone_number())
                .ok_or_else(|| SimError::Invalid(format!("phoneNumber '{p}' is not a phone number")))?,
            None => random_phone(),
        };
        self.with(key, |s| {
            let live = s.live.as_ref().ok_or(SimError::NoQr)?;
            let Phase::Qr { current, earlier } = &live.phase else { return Err(SimError::NoQr) };
            match qr {
                Some(q) if q == current => {}
                Some(q) if earlier.iter().any(|e| e == q) => return Err(SimError::QrExpired),
                Some(_) => return Err(SimError::QrMismatch),
                None => {}
            }
            let device =
                Device { token: codes::device_token(), phone, name: Some(name.unwrap_or("Sim User").to_owned()) };
            live.phone.send(PhoneAction::Linked(device.clone())).map_err(|_| SimError::NoQr)?;
            Ok(device)
        })
    }

    /// The phone's user types the pairing code shown by the gateway.
    pub fn pair(&self, key: &SessionKey, code: &str, name: Option<&str>) -> Result<Device, SimError> {
        let typed: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
        self.with(key, |s| {
            let live = s.live.as_ref().ok_or(SimError::NoPairingCode)?;
            let Phase::Code { code, phone } = &live.phase else { return Err(SimError::NoPairingCode) };
            if typed != *code {
                return Err(SimError::WrongPairingCode);
            }
            let device = Device {
                token: codes::device_token(),
                phone: phone.clone(),
                name: Some(name.unwrap_or("Sim User").to_owned()),
            };
            live.phone.send(PhoneAction::Linked(device.clone())).map_err(|_| SimError::NoPairingCode)?;
            Ok(device)
        })
    }

    /// A contact sends the session's number a message: its WhatsApp id, and what tells when
    /// the session stored it (see [`Self::from_phone_awaited`]).
    pub fn inbound(
        &self,
        key: &SessionKey,
        sender: Sender<'_>,
        kind: MessageType,
        text: &str,
        details: Details,
    ) -> Result<(String, Option<oneshot::Receiver<bool>>), SimError> {
        if let Some(group) = &sender.group
            && !self.with(key, |s| s.groups.is_member(group, sender.from))
        {
            return Err(SimError::Invalid(format!("'{}' is not a participant of '{group}'", sender.from)));
        }
        let wa_id = sender.wa_id.clone().unwrap_or_else(codes::wa_message_id);
        let mut details = details;
        if kind == MessageType::Poll {
            let secret = crate::connector::votes::new_secret();
            self.remember_poll(key, &wa_id, secret.clone());
            details.poll_secret = Some(secret);
        }
        let msg = InboundMessage {
            wa_id: wa_id.clone(),
            chat: sender.group.unwrap_or_else(|| sender.from.clone()),
            from: sender.from.clone(),
            from_lid: sender.lid,
            from_name: sender.name.map(str::to_owned),
            from_me: false,
            kind,
            text: text.to_owned(),
            media_url: None,
            details,
            timestamp: Utc::now(),
        };
        let stored = self.from_phone_awaited(key, &wa_id, ConnectorEvent::Message(msg))?;
        Ok((wa_id, stored))
    }

    /// Like [`Self::from_phone`], and what tells when the session stored the message: `None`
    /// when the server holds it for a silent connection, or already waits on as many as it
    /// keeps track of.
    fn from_phone_awaited(
        &self,
        key: &SessionKey,
        wa_id: &str,
        ev: ConnectorEvent,
    ) -> Result<Option<oneshot::Receiver<bool>>, SimError> {
        self.with(key, |s| {
            let live =
                s.live.as_mut().filter(|l| matches!(l.phase, Phase::Connected(_))).ok_or(SimError::NotConnected)?;
            if live.silent {
                return s.hold(ev).map(|()| None);
            }
            live.events.send(ev).map_err(|_| SimError::NotConnected)?;
            if live.awaiting.len() >= MAX_AWAITING {
                return Ok(None);
            }
            let (tx, rx) = oneshot::channel();
            live.awaiting.insert(wa_id.to_owned(), tx);
            Ok(Some(rx))
        })
    }

    /// The session on connection `id` stored these messages, or could not.
    pub(super) fn stored(&self, key: &SessionKey, id: u64, wa_ids: &[String], stored: bool) {
        self.with(key, |s| {
            if let Some(live) = s.live.as_mut().filter(|l| l.id == id) {
                for wa_id in wa_ids {
                    if let Some(tx) = live.awaiting.remove(wa_id) {
                        let _ = tx.send(stored);
                    }
                }
            }
        });
    }

    /// A contact votes for `options` on a poll of their chat. The vote is sealed with the
    /// poll's secret; on a poll the network never carried it is sealed with one the session
    /// cannot know, and comes to nothing, as on WhatsApp.
    pub fn vote(&self, key: &SessionKey, voter: &Jid, poll_wa_id: &str, options: &[String]) -> Result<(), SimError> {
        let secret = self.with(key, |s| s.poll_secrets.iter().find(|(id, _)| id == poll_wa_id).map(|(_, k)| k.clone()));
        let secret = secret.unwrap_or_else(crate::connector::votes::new_secret);
        let vote = super::votes::seal(&secret, poll_wa_id, voter, options);
        self.from_phone(
            key,
            ConnectorEvent::PollVote {
                chat: voter.clone(),
                poll_wa_id: poll_wa_id.to_owned(),
                voter: voter.clone(),
                vote,
            },
        )
    }

    pub(super) fn remember_poll(&self, key: &SessionKey, wa_id: &str, secret: Vec<u8>) {
        self.with(key, |s| {
            if s.poll_secrets.len() == NETWORK_RECORDS {
                s.poll_secrets.pop_front();
            }
            s.poll_secrets.push_back((wa_id.to_owned(), secret));
        });
    }

    /// Whether the session has a simulated connection that is up (without making an entry).
    pub fn is_connected(&self, key: &SessionKey) -> bool {
        let map = self.sessions.lock().expect("sim lock");
        map.get(key).and_then(|s| s.live.as_ref()).is_some_and(|l| matches!(l.phase, Phase::Connected(_)))
    }

    /// Something a contact does (react, edit, revoke, vote) reaches the connected session.
    pub fn from_phone(&self, key: &SessionKey, ev: ConnectorEvent) -> Result<(), SimError> {
        self.with(key, |s| {
            let live =
                s.live.as_ref().filter(|l| matches!(l.phase, Phase::Connected(_))).ok_or(SimError::NotConnected)?;
            if live.silent {
                return s.hold(ev);
            }
            live.events.send(ev).map_err(|_| SimError::NotConnected)
        })
    }

    pub(super) fn groups<T>(&self, key: &SessionKey, f: impl FnOnce(&mut SimGroups) -> T) -> T {
        self.with(key, |s| f(&mut s.groups))
    }

    /// A contact creates a group the session's number is not in (yet): its jid and invite
    /// code. With `approval`, a join by invite waits for an admin.
    pub fn contact_group(
        &self,
        key: &SessionKey,
        owner: &Jid,
        subject: &str,
        members: &[Jid],
        approval: bool,
    ) -> Result<(Jid, String), SimError> {
        self.with(key, |s| s.groups.create(owner, subject, members, approval))
    }

    /// Another member changes a group; the connected session hears of it.
    pub fn group_change(&self, key: &SessionKey, group: &Jid, by: &Jid, change: GroupChange) -> Result<(), SimError> {
        self.with(key, |s| {
            let live =
                s.live.as_ref().filter(|l| matches!(l.phase, Phase::Connected(_))).ok_or(SimError::NotConnected)?;
            s.groups.apply(group, by, &change)?;
            let ev = GroupEvent { group: group.clone(), by: Some(by.clone()), change, timestamp: Utc::now() };
            live.events.send(ConnectorEvent::Group(ev)).map_err(|_| SimError::NotConnected)
        })
    }

    /// Holds a contact's file until the session downloads it; the oldest go first.
    pub fn keep_media(&self, key: &SessionKey, data: bytes::Bytes) -> crate::connector::MediaSource {
        let token = uuid::Uuid::new_v4().to_string();
        self.with(key, |s| {
            if s.media.len() == MEDIA_FILES {
                s.media.pop_front();
            }
            s.media.push_back((token.clone(), data));
        });
        crate::connector::MediaSource(token)
    }

    pub(super) fn media(&self, key: &SessionKey, token: &str) -> Option<bytes::Bytes> {
        self.with(key, |s| s.media.iter().find(|(t, _)| t == token).map(|(_, d)| d.clone()))
    }

    pub(super) fn record(&self, key: &SessionKey, record: NetworkRecord) {
        self.with(key, |s| {
            if s.network.len() == NETWORK_RECORDS {
                s.network.pop_front();
            }
            s.network.push_back(record);
        });
    }

    /// What the session sent the network, oldest first (the last 200 things).
    pub fn network(&self, key: &SessionKey) -> Vec<NetworkRecord> {
        self.with(key, |s| s.network.iter().cloned().collect())
    }

    /// The network drops the connection; reconnects fail for `outage_ms` afterwards.
    pub fn drop_connection(&self, key: &SessionKey, outage_ms: u64) -> Result<(), SimError> {
        self.with(key, |s| {
            if !s.live.as_ref().is_some_and(|l| matches!(l.phase, Phase::Connected(_))) {
                return Err(SimError::NotConnected);
            }
            let live = s.live.take().expect("checked above");
            let _ = live.stop.send(());
            s.outage_until = (outage_ms > 0).then(|| Instant::now() + std::time::Duration::from_millis(outage_ms));
            let _ = live.events.send(ConnectorEvent::Disconnected(DropKind::Transient("connection lost".into())));
            Ok(())
        })
    }

    /// The user removes the linked device on the phone. `token` names the device when the
    /// session is not connected right now (taken from its stored credentials).
    pub fn phone_logout(&self, key: &SessionKey, token: Option<&str>) -> Result<(), SimError> {
        self.with(key, |s| {
            let connected = match s.live.as_ref().map(|l| &l.phase) {
                Some(Phase::Connected(d)) => Some(d.token.clone()),
                _ => None,
            };
            let device_token = connected.clone().or_else(|| token.map(str::to_owned)).ok_or(SimError::NotConnected)?;
            s.revoked.insert(device_token);
            if connected.is_some()
                && let Some(live) = s.live.take()
            {
                let _ = live.stop.send(());
                let _ = live.events.send(ConnectorEvent::Disconnected(DropKind::LoggedOut));
            }
            Ok(())
        })
    }

    pub fn add_invalid_numbers(&self, key: &SessionKey, numbers: &[String]) -> Result<usize, SimError> {
        let mut digits = Vec::new();
        for n in numbers {
            let jid = Jid::parse(n).map_err(|e| SimError::Invalid(e.to_string()))?;
            let phone = jid.phone_number().ok_or_else(|| SimError::Invalid(format!("'{n}' is not a phone number")))?;
            digits.push(phone.trim_start_matches('+').to_owned());
        }
        Ok(self.with(key, |s| {
            s.invalid_numbers.extend(digits);
            s.invalid_numbers.len()
        }))
    }

    /// Sets what the simulated network shows of a contact (its about text, picture, LID).
    pub fn set_profile(&self, key: &SessionKey, number: &str, profile: ContactProfile) -> Result<(), SimError> {
        let jid =
            Jid::parse_phone(number).ok_or_else(|| SimError::Invalid(format!("'{number}' is not a phone number")))?;
        self.with(key, |s| s.profiles.insert(jid.to_string(), profile));
        Ok(())
    }

    /// What the simulated network shows of a contact: what the phone side set, else nothing.
    pub(super) fn profile(&self, key: &SessionKey, jid: &Jid) -> ContactProfile {
        self.with(key, |s| s.profiles.get(jid.as_str()).cloned().unwrap_or_default())
    }

    /// Forgets everything about a deleted session.
    pub fn forget(&self, key: &SessionKey) {
        self.sessions.lock().expect("sim lock").remove(key);
    }
}

fn random_phone() -> String {
    format!("+1555{:07}", rand::rng().random_range(0..10_000_000))
}
