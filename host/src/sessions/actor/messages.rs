//! The message half of a session's actor: inbound messages and what contacts do to them
//! later (react, edit, revoke, vote), receipts, the outbox, and the operations the API asks
//! for on the live connection. Every change is one store write with its events.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::Actor;
use crate::connector::{
    ConnectorError, ContactProfile, InboundMessage, MediaSource, NumberStatus, QuotedRef,
    votes::{SealedVote, VotedPoll},
};
use crate::events::{self, EventBody, EventDraft};
use crate::media::kinds::sniff;
use crate::model::{Chat, Direction, Jid, MediaInfo, Message, MessageOrigin, MessageStatus, Reaction, new_id};
use crate::sessions::{Operation, SessionError, SessionResult, media_path};
use crate::store::{StoreError, StoreResult, WriteTx, chats, contact_ids, messages};

/// A download from WhatsApp's CDN that takes longer is given up; the message is kept
/// without its file.
const DOWNLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Actor {
    /// Records inbound messages that arrived together in one write, in arrival order, each
    /// with its `message.received` (or `.sent`, for this account's other devices) and
    /// `chat.updated`. One write per burst instead of one per message is what lets a session
    /// keep up with a busy number.
    pub(super) async fn inbound(&mut self, batch: Vec<InboundMessage>) -> StoreResult<()> {
        // WhatsApp redelivers after reconnects; a message is stored once, and its file is
        // not fetched again.
        let arrived: Vec<String> = batch.iter().map(|m| m.wa_id.clone()).collect();
        let stored: HashSet<String> = messages::by_wa_ids(self.store.pool().into(), &self.key, &arrived)
            .await?
            .into_iter()
            .filter_map(|m| m.wa_message_id)
            .collect();
        let mut seen = HashSet::new();
        let mut fresh = Vec::with_capacity(batch.len());
        for mut m in batch {
            if stored.contains(&m.wa_id) || !seen.insert(m.wa_id.clone()) {
                continue;
            }
            let id = new_id();
            let (media, media_url) = match m.details.media_source.take() {
                Some(source) => self.fetch_media(&id, &source, m.details.media.take()).await,
                None => (m.details.media.take(), m.media_url.take()),
            };
            fresh.push(Arrived { id, m, media, media_url });
        }
        let result = if fresh.is_empty() { Ok(()) } else { self.store_inbound(fresh).await };
        if let Some(conn) = &self.conn {
            conn.stored(&arrived, result.is_ok()).await;
        }
        result
    }

    async fn store_inbound(&mut self, fresh: Vec<Arrived>) -> StoreResult<()> {
        let mut w = self.store.begin_write().await?;
        let ids: Vec<String> = fresh.iter().filter(|a| !a.m.from_me).map(|a| a.m.wa_id.clone()).collect();
        let from_bots: HashMap<String, Option<String>> =
            messages::sent_by_bots((&mut w).into(), &self.key.tenant, &ids).await?.into_iter().collect();
        let mut resolved = Vec::with_capacity(fresh.len());
        for arrived in fresh {
            // Read inside the write: a pairing or a quoted message from earlier in the burst
            // counts.
            let mut r = self.resolve_inbound(&mut w, arrived, &resolved).await?;
            r.origin = match r.m.from_me {
                true => Some(MessageOrigin::Phone),
                false => from_bots.get(&r.m.wa_id).map(|plugin| MessageOrigin::Bot { plugin: plugin.clone() }),
            };
            resolved.push(r);
        }
        let chats = self.touch_chats(&mut w, &resolved).await?;
        let mut messages = Vec::with_capacity(resolved.len());
        let mut drafts = Vec::with_capacity(2 * resolved.len());
        for (k, r) in resolved.iter().enumerate() {
            let chat = chat_after(&chats, &resolved, k);
            let message = inbound_message(&self.key, r, &chat);
            let body = events::MessageEvent { message: message.clone(), chat: chat.clone() };
            let body = if r.m.from_me { EventBody::MessageSent(body) } else { EventBody::MessageReceived(body) };
            drafts.push(EventDraft::session(&self.key, body));
            drafts.push(EventDraft::session(&self.key, EventBody::ChatUpdated(events::ChatUpdated { chat })));
            messages.push(message);
        }
        messages::insert_many(&mut w, &self.key.tenant, &messages).await?;
        for (r, message) in resolved.iter().zip(&messages) {
            if let Some(secret) = &r.m.details.poll_secret {
                messages::set_poll_secret(&mut w, &self.key, &message.id, secret).await?;
            }
        }
        self.journal.commit(w, drafts).await?;
        Ok(())
    }

    /// Who really wrote the message and what it quotes, as the store knows them.
    async fn resolve_inbound(&self, w: &mut WriteTx, arrived: Arrived, earlier: &[Resolved]) -> StoreResult<Resolved> {
        let Arrived { id, mut m, media, media_url } = arrived;
        // A contact addressed by its LID alone is the number it was seen with; a message that
        // names both teaches the pairing, so the contact keeps one chat either way.
        let seen_lid =
            m.from_lid.as_deref().and_then(|l| Jid::parse(l).ok()).filter(|l| l.is_lid() && !m.from.is_lid());
        if m.from.is_lid()
            && let Some(number) = contact_ids::number_of((&mut *w).into(), &self.key, &m.from).await?
        {
            if m.chat == m.from {
                m.chat = number.clone();
            }
            m.from_lid = Some(m.from.to_string());
            m.from = number;
        }
        let quoted = match m.details.quoted.take() {
            Some(q) => {
                // A reply to a message of the same burst, which is stored with it.
                let ours = match earlier.iter().find(|e| e.m.wa_id == q.wa_id) {
                    Some(e) => {
                        Some(Ours { id: e.id.clone(), from_jid: e.m.from.to_string(), content: e.m.text.clone() })
                    }
                    None => messages::by_wa_ids((&mut *w).into(), &self.key, std::slice::from_ref(&q.wa_id))
                        .await?
                        .into_iter()
                        .next()
                        .map(|m| Ours { id: m.id, from_jid: m.from_jid, content: m.content }),
                };
                Some(quote(q, ours))
            }
            None => None,
        };
        if let Some(lid) = &seen_lid {
            contact_ids::remember(w, &self.key, lid, &m.from).await?;
        }
        Ok(Resolved { id, m, media, media_url, quoted, origin: None })
    }

    /// One upsert per chat of the burst, as its last message leaves it. (A contact renamed
    /// in the middle of a burst shows the new name on all of the burst's events.)
    async fn touch_chats(&self, w: &mut WriteTx, burst: &[Resolved]) -> StoreResult<Vec<Chat>> {
        let mut chats: Vec<Chat> = Vec::new();
        let mut done: Vec<&Jid> = Vec::new();
        for r in burst {
            if done.contains(&&r.m.chat) {
                continue;
            }
            done.push(&r.m.chat);
            let of_chat: Vec<&Resolved> = burst.iter().filter(|o| o.m.chat == r.m.chat).collect();
            let last = of_chat.last().expect("r itself");
            let name = of_chat.iter().rev().find_map(|o| o.chat_name());
            let unread = of_chat.iter().filter(|o| !o.m.from_me).count() as i64;
            let touch = chats::ChatTouch { jid: &r.m.chat, name, preview: &last.m.text, at: last.m.timestamp, unread };
            chats.push(chats::touch(w, &self.key, touch).await?);
        }
        Ok(chats)
    }

    /// Downloads an inbound message's file into the media store; the metadata is completed
    /// from the bytes (size, SHA-256, and the type where the network gave none). A file that
    /// cannot be had leaves the message without one (`mediaUrl` null).
    async fn fetch_media(
        &self,
        message_id: &str,
        source: &MediaSource,
        told: Option<MediaInfo>,
    ) -> (Option<MediaInfo>, Option<String>) {
        let mut info = told.unwrap_or_default();
        let Some(conn) = &self.conn else { return (Some(info), None) };
        let data = match tokio::time::timeout(DOWNLOAD_TIMEOUT, conn.download(source)).await {
            Ok(Ok(data)) => data,
            Ok(Err(e)) => {
                tracing::warn!(session = %self.key, error = %e, "inbound media could not be downloaded");
                return (Some(info), None);
            }
            Err(_) => {
                tracing::warn!(session = %self.key, "inbound media download timed out");
                return (Some(info), None);
            }
        };
        use sha2::Digest;
        info.size = Some(data.len() as u64);
        info.sha256 = Some(hex::encode(sha2::Sha256::digest(&data)));
        if info.mime_type.is_none() {
            info.mime_type = sniff(&data).map(str::to_owned);
        }
        match self.media.put(&self.key, message_id, data).await {
            Ok(()) => (Some(info), Some(media_path(&self.key, message_id))),
            Err(e) => {
                tracing::error!(session = %self.key, error = %e, "inbound media could not be stored");
                (Some(info), None)
            }
        }
    }

    async fn by_wa_id(&self, wa_id: &str) -> StoreResult<Option<Message>> {
        Ok(messages::by_wa_ids(self.store.pool().into(), &self.key, &[wa_id.to_owned()]).await?.into_iter().next())
    }

    /// The message `wa_id` of `chat`, when a contact's later action names one we have: an
    /// action naming a message of another chat is ignored, as WhatsApp's clients do.
    async fn target(&self, chat: &Jid, wa_id: &str) -> StoreResult<Option<Message>> {
        let chat = self.canonical(chat).await?;
        let Some(m) = self.by_wa_id(wa_id).await? else {
            tracing::debug!(session = %self.key, wa_id, "an action names a message this session does not have");
            return Ok(None);
        };
        let in_chat =
            chats::get(self.store.pool(), &self.key, &m.chat_id).await?.is_some_and(|c| c.jid == chat.as_str());
        Ok(in_chat.then_some(m))
    }

    /// The number a LID was seen with, else the jid as given.
    async fn canonical(&self, jid: &Jid) -> StoreResult<Jid> {
        if !jid.is_lid() {
            return Ok(jid.clone());
        }
        Ok(contact_ids::number_of(self.store.pool().into(), &self.key, jid).await?.unwrap_or_else(|| jid.clone()))
    }

    /// A contact's action on its own message: only its sender may edit or revoke it.
    fn written_by(m: &Message, from: &Jid) -> bool {
        m.from_jid == from.as_str() || m.from_lid.as_deref() == Some(from.as_str())
    }

    fn own_jid(&self) -> String {
        self.session.phone.as_deref().and_then(|p| Jid::parse(p).ok()).map(|j| j.to_string()).unwrap_or_default()
    }

    /// Writes a changed message with the event that says what changed.
    async fn save_change(&self, m: &Message, body: EventBody) -> StoreResult<()> {
        let mut w = self.store.begin_write().await?;
        messages::save_changes(&mut w, &self.key, m).await?;
        self.journal.commit(w, vec![EventDraft::session(&self.key, body)]).await?;
        Ok(())
    }

    fn set_reaction(m: &mut Message, from: &str, emoji: &str, at: DateTime<Utc>) {
        m.reactions.retain(|r| r.from_jid != from);
        if !emoji.is_empty() {
            m.reactions.push(Reaction { from_jid: from.to_owned(), emoji: emoji.to_owned(), at });
        }
    }

    async fn record_reaction(
        &self,
        mut m: Message,
        from: String,
        emoji: String,
        at: DateTime<Utc>,
    ) -> StoreResult<Message> {
        Self::set_reaction(&mut m, &from, &emoji, at);
        let body = EventBody::MessageReaction(events::MessageReaction {
            message: m.clone(),
            from_jid: from,
            removed: emoji.is_empty(),
            emoji,
        });
        self.save_change(&m, body).await?;
        Ok(m)
    }

    async fn record_edit(&self, mut m: Message, text: String, at: DateTime<Utc>) -> StoreResult<Message> {
        let previous_content = std::mem::replace(&mut m.content, text);
        m.edited_at = Some(at);
        self.save_change(&m, EventBody::MessageEdited(events::MessageEdited { message: m.clone(), previous_content }))
            .await?;
        Ok(m)
    }

    async fn record_revoke(&self, mut m: Message, at: DateTime<Utc>) -> StoreResult<Message> {
        m.content.clear();
        m.media_url = None;
        m.revoked_at = Some(at);
        self.save_change(&m, EventBody::MessageRevoked(events::MessageRevoked { message: m.clone() })).await?;
        Ok(m)
    }

    pub(super) async fn reaction(
        &mut self,
        chat: &Jid,
        wa_id: &str,
        from: &Jid,
        emoji: String,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let Some(m) = self.target(chat, wa_id).await? {
            let from = self.canonical(from).await?;
            self.record_reaction(m, from.to_string(), emoji, at).await?;
        }
        Ok(())
    }

    pub(super) async fn edited(
        &mut self,
        chat: &Jid,
        wa_id: &str,
        from: &Jid,
        text: String,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        match self.target(chat, wa_id).await? {
            Some(m) if Self::written_by(&m, from) && m.revoked_at.is_none() => {
                self.record_edit(m, text, at).await?;
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) async fn revoked(&mut self, chat: &Jid, wa_id: &str, from: &Jid, at: DateTime<Utc>) -> StoreResult<()> {
        match self.target(chat, wa_id).await? {
            Some(m) if Self::written_by(&m, from) && m.revoked_at.is_none() => {
                self.record_revoke(m, at).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A vote replaces the voter's earlier one; names that are not options of the poll are
    /// left out. A vote that does not open with the poll's secret (forged, or on a poll the
    /// gateway never saw sent) changes nothing.
    pub(super) async fn poll_vote(
        &mut self,
        chat: &Jid,
        wa_id: &str,
        voter: &Jid,
        vote: SealedVote,
    ) -> StoreResult<()> {
        let Some(mut m) = self.target(chat, wa_id).await? else { return Ok(()) };
        let (Some(conn), Some(poll)) = (&self.conn, m.poll.as_ref()) else { return Ok(()) };
        let Some(secret) = messages::poll_secret(self.store.pool(), &self.key, &m.id).await? else {
            tracing::info!(session = %self.key, poll = %m.id, "a vote on a poll whose secret is not kept: ignored");
            return Ok(());
        };
        let Ok(creator) = Jid::parse(&m.from_jid) else { return Ok(()) };
        let options: Vec<String> = poll.options.iter().map(|o| o.name.clone()).collect();
        let sealed = VotedPoll { wa_id, creator: &creator, voter: &vote.sealed_by, secret: &secret, options: &options };
        let selected = match conn.open_vote(&vote, &sealed).await {
            Ok(selected) => selected,
            Err(e) => {
                tracing::info!(session = %self.key, poll = %m.id, voter = %voter, error = %e, "a vote that does not open: ignored");
                return Ok(());
            }
        };
        let voter = self.canonical(voter).await?.to_string();
        let Some(poll) = m.poll.as_mut() else { return Ok(()) };
        let mut chosen = Vec::new();
        for option in &mut poll.options {
            option.voters.retain(|v| *v != voter);
            if selected.contains(&option.name) && chosen.len() < poll.selectable_count as usize {
                option.voters.push(voter.clone());
                chosen.push(option.name.clone());
            }
        }
        let body = EventBody::PollVote(events::PollVote { message: m.clone(), voter_jid: voter, selected: chosen });
        self.save_change(&m, body).await
    }

    pub(super) async fn message_status(
        &mut self,
        wa_ids: &[String],
        status: MessageStatus,
        error: Option<String>,
    ) -> StoreResult<()> {
        let found = messages::by_wa_ids(self.store.pool().into(), &self.key, wa_ids).await?;
        let changed: Vec<Message> = found.into_iter().filter(|m| m.status.can_become(status)).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut w = self.store.begin_write().await?;
        let mut drafts = Vec::new();
        for m in changed {
            messages::set_status(&mut w, &self.key, &m.id, status, error.as_deref(), now).await?;
            drafts.push(EventDraft::session(
                &self.key,
                EventBody::MessageStatus(events::MessageStatusChanged {
                    message_id: m.id,
                    wa_message_id: m.wa_message_id,
                    chat_id: m.chat_id,
                    status,
                    previous_status: m.status,
                    error: error.clone(),
                }),
            ));
        }
        self.journal.commit(w, drafts).await?;
        Ok(())
    }

    pub(super) async fn chat_jid(&self, chat_id: &str) -> Result<Jid, StoreError> {
        let chat = chats::get(self.store.pool(), &self.key, chat_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("chat '{chat_id}'")))?;
        Jid::parse(&chat.jid).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Does `op` on the live connection, then records what it changed. Nothing is recorded
    /// when WhatsApp did not take it.
    pub(super) async fn operate(&mut self, op: Operation) -> SessionResult<Option<Message>> {
        let conn = self.live()?;
        let now = Utc::now();
        match op {
            Operation::React { message, emoji } => {
                let chat = self.chat_jid(&message.chat_id).await?;
                conn.react(&chat, &self.reference(&message), &emoji).await.map_err(refused)?;
                let own = self.own_jid();
                Ok(Some(self.record_reaction(message, own, emoji, now).await?))
            }
            Operation::Edit { message, text } => {
                let chat = self.chat_jid(&message.chat_id).await?;
                conn.edit(&chat, &self.reference(&message), &text).await.map_err(refused)?;
                Ok(Some(self.record_edit(message, text, now).await?))
            }
            Operation::Revoke { message } => {
                let chat = self.chat_jid(&message.chat_id).await?;
                conn.revoke(&chat, &self.reference(&message)).await.map_err(refused)?;
                Ok(Some(self.record_revoke(message, now).await?))
            }
            Operation::Presence(p) => {
                conn.set_presence(p).await.map_err(refused)?;
                Ok(None)
            }
            Operation::ChatState { chat, state } => {
                conn.chat_state(&chat, state).await.map_err(refused)?;
                Ok(None)
            }
        }
    }

    /// Which numbers have a WhatsApp account; the LIDs the network tells are kept, so the
    /// contacts keep their chats when WhatsApp later writes to them by LID.
    pub(super) async fn check_numbers(&mut self, numbers: &[Jid]) -> SessionResult<Vec<NumberStatus>> {
        let found = self.live()?.check_numbers(numbers).await.map_err(refused)?;
        let pairs: Vec<(&Jid, &Jid)> =
            found.iter().filter_map(|s| s.lid.as_ref().filter(|_| s.exists).map(|lid| (lid, &s.jid))).collect();
        self.remember_lids(&pairs).await?;
        Ok(found)
    }

    /// A contact's profile; its LID, where WhatsApp tells it, joins the number's contact id.
    pub(super) async fn contact(&mut self, jid: &Jid) -> SessionResult<Option<ContactProfile>> {
        let profile = self.live()?.contact(jid).await.map_err(refused)?;
        if let Some(lid) = profile.as_ref().and_then(|p| p.lid.as_ref()) {
            self.remember_lids(&[(lid, jid)]).await?;
        }
        Ok(profile)
    }

    /// Keeps (LID, number) pairs the network told, in one write when there are any.
    async fn remember_lids(&self, pairs: &[(&Jid, &Jid)]) -> StoreResult<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut w = self.store.begin_write().await?;
        for (lid, number) in pairs {
            contact_ids::remember(&mut w, &self.key, lid, number).await?;
        }
        w.commit().await?;
        Ok(())
    }

    /// The connection, when the session is connected: what an API operation is done on.
    pub(super) fn live(&self) -> SessionResult<&dyn crate::connector::Connection> {
        match &self.conn {
            Some(conn) if self.session.status == crate::model::SessionStatus::Connected => Ok(conn.as_ref()),
            _ => Err(SessionError::InvalidState {
                code: "session_not_connected",
                message: format!("session is {}; connect it first", self.session.status),
            }),
        }
    }

    /// How the connector names one of our stored messages.
    fn reference(&self, m: &Message) -> QuotedRef {
        QuotedRef {
            wa_id: m.wa_message_id.clone().unwrap_or_default(),
            sender: Jid::parse(&m.from_jid).ok(),
            from_me: m.from_me,
            text: Some(m.content.clone()),
        }
    }
}

/// What an API caller hears when the connection did not take an operation.
pub(super) fn refused(e: ConnectorError) -> SessionError {
    match e {
        ConnectorError::NotConnected => SessionError::InvalidState {
            code: "session_not_connected",
            message: "the connection to WhatsApp is down; try again when it is back".into(),
        },
        ConnectorError::Rejected(why) => SessionError::Refused(why),
    }
}

/// An inbound message whose file (if any) was fetched, with the id it is stored under.
struct Arrived {
    id: String,
    m: InboundMessage,
    media: Option<MediaInfo>,
    media_url: Option<String>,
}

/// What a quote takes from our copy of the quoted message.
struct Ours {
    id: String,
    from_jid: String,
    content: String,
}

/// A reply's quote, joined to our copy of the quoted message where we have it.
fn quote(q: QuotedRef, ours: Option<Ours>) -> crate::model::Quoted {
    crate::model::Quoted {
        message_id: ours.as_ref().map(|m| m.id.clone()),
        from_jid: q.sender.map(|j| j.to_string()).or_else(|| ours.as_ref().map(|m| m.from_jid.clone())),
        content: q.text.or_else(|| ours.map(|m| m.content)),
        wa_message_id: q.wa_id,
    }
}

/// An inbound message with its sender and quote resolved, ready to be stored.
struct Resolved {
    id: String,
    m: InboundMessage,
    media: Option<MediaInfo>,
    media_url: Option<String>,
    quoted: Option<crate::model::Quoted>,
    origin: Option<MessageOrigin>,
}

impl Resolved {
    /// The name a direct chat takes from its contact's push name.
    fn chat_name(&self) -> Option<&str> {
        if self.m.from_me || self.m.chat.is_group() { None } else { self.m.from_name.as_deref() }
    }
}

/// The chat as message `k` of the burst left it: `chats` holds each chat as the burst's last
/// message left it, so the unread messages after `k` are taken back off.
fn chat_after(chats: &[Chat], burst: &[Resolved], k: usize) -> Chat {
    let r = &burst[k];
    let mut chat = chats.iter().find(|c| c.jid == r.m.chat.as_str()).expect("every chat was touched").clone();
    let unread_after = burst[k + 1..].iter().filter(|o| o.m.chat == r.m.chat && !o.m.from_me).count() as i64;
    chat.unread_count -= unread_after;
    chat.last_message = Some(r.m.text.clone());
    chat.last_message_at = Some(r.m.timestamp);
    chat
}

fn inbound_message(key: &crate::model::SessionKey, r: &Resolved, chat: &Chat) -> Message {
    let m = &r.m;
    let (direction, status) = if m.from_me {
        (Direction::Outbound, MessageStatus::Sent)
    } else {
        (Direction::Inbound, MessageStatus::Delivered)
    };
    Message {
        id: r.id.clone(),
        wa_message_id: Some(m.wa_id.clone()),
        session_id: key.session.clone(),
        chat_id: chat.id.clone(),
        direction,
        from_me: m.from_me,
        from_jid: m.from.to_string(),
        from_number: m.from.phone_number(),
        from_lid: m.from_lid.clone(),
        from_name: m.from_name.clone(),
        kind: m.kind,
        content: m.text.clone(),
        media_url: r.media_url.clone(),
        media: r.media.clone(),
        location: m.details.location.clone(),
        contact: m.details.contact.clone(),
        poll: m.details.poll.clone(),
        quoted: r.quoted.clone(),
        mentions: m.details.mentions.clone(),
        reactions: Vec::new(),
        edited_at: None,
        revoked_at: None,
        link_preview: m.details.link_preview.clone(),
        origin: r.origin.clone(),
        media_expired_at: None,
        status,
        error: None,
        timestamp: m.timestamp,
        sent_at: m.from_me.then_some(m.timestamp),
        delivered_at: None,
        read_at: None,
    }
}
