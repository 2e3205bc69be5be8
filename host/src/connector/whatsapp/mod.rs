//! The real WhatsApp connector: whatsapp-rust 0.7 behind our [`Connector`] trait. Every
//! library type stays inside this folder; the rest of the host sees `ConnectorEvent`s.
//!
//! Device credentials and Signal state live where the gateway's data does: on SQLite in the
//! library's own file, one per session, beside our database
//! (`<data_dir>/whatsapp/t-<tenant>/s-<session>.db`); on PostgreSQL in the database itself
//! (`devices`), so any node of a cluster can take the session over. Our store keeps the linked
//! device's identity (`credentials`). Deleting or logging out a session erases the device
//! state (docs/connectors.md).

pub mod devices;
mod groups;
mod mapping;
mod outgoing;
mod polls;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::prelude::MessageBuilderExt;
use whatsapp_rust::prelude::{
    Bot, BotHandle, ChannelEventHandler, Client, Event, Jid as WaJid, SendOptions, SqliteStore, wa,
};
use whatsapp_rust::{ChatStateType, PresenceStatus, RevokeType, UploadOptions};

use super::votes::{SealedVote, VotedPoll, chosen};
use super::{
    Connection, Connector, ConnectorError, ConnectorEvent, ContactProfile, EventSink, LoginMethod, MediaSource,
    NumberStatus, OpenRequest, Outgoing, OutgoingBody, QuotedRef, Unread, read_receipt_batches,
};
use crate::model::{ChatState, Jid, Presence, SessionKey};
use crate::store::Store;
use whatsapp_rust::features::PollVoteCiphertext;
use whatsapp_rust::wacore::store::traits::Backend;

pub use mapping::{Me, map};

pub struct WhatsAppConnector {
    dir: PathBuf,
    /// Set when device state lives in the database (PostgreSQL): what a logout erases.
    database: Option<crate::store::Pool>,
    /// No QR, pairing code or connection this long after opening: the user is told WhatsApp
    /// cannot be reached (the library keeps trying on its own backoff).
    connect_timeout: Duration,
}

impl WhatsAppConnector {
    pub fn new(data_dir: &std::path::Path, connect_timeout: Duration, store: &Store) -> Self {
        let database = in_database(store).then(|| store.pool().clone());
        Self { dir: data_dir.join("whatsapp"), database, connect_timeout }
    }

    /// Prefixed so that no id (`..` is a valid session id) can name a path outside the folder.
    fn device_path(&self, key: &SessionKey) -> PathBuf {
        self.dir.join(format!("t-{}", key.tenant)).join(format!("s-{}.db", key.session))
    }

    async fn erase_device(&self, key: &SessionKey) {
        if let Some(pool) = &self.database {
            if let Err(e) = crate::store::device_items::erase(pool, key).await {
                tracing::warn!(session = %key, error = %e, "could not erase the WhatsApp device state");
            }
        } else {
            self.remove_device_file(key);
        }
    }

    fn remove_device_file(&self, key: &SessionKey) {
        let db = self.device_path(key);
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = ?p, error = %e, "could not erase WhatsApp device file"),
            }
        }
    }
}

#[async_trait]
impl Connector for WhatsAppConnector {
    async fn open(&self, req: OpenRequest) -> Result<Box<dyn Connection>, ConnectorError> {
        if req.credentials.is_none() {
            // A new login starts from an unlinked device, whatever an unfinished one left.
            self.erase_device(&req.key).await;
        }
        let (backend, device) = if in_database(&req.store) {
            let backend: Arc<dyn Backend> = Arc::new(devices::DatabaseDevice::new(&req.store, req.key.clone()));
            (backend, format!("database:{}", req.key))
        } else {
            let path = self.device_path(&req.key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| ConnectorError::Rejected(format!("cannot create {}: {e}", parent.display())))?;
            }
            let device = path.to_string_lossy().into_owned();
            let store = SqliteStore::new(&device)
                .await
                .map_err(|e| ConnectorError::Rejected(format!("cannot open the device store {device}: {e}")))?;
            (Arc::new(store) as Arc<dyn Backend>, device)
        };
        let mut builder = Bot::builder().with_backend_arc(backend).skip_history_sync();
        if let LoginMethod::Code { phone } = &req.login {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            builder = builder.with_pair_code(PairCodeOptions { phone_number: digits, ..Default::default() });
        }
        let bot =
            builder.build().await.map_err(|e| ConnectorError::Rejected(format!("cannot start the client: {e}")))?;
        let client = bot.client();
        let (handler, rx) = ChannelEventHandler::new();
        let subscription = client.subscribe_handler(handler);
        let handle = bot.spawn();
        let pump = tokio::spawn(pump(rx, subscription, client.clone(), req.events, device, self.connect_timeout));
        Ok(Box::new(WhatsAppConnection { client, handle: Mutex::new(Some(handle)), pump }))
    }

    async fn erase(&self, key: &SessionKey) {
        self.erase_device(key).await;
    }

    async fn unlinked(&self, key: &SessionKey) {
        self.erase_device(key).await;
    }
}

/// Whether sessions keep their device state in the database rather than in files.
fn in_database(store: &Store) -> bool {
    store.pool().dialect() == crate::store::Dialect::Postgres
}

/// Library events -> ours, in the library's order, until either side goes away.
async fn pump(
    rx: whatsapp_rust::async_channel::Receiver<Arc<Event>>,
    _subscription: whatsapp_rust::prelude::Subscription,
    client: Arc<Client>,
    events: EventSink,
    device: String,
    connect_timeout: Duration,
) {
    let progressed = AtomicBool::new(false);
    let stall = tokio::time::sleep(connect_timeout);
    tokio::pin!(stall);
    loop {
        let event = tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => ev,
                Err(_) => return,
            },
            () = &mut stall, if !progressed.load(Ordering::Relaxed) => {
                progressed.store(true, Ordering::Relaxed);
                let why = format!(
                    "cannot reach WhatsApp: no answer within {} s (no network route or WhatsApp down); still retrying",
                    connect_timeout.as_secs()
                );
                if events.send(ConnectorEvent::Reconnecting(why)).is_err() {
                    return;
                }
                continue;
            }
        };
        let me = Me {
            phone: client.pn().and_then(|j| mapping::phone_of(&j.to_string())),
            push_name: Some(client.push_name()).filter(|n| !n.trim().is_empty()),
        };
        for mapped in map(&event, &me, &device) {
            if matches!(
                mapped,
                ConnectorEvent::Qr { .. }
                    | ConnectorEvent::PairingCode { .. }
                    | ConnectorEvent::PairSuccess { .. }
                    | ConnectorEvent::Connected { .. }
            ) {
                progressed.store(true, Ordering::Relaxed);
            }
            if events.send(mapped).is_err() {
                return;
            }
        }
    }
}

struct WhatsAppConnection {
    client: Arc<Client>,
    handle: Mutex<Option<BotHandle>>,
    pump: tokio::task::JoinHandle<()>,
}

impl WhatsAppConnection {
    async fn stop(&self) {
        if let Some(handle) = self.handle.lock().await.take() {
            // Bounded: a client stuck on a dead network must not hold the session actor.
            if tokio::time::timeout(Duration::from_secs(5), handle.shutdown()).await.is_err() {
                tracing::warn!("WhatsApp client did not stop within 5 s; aborted");
            }
        }
        self.pump.abort();
    }
}

impl Drop for WhatsAppConnection {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

fn wa_jid(jid: &Jid) -> Result<WaJid, ConnectorError> {
    jid.as_str()
        .parse()
        .map_err(|e| ConnectorError::Rejected(format!("'{}' is not a WhatsApp address: {e}", jid.as_str())))
}

/// WhatsApp ids look like `3EB0` + 16 hex digits. Derived from our message id, so a retried
/// send carries the same WhatsApp id and the recipient sees one message.
fn wa_message_id(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    format!("3EB0{}", hex::encode_upper(&digest[..8]))
}

impl WhatsAppConnection {
    fn ready(&self) -> Result<(), ConnectorError> {
        if self.client.is_connected() { Ok(()) } else { Err(ConnectorError::NotConnected) }
    }

    /// Asks the sender's phone to upload a file again; its new CDN path.
    async fn reupload(&self, file: &outgoing::CdnFile) -> Option<String> {
        use whatsapp_rust::{MediaRetryResult, MediaReuploadRequest};
        let origin = file.origin.as_ref()?;
        let media_key = file.media_key_bytes()?;
        let chat: WaJid = origin.chat.parse().ok()?;
        let participant: Option<WaJid> = origin.participant.as_deref().and_then(|p| p.parse().ok());
        let req = MediaReuploadRequest {
            msg_id: &origin.message_id,
            chat_jid: &chat,
            media_key: &media_key,
            is_from_me: origin.from_me,
            participant: participant.as_ref(),
        };
        match self.client.media_reupload().request(&req).await {
            Ok(MediaRetryResult::Success { direct_path }) => Some(direct_path),
            other => {
                tracing::info!(message = %origin.message_id, answer = ?other.map_err(|e| e.to_string()), "media re-upload not granted");
                None
            }
        }
    }

    /// A failed call while the connection is down is "not connected" (retried later), any
    /// other failure is WhatsApp's refusal.
    fn failed(&self, e: impl std::fmt::Display) -> ConnectorError {
        if self.client.is_connected() { ConnectorError::Rejected(e.to_string()) } else { ConnectorError::NotConnected }
    }
}

#[async_trait]
impl Connection for WhatsAppConnection {
    async fn send(&self, to: &Jid, message: &Outgoing, message_id: &str) -> Result<String, ConnectorError> {
        self.ready()?;
        let to = wa_jid(to)?;
        let msg = match &message.body {
            OutgoingBody::Poll { question, options, selectable_count } => {
                let secret = message
                    .poll_secret
                    .as_deref()
                    .ok_or_else(|| ConnectorError::Rejected("a poll needs its secret".into()))?;
                let context = outgoing::context(message.quoted.as_ref(), &message.mentions);
                polls::creation_message(question, options, *selectable_count, secret, context)
            }
            OutgoingBody::Media(m) => {
                let up = self
                    .client
                    .upload(m.data.to_vec(), outgoing::media_type(m.kind), UploadOptions::default())
                    .await
                    .map_err(|e| self.failed(e))?;
                let up = outgoing::Uploaded {
                    url: up.url,
                    direct_path: up.direct_path,
                    media_key: up.media_key.to_vec(),
                    file_enc_sha256: up.file_enc_sha256.to_vec(),
                    file_sha256: up.file_sha256.to_vec(),
                    file_length: up.file_length,
                    media_key_timestamp: up.media_key_timestamp,
                    streaming_sidecar: up.streaming_sidecar,
                };
                outgoing::media_message(m, up, message.quoted.as_ref(), &message.mentions)
            }
            _ => outgoing::message(message)
                .ok_or_else(|| ConnectorError::Rejected("cannot build this message".into()))?,
        };
        let options = SendOptions::default().with_message_id(wa_message_id(message_id));
        match self.client.send_message_with_options(to, msg, options).await {
            Ok(sent) => Ok(sent.message_id),
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn react(&self, chat: &Jid, target: &QuotedRef, emoji: &str) -> Result<(), ConnectorError> {
        self.ready()?;
        let key = outgoing::key(chat, target);
        self.client.send_reaction(wa_jid(chat)?, key, emoji).await.map(drop).map_err(|e| self.failed(e))
    }

    async fn edit(&self, chat: &Jid, target: &QuotedRef, text: &str) -> Result<(), ConnectorError> {
        self.ready()?;
        let new = wa::Message::text(text);
        self.client.edit_message(wa_jid(chat)?, target.wa_id.clone(), new).await.map(drop).map_err(|e| self.failed(e))
    }

    async fn revoke(&self, chat: &Jid, target: &QuotedRef) -> Result<(), ConnectorError> {
        self.ready()?;
        self.client
            .revoke_message(wa_jid(chat)?, target.wa_id.clone(), RevokeType::Sender)
            .await
            .map_err(|e| self.failed(e))
    }

    async fn set_presence(&self, presence: Presence) -> Result<(), ConnectorError> {
        self.ready()?;
        let status = match presence {
            Presence::Available => PresenceStatus::Available,
            Presence::Unavailable => PresenceStatus::Unavailable,
        };
        self.client.presence().set(status).await.map_err(|e| self.failed(e))
    }

    async fn download(&self, source: &MediaSource) -> Result<bytes::Bytes, ConnectorError> {
        self.ready()?;
        let not_ours = || ConnectorError::Rejected("not a WhatsApp media reference".into());
        let file = serde_json::from_str::<outgoing::CdnFile>(&source.0).map_err(|_| not_ours())?;
        let params = file.params().ok_or_else(not_ours)?;
        let first = match self.client.download_from_params(&params).await {
            Ok(bytes) => return Ok(bytes.into()),
            Err(e) => e,
        };
        // The CDN forgets files after a while; the phone that sent one uploads it again when
        // asked, under a new path.
        let Some(direct_path) = self.reupload(&file).await else { return Err(self.failed(first)) };
        let again = outgoing::CdnFile { direct_path, ..file }.params().ok_or_else(not_ours)?;
        self.client.download_from_params(&again).await.map(bytes::Bytes::from).map_err(|e| self.failed(e))
    }

    async fn check_numbers(&self, numbers: &[Jid]) -> Result<Vec<NumberStatus>, ConnectorError> {
        self.ready()?;
        let jids = numbers.iter().map(wa_jid).collect::<Result<Vec<_>, _>>()?;
        let found = self.client.contacts().is_on_whatsapp(&jids).await.map_err(|e| self.failed(e))?;
        Ok(mapping::number_statuses(numbers, &found))
    }

    async fn contact(&self, jid: &Jid) -> Result<Option<ContactProfile>, ConnectorError> {
        self.ready()?;
        let wa = wa_jid(jid)?;
        let contacts = self.client.contacts();
        let known = contacts.is_on_whatsapp(std::slice::from_ref(&wa)).await.map_err(|e| self.failed(e))?;
        if !mapping::number_statuses(std::slice::from_ref(jid), &known).first().is_some_and(|s| s.exists) {
            return Ok(None);
        }
        let info = contacts.get_user_info(std::slice::from_ref(&wa)).await.map_err(|e| self.failed(e))?;
        let picture = contacts.get_profile_picture(&wa, false).await.map_err(|e| self.failed(e))?;
        Ok(Some(mapping::contact_profile(info.values().next(), picture.map(|p| p.url))))
    }

    async fn chat_state(&self, chat: &Jid, state: ChatState) -> Result<(), ConnectorError> {
        self.ready()?;
        let state = match state {
            ChatState::Composing => ChatStateType::Composing,
            ChatState::Recording => ChatStateType::Recording,
            ChatState::Paused => ChatStateType::Paused,
        };
        self.client.chatstate().send(&wa_jid(chat)?, state).await.map_err(|e| self.failed(e))
    }

    async fn mark_read(&self, chat: &Jid, unread: &[Unread]) -> Result<(), ConnectorError> {
        if !self.client.is_connected() {
            return Err(ConnectorError::NotConnected);
        }
        let chat_jid = wa_jid(chat)?;
        for (sender, ids) in read_receipt_batches(chat, unread) {
            let sender = sender.as_ref().map(wa_jid).transpose()?;
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            self.client
                .mark_as_read(&chat_jid, sender.as_ref(), &ids)
                .await
                .map_err(|e| ConnectorError::Rejected(e.to_string()))?;
        }
        Ok(())
    }

    async fn open_vote(&self, vote: &SealedVote, poll: &VotedPoll<'_>) -> Result<Vec<String>, ConnectorError> {
        let ciphertext = PollVoteCiphertext { enc_payload: &vote.payload, enc_iv: &vote.iv };
        let (creator, voter) = (wa_jid(poll.creator)?, wa_jid(poll.voter)?);
        let hashes = self
            .client
            .polls()
            .decrypt_vote(ciphertext, poll.secret, poll.wa_id, &creator, &voter)
            .await
            .map_err(|e| ConnectorError::Rejected(e.to_string()))?;
        Ok(chosen(poll.options, &hashes))
    }

    /// The library's own keepalive ping, answered by WhatsApp's server (the caller bounds
    /// the wait; a pong is an empty answer).
    async fn probe(&self) -> Result<(), ConnectorError> {
        self.ready()?;
        self.client
            .execute(whatsapp_rust::wacore::iq::keepalive::KeepaliveSpec::new())
            .await
            .map_err(|e| ConnectorError::Rejected(format!("keepalive not answered: {e}")))
    }

    async fn close(&self) {
        self.stop().await;
    }

    async fn logout(&self) {
        if tokio::time::timeout(Duration::from_secs(5), self.client.logout()).await.is_err() {
            tracing::warn!("WhatsApp logout did not finish within 5 s");
        }
        self.stop().await;
    }
}

#[cfg(test)]
mod tests;
