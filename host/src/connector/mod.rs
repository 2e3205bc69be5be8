//! The WhatsApp side, behind one trait. A connector opens a connection for a session and then
//! reports everything as an ordered stream of [`ConnectorEvent`]s; the session state machine
//! (`sessions`) turns them into state, store writes and canonical events. Nothing of a
//! connector's own types crosses this boundary.

pub mod groups;
pub mod sim;
pub mod votes;
#[cfg(feature = "whatsapp")]
pub mod whatsapp;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::sync::mpsc;

use self::groups::{GroupEvent, GroupOps};
use crate::media::kinds::MediaKind;
use crate::model::{
    ChatState, ContactCard, Jid, LinkPreview, Location, MediaInfo, MessageType, Poll, Presence, SessionKey,
};

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConnectorError {
    /// Transient: the message stays queued and is retried once connected.
    #[error("not connected to WhatsApp")]
    NotConnected,
    /// Permanent for this request.
    #[error("{0}")]
    Rejected(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoginMethod {
    Qr,
    Code { phone: String },
}

pub struct OpenRequest {
    pub key: SessionKey,
    /// Device credentials from an earlier pairing; `None` means a login is needed.
    pub credentials: Option<String>,
    pub login: LoginMethod,
    pub events: EventSink,
    /// The session's handle on the store (fenced by its lease in cluster mode), for a connector
    /// that keeps its device state in the database.
    pub store: crate::store::Store,
}

/// Where a connection's events go. The channel carries them boxed: tokio allocates a channel's
/// slots 32 at a time, as soon as the channel exists, and an event is large, so every session
/// would otherwise hold 32 events' worth of memory while nothing happens.
#[derive(Clone)]
pub struct EventSink(mpsc::UnboundedSender<Box<ConnectorEvent>>);

/// The session's end of an [`EventSink`].
pub struct EventSource(mpsc::UnboundedReceiver<Box<ConnectorEvent>>);

pub fn event_channel() -> (EventSink, EventSource) {
    let (tx, rx) = mpsc::unbounded_channel();
    (EventSink(tx), EventSource(rx))
}

impl EventSink {
    pub fn send(&self, ev: ConnectorEvent) -> Result<(), mpsc::error::SendError<ConnectorEvent>> {
        self.0.send(Box::new(ev)).map_err(|e| mpsc::error::SendError(*e.0))
    }
}

impl EventSource {
    pub async fn recv(&mut self) -> Option<ConnectorEvent> {
        self.0.recv().await.map(|ev| *ev)
    }

    pub fn try_recv(&mut self) -> Result<ConnectorEvent, mpsc::error::TryRecvError> {
        self.0.try_recv().map(|ev| *ev)
    }

    /// Refuses further events (the connection's side learns it cannot deliver them), keeping
    /// those already here to be read.
    pub fn close(&mut self) {
        self.0.close();
    }
}

/// Why a connection ended, in the terms the state machine decides on.
#[derive(Debug, Clone, PartialEq)]
pub enum DropKind {
    /// Network trouble: reconnect with backoff.
    Transient(String),
    /// The device was unlinked (from the phone or by us): credentials are void.
    LoggedOut,
    /// Another client took the session over.
    Replaced,
    /// The watchdog heard nothing for too long and a probe went unanswered: reconnect with
    /// backoff.
    Stale(String),
    /// WhatsApp refused the account for now.
    Banned(String),
    /// Connecting failed for a reason retrying will not fix.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReceiptKind {
    Delivered,
    Read,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub wa_id: String,
    pub chat: Jid,
    pub from: Jid,
    /// The contact's LID where the network reports one beside the phone number.
    pub from_lid: Option<String>,
    pub from_name: Option<String>,
    pub from_me: bool,
    pub kind: MessageType,
    /// The text, or what stands for the message in a chat list (caption, question, name).
    pub text: String,
    pub media_url: Option<String>,
    pub details: Details,
    pub timestamp: DateTime<Utc>,
}

/// What a message carries beside its text, by kind; empty for a plain text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub media: Option<MediaInfo>,
    /// Where the connector fetches the file from (`Connection::download`).
    pub media_source: Option<MediaSource>,
    pub location: Option<Location>,
    pub contact: Option<ContactCard>,
    pub poll: Option<Poll>,
    /// The message this one replies to, as WhatsApp names it.
    pub quoted: Option<QuotedRef>,
    /// Jids the text mentions.
    pub mentions: Vec<String>,
    /// A text's preview of its link.
    pub link_preview: Option<LinkPreview>,
    /// A poll: the secret the votes on it are sealed with.
    pub poll_secret: Option<Vec<u8>>,
}

/// How a connector finds an inbound message's file again; what it holds is the connector's
/// own business (whatsapp: the CDN path and keys, sim: a token).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSource(pub String);

/// A media file to send, read back from the media store.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMedia {
    pub kind: MediaKind,
    pub info: MediaInfo,
    /// Images, videos and documents; empty otherwise.
    pub caption: String,
    pub data: bytes::Bytes,
}

/// A message on WhatsApp that another one refers to (a reply, a reaction, an edit, a revoke).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotedRef {
    pub wa_id: String,
    /// Who wrote it; needed in groups.
    pub sender: Option<Jid>,
    pub from_me: bool,
    /// Its text as the reply shows it.
    pub text: Option<String>,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub body: OutgoingBody,
    pub quoted: Option<QuotedRef>,
    pub mentions: Vec<Jid>,
    /// Texts: the preview of the link in it, as the gateway read it from the page.
    pub link_preview: Option<LinkPreview>,
    /// Polls: the secret the poll goes out with, the same on every try.
    pub poll_secret: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutgoingBody {
    Text(String),
    Location(Location),
    Contact(ContactCard),
    Poll { question: String, options: Vec<String>, selectable_count: u32 },
    Media(OutgoingMedia),
}

impl Default for OutgoingBody {
    fn default() -> Self {
        OutgoingBody::Text(String::new())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorEvent {
    Qr {
        code: String,
        ttl: Duration,
    },
    PairingCode {
        code: String,
        ttl: Duration,
    },
    /// Every QR code (or the pairing code) expired unused.
    LoginTimedOut,
    PairSuccess {
        phone: String,
        display_name: Option<String>,
        credentials: String,
    },
    Connected {
        phone: String,
        display_name: Option<String>,
    },
    Disconnected(DropKind),
    /// The connection is down and the connector is reconnecting by itself (on its own
    /// backoff); the connection stays open. The text says why, for the user.
    Reconnecting(String),
    Message(InboundMessage),
    Ack {
        wa_id: String,
        error: Option<String>,
    },
    Receipt {
        wa_ids: Vec<String>,
        kind: ReceiptKind,
    },
    /// Someone reacted to a message of the chat; an empty emoji takes the reaction back.
    Reaction {
        chat: Jid,
        target_wa_id: String,
        from: Jid,
        emoji: String,
        timestamp: DateTime<Utc>,
    },
    /// The sender of a message changed its text.
    Edited {
        chat: Jid,
        target_wa_id: String,
        from: Jid,
        text: String,
        timestamp: DateTime<Utc>,
    },
    /// The sender deleted a message for everyone.
    Revoked {
        chat: Jid,
        target_wa_id: String,
        from: Jid,
        timestamp: DateTime<Utc>,
    },
    /// A vote on a poll, as sealed by the voter; opened (`Connection::open_vote`) it names
    /// the options the voter chose now (none: the vote taken back).
    PollVote {
        chat: Jid,
        poll_wa_id: String,
        voter: Jid,
        vote: votes::SealedVote,
    },
    /// Another member changed a group the account is in.
    Group(GroupEvent),
}

impl ConnectorEvent {
    /// Events about the connection itself (login, connect, drop), as opposed to what happened
    /// on the account; a command that takes the connection down supersedes them.
    pub fn is_lifecycle(&self) -> bool {
        matches!(
            self,
            ConnectorEvent::Qr { .. }
                | ConnectorEvent::PairingCode { .. }
                | ConnectorEvent::LoginTimedOut
                | ConnectorEvent::PairSuccess { .. }
                | ConnectorEvent::Connected { .. }
                | ConnectorEvent::Disconnected(_)
                | ConnectorEvent::Reconnecting(_)
        )
    }
}

/// An inbound message being marked read: WhatsApp's id for it and who sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unread {
    pub wa_id: String,
    pub sender: Jid,
}

/// Read receipts the way WhatsApp takes them: in a group a receipt names the participant who
/// wrote the messages, so one batch per sender; in a direct chat the chat is the sender, so one
/// batch without one.
pub fn read_receipt_batches(chat: &Jid, unread: &[Unread]) -> Vec<(Option<Jid>, Vec<String>)> {
    if !chat.is_group() {
        return vec![(None, unread.iter().map(|u| u.wa_id.clone()).collect())];
    }
    let mut batches: Vec<(Option<Jid>, Vec<String>)> = Vec::new();
    for u in unread {
        match batches.iter_mut().find(|(sender, _)| sender.as_ref() == Some(&u.sender)) {
            Some((_, ids)) => ids.push(u.wa_id.clone()),
            None => batches.push((Some(u.sender.clone()), vec![u.wa_id.clone()])),
        }
    }
    batches
}

/// Whether a phone number has a WhatsApp account, as the network answers.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberStatus {
    /// The number asked about, as a jid.
    pub jid: Jid,
    pub exists: bool,
    /// The account's LID, where the network tells it.
    pub lid: Option<Jid>,
    pub business: bool,
}

/// A contact's profile as WhatsApp shows it (each part subject to the contact's privacy).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactProfile {
    pub lid: Option<Jid>,
    pub about: Option<String>,
    pub business: bool,
    pub picture_url: Option<String>,
}

/// A live (or connecting) session on the WhatsApp side.
#[async_trait]
pub trait Connection: GroupOps + Send + Sync {
    /// Hands a message to WhatsApp; returns WhatsApp's message id. Our `message_id` lets a
    /// connector reuse the same WhatsApp id when a send is retried.
    async fn send(&self, to: &Jid, message: &Outgoing, message_id: &str) -> Result<String, ConnectorError>;
    /// The inbound messages `wa_ids` are stored (or were already), or, with `stored` false,
    /// could not be (the write failed: the network must keep them). WhatsApp's own library
    /// acknowledges on its own; the simulator's server holds each message, and its API's
    /// answer, until this is said.
    async fn stored(&self, _wa_ids: &[String], _stored: bool) {}
    /// Sets (or, with an empty emoji, removes) our reaction to a message of `chat`.
    async fn react(&self, chat: &Jid, target: &QuotedRef, emoji: &str) -> Result<(), ConnectorError>;
    /// Replaces the text of a message we sent.
    async fn edit(&self, chat: &Jid, target: &QuotedRef, text: &str) -> Result<(), ConnectorError>;
    /// Deletes a message we sent for everyone.
    async fn revoke(&self, chat: &Jid, target: &QuotedRef) -> Result<(), ConnectorError>;
    /// Online or offline for the account's contacts.
    async fn set_presence(&self, presence: Presence) -> Result<(), ConnectorError>;
    /// Typing, recording or neither, in one chat.
    async fn chat_state(&self, chat: &Jid, state: ChatState) -> Result<(), ConnectorError>;
    /// The file of an inbound media message.
    async fn download(&self, source: &MediaSource) -> Result<bytes::Bytes, ConnectorError>;
    /// Read receipts for messages of `chat` that the user has now seen.
    async fn mark_read(&self, chat: &Jid, unread: &[Unread]) -> Result<(), ConnectorError>;
    /// Which of these phone numbers have a WhatsApp account, in the order asked.
    async fn check_numbers(&self, numbers: &[Jid]) -> Result<Vec<NumberStatus>, ConnectorError>;
    /// A contact's profile as WhatsApp shows it; `None` when the number has no account.
    async fn contact(&self, jid: &Jid) -> Result<Option<ContactProfile>, ConnectorError>;
    /// The options a vote on one of the chat's polls chose, opened with the poll's secret.
    async fn open_vote(
        &self,
        vote: &votes::SealedVote,
        poll: &votes::VotedPoll<'_>,
    ) -> Result<Vec<String>, ConnectorError>;
    /// Asks WhatsApp to answer (a keepalive ping): how the watchdog tests a connection that
    /// has carried nothing for a while. On a dead connection it may never return; the caller
    /// bounds the wait.
    async fn probe(&self) -> Result<(), ConnectorError>;
    /// Ends the connection, keeping the device linked.
    async fn close(&self);
    /// Unlinks the device; its credentials are void afterwards.
    async fn logout(&self);
}

#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Must return promptly: progress (QR, connected, failures) arrives as events.
    async fn open(&self, req: OpenRequest) -> Result<Box<dyn Connection>, ConnectorError>;
    /// Erases whatever the connector keeps of a deleted session outside our store.
    async fn erase(&self, key: &SessionKey);
    /// The device was unlinked (logout): its credentials are void, drop what the connector
    /// keeps of them outside our store.
    async fn unlinked(&self, _key: &SessionKey) {}
    /// Whether the network behind this connector minds many accounts reconnecting at once,
    /// so that sessions brought back after a restart are paced (`sessions.resume_stagger_ms`).
    fn paces_resumes(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unread(id: &str, sender: &str) -> Unread {
        Unread { wa_id: id.into(), sender: Jid::parse(sender).unwrap() }
    }

    #[test]
    fn a_direct_chat_is_one_receipt_without_a_sender() {
        let chat = Jid::parse("6281234567890@s.whatsapp.net").unwrap();
        let batches = read_receipt_batches(&chat, &[unread("A", chat.as_str()), unread("B", chat.as_str())]);
        assert_eq!(batches, vec![(None, vec!["A".to_owned(), "B".to_owned()])]);
    }

    #[test]
    fn a_group_gets_one_receipt_per_participant_in_first_seen_order() {
        let chat = Jid::parse("120363025246125486@g.us").unwrap();
        let (ann, bob) = ("6281111111111@s.whatsapp.net", "6282222222222@s.whatsapp.net");
        let batches =
            read_receipt_batches(&chat, &[unread("1", ann), unread("2", bob), unread("3", ann), unread("4", bob)]);
        assert_eq!(
            batches,
            vec![
                (Some(Jid::parse(ann).unwrap()), vec!["1".to_owned(), "3".to_owned()]),
                (Some(Jid::parse(bob).unwrap()), vec!["2".to_owned(), "4".to_owned()]),
            ]
        );
    }
}
