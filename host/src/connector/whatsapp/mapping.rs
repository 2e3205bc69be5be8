//! whatsapp-rust events -> our `ConnectorEvent`s. Pure: no client, no I/O, so every mapping
//! is unit-tested by building the library's own event values.

use chrono::Utc;
use whatsapp_rust::prelude::{Event, InboundMessage as WaInbound, MessageExt, wa};
use whatsapp_rust::types::events::ConnectFailureReason;
use whatsapp_rust::types::presence::ReceiptType;

use base64::Engine;

use super::outgoing::CdnFile;
use crate::connector::{
    ConnectorEvent, ContactProfile, Details, DropKind, InboundMessage, MediaSource, NumberStatus, QuotedRef,
    ReceiptKind,
};
use crate::media::kinds::MediaKind;
use crate::model::{ContactCard, Jid, LinkPreview, Location, MediaInfo, MessageType, Poll, PollOption};

/// What the library knows of our own account when it says `Connected` (the event is empty).
#[derive(Debug, Clone, Default)]
pub struct Me {
    /// `+<digits>`.
    pub phone: Option<String>,
    pub push_name: Option<String>,
}

/// One library event as what the session state machine needs to hear; most events (presence,
/// app state, history, calls) need nothing.
pub fn map(event: &Event, me: &Me, device: &str) -> Vec<ConnectorEvent> {
    match event {
        Event::PairingQrCode(q) => vec![ConnectorEvent::Qr { code: q.code.clone(), ttl: q.timeout }],
        Event::PairingCode(p) => vec![ConnectorEvent::PairingCode { code: p.code.clone(), ttl: p.timeout }],
        Event::PairingQrCodesExhausted(_) => vec![ConnectorEvent::LoginTimedOut],
        Event::PairingCodeError(e) => {
            vec![ConnectorEvent::Disconnected(DropKind::Failed(format!(
                "WhatsApp refused the pairing code: {}",
                e.error
            )))]
        }
        Event::PairError(e) => {
            vec![ConnectorEvent::Disconnected(DropKind::Failed(format!("linking the device failed: {}", e.error)))]
        }
        Event::PairSuccess(p) => {
            let phone = phone_of(&p.id.to_string()).unwrap_or_else(|| format!("+{}", p.id.user));
            let credentials = serde_json::json!({
                "device": device,
                "jid": p.id.to_string(),
                "lid": p.lid.to_string(),
                "platform": p.platform,
            });
            vec![ConnectorEvent::PairSuccess {
                phone,
                display_name: non_empty(&p.business_name),
                credentials: credentials.to_string(),
            }]
        }
        Event::Connected(_) => match &me.phone {
            Some(phone) => vec![ConnectorEvent::Connected { phone: phone.clone(), display_name: me.push_name.clone() }],
            // Connected before the device knows its number cannot happen after a pairing;
            // report it rather than invent one.
            None => vec![ConnectorEvent::Disconnected(DropKind::Failed("connected without a phone number".into()))],
        },
        Event::Disconnected(d) => {
            vec![ConnectorEvent::Reconnecting(format!("connection to WhatsApp lost: {}", d.reason))]
        }
        Event::LoggedOut(l) => match l.reason {
            ConnectFailureReason::TempBanned => {
                vec![ConnectorEvent::Disconnected(DropKind::Banned("WhatsApp temporarily banned this account".into()))]
            }
            _ => vec![ConnectorEvent::Disconnected(DropKind::LoggedOut)],
        },
        Event::StreamReplaced(_) => vec![ConnectorEvent::Disconnected(DropKind::Replaced)],
        Event::TemporaryBan(b) => {
            let mut text = format!("WhatsApp temporarily banned this account ({:?}) for {}", b.code, b.expire);
            if let Some(m) = &b.message {
                text.push_str(&format!(": {m}"));
            }
            vec![ConnectorEvent::Disconnected(DropKind::Banned(text))]
        }
        Event::ConnectFailure(f) if f.reason.is_logged_out() => vec![ConnectorEvent::Disconnected(DropKind::LoggedOut)],
        Event::ConnectFailure(f) => {
            let detail = f.message.clone().unwrap_or_else(|| format!("{:?}", f.reason));
            vec![ConnectorEvent::Disconnected(DropKind::Failed(format!("WhatsApp refused the connection: {detail}")))]
        }
        Event::ClientOutdated(_) => vec![ConnectorEvent::Disconnected(DropKind::Failed(
            "WhatsApp says this client version is outdated; update wagate".into(),
        ))],
        Event::Messages(batch) => batch.messages.iter().filter_map(inbound).collect(),
        Event::ServerAck(a) if a.class.as_deref().is_none_or(|c| c == "message") => {
            vec![ConnectorEvent::Ack { wa_id: a.id.clone(), error: a.error.clone() }]
        }
        Event::Receipt(r) => {
            let kind = match r.r#type {
                ReceiptType::Delivered => ReceiptKind::Delivered,
                ReceiptType::Read | ReceiptType::Played => ReceiptKind::Read,
                _ => return Vec::new(),
            };
            let wa_ids = r.message_ids.iter().map(|id| id.to_string()).collect();
            vec![ConnectorEvent::Receipt { wa_ids, kind }]
        }
        Event::GroupUpdate(u) => super::groups::group_event(u, me).map(ConnectorEvent::Group).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// `+<digits>` of a person jid (`628...:12@s.whatsapp.net` -> `+628...`).
pub fn phone_of(jid: &str) -> Option<String> {
    Jid::parse(jid).ok()?.phone_number()
}

/// A message we keep, or what it does to an earlier one (reaction, edit, revoke). Status
/// broadcasts and other protocol messages (key distribution, history sync) are not chat
/// messages.
fn inbound(m: &WaInbound) -> Option<ConnectorEvent> {
    let info = &m.info;
    let src = &info.source;
    if src.chat.to_string().ends_with("@broadcast") {
        return None;
    }
    let base = m.message.get_base_message();
    // Newer clients address people by LID; keep the phone number as the sender when the
    // library knows it, and the LID beside it.
    let (sender, alt) = (src.sender.to_string(), src.sender_alt.as_ref().map(ToString::to_string));
    let (from, from_lid) = match (sender.ends_with("@lid"), alt) {
        (true, Some(pn)) => (pn, Some(sender)),
        (false, Some(lid)) if lid.ends_with("@lid") => (sender, Some(lid)),
        (_, _) => (sender.clone(), sender.ends_with("@lid").then_some(sender)),
    };
    let chat = match (src.is_group, src.chat.to_string()) {
        (false, c) if c.ends_with("@lid") && !from.ends_with("@lid") && !src.is_from_me => from.clone(),
        (_, c) => c,
    };
    let (chat, from) = (Jid::parse(&chat).ok()?, Jid::parse(&from).ok()?);
    let timestamp = if info.timestamp.timestamp() > 0 { info.timestamp } else { Utc::now() };
    if let Some(change) = later_change(base, &chat, &from, timestamp) {
        return Some(change);
    }
    if let Some((poll_wa_id, vote)) = Jid::parse(&src.sender.to_string()).ok().and_then(|by| super::polls::vote_of(base, &by)) {
        return Some(ConnectorEvent::PollVote { chat, poll_wa_id, voter: from, vote });
    }
    let (kind, text, mut details) = content(base)?;
    if details.poll.is_some() {
        details.poll_secret = super::polls::secret_of(&m.message).or_else(|| super::polls::secret_of(base));
    }
    if let Some(source) = details.media_source.take() {
        details.media_source = Some(with_origin(source, info.id.to_string(), src));
    }
    Some(ConnectorEvent::Message(InboundMessage {
        wa_id: info.id.to_string(),
        chat,
        from,
        from_lid,
        from_name: non_empty(&info.push_name),
        from_me: src.is_from_me,
        kind,
        text,
        media_url: None,
        details,
        timestamp,
    }))
}

/// A reaction, an edit or a revoke: what a message does to an earlier one.
fn later_change(msg: &wa::Message, chat: &Jid, from: &Jid, timestamp: chrono::DateTime<Utc>) -> Option<ConnectorEvent> {
    use wa::message::protocol_message::Type;
    if let Some(r) = msg.reaction_message.as_option() {
        let target_wa_id = r.key.as_option()?.id.clone()?;
        let emoji = r.text.clone().unwrap_or_default();
        return Some(ConnectorEvent::Reaction {
            chat: chat.clone(),
            target_wa_id,
            from: from.clone(),
            emoji,
            timestamp,
        });
    }
    let p = msg.protocol_message.as_option()?;
    let target_wa_id = p.key.as_option()?.id.clone()?;
    match p.r#type? {
        Type::REVOKE => {
            Some(ConnectorEvent::Revoked { chat: chat.clone(), target_wa_id, from: from.clone(), timestamp })
        }
        Type::MESSAGE_EDIT => {
            let edited = p.edited_message.as_option()?;
            let text = edited.text_content().or_else(|| edited.get_caption())?.to_owned();
            Some(ConnectorEvent::Edited { chat: chat.clone(), target_wa_id, from: from.clone(), text, timestamp })
        }
        _ => None,
    }
}

/// The preview a text shows for its link: the link (`matchedText`) with a title or description.
fn link_preview(msg: &wa::Message) -> Option<LinkPreview> {
    let m = msg.extended_text_message.as_option()?;
    let text = |s: &Option<String>| s.as_deref().and_then(non_empty);
    let url = text(&m.matched_text)?;
    let (title, description) = (text(&m.title), text(&m.description));
    (title.is_some() || description.is_some()).then_some(LinkPreview { url, title, description })
}

/// The reply and mentions a message's context carries.
fn context_details(msg: &wa::Message, details: &mut Details) {
    let ctx = [
        msg.extended_text_message.as_option().and_then(|m| m.context_info.as_option()),
        msg.image_message.as_option().and_then(|m| m.context_info.as_option()),
        msg.video_message.as_option().and_then(|m| m.context_info.as_option()),
        msg.audio_message.as_option().and_then(|m| m.context_info.as_option()),
        msg.document_message.as_option().and_then(|m| m.context_info.as_option()),
        msg.sticker_message.as_option().and_then(|m| m.context_info.as_option()),
        msg.location_message.as_option().and_then(|m| m.context_info.as_option()),
        msg.contact_message.as_option().and_then(|m| m.context_info.as_option()),
    ]
    .into_iter()
    .flatten()
    .next();
    let Some(ctx) = ctx else { return };
    details.mentions = ctx.mentioned_jid.iter().filter_map(|j| Jid::parse(j).ok()).map(|j| j.to_string()).collect();
    if let Some(wa_id) = ctx.stanza_id.clone() {
        let text = ctx
            .quoted_message
            .as_option()
            .and_then(|q| q.text_content().or_else(|| q.get_caption()).map(str::to_owned));
        details.quoted = Some(QuotedRef {
            wa_id,
            sender: ctx.participant.as_deref().and_then(|p| Jid::parse(p).ok()),
            from_me: false,
            text,
        });
    }
}

fn media(mime: &Option<String>, size: Option<u64>) -> MediaInfo {
    MediaInfo { mime_type: mime.clone(), size, ..Default::default() }
}

/// Where the file of an inbound media message is, for `download`; `None` when the message
/// lacks what a download needs.
fn cdn(
    kind: MediaKind,
    direct_path: &Option<String>,
    media_key: &Option<Vec<u8>>,
    file_sha256: &Option<Vec<u8>>,
    file_enc_sha256: &Option<Vec<u8>>,
    file_length: Option<u64>,
) -> Option<MediaSource> {
    let b64 = |b: &Option<Vec<u8>>| b.as_ref().map(|b| base64::engine::general_purpose::STANDARD.encode(b));
    let file = CdnFile {
        direct_path: direct_path.clone()?,
        media_key: b64(media_key)?,
        file_sha256: b64(file_sha256)?,
        file_enc_sha256: b64(file_enc_sha256)?,
        file_length: file_length.unwrap_or_default(),
        kind,
        origin: None,
    };
    Some(MediaSource(serde_json::to_string(&file).expect("a CDN reference serialises")))
}

/// A download reference that also names the message it came with.
fn with_origin(
    source: MediaSource,
    message_id: String,
    src: &whatsapp_rust::types::message::MessageSource,
) -> MediaSource {
    let Ok(mut file) = serde_json::from_str::<CdnFile>(&source.0) else { return source };
    file.origin = Some(super::outgoing::Origin {
        message_id,
        chat: src.chat.to_string(),
        from_me: src.is_from_me,
        participant: src.is_group.then(|| src.sender.to_string()),
    });
    MediaSource(serde_json::to_string(&file).expect("a CDN reference serialises"))
}

/// Kind, text (the caption for media) and what the message carries; `None` for messages
/// that are not content.
fn content(msg: &wa::Message) -> Option<(MessageType, String, Details)> {
    let mut d = Details::default();
    context_details(msg, &mut d);
    if let Some(text) = msg.text_content() {
        d.link_preview = link_preview(msg);
        return Some((MessageType::Text, text.to_owned(), d));
    }
    if let Some(i) = msg.image_message.as_option() {
        d.media = Some(MediaInfo { width: i.width, height: i.height, ..media(&i.mimetype, i.file_length) });
        d.media_source =
            cdn(MediaKind::Image, &i.direct_path, &i.media_key, &i.file_sha256, &i.file_enc_sha256, i.file_length);
        return Some((MessageType::Image, i.caption.clone().unwrap_or_default(), d));
    }
    if let Some(v) = msg.video_message.as_option() {
        d.media = Some(MediaInfo { seconds: v.seconds, ..media(&v.mimetype, v.file_length) });
        d.media_source =
            cdn(MediaKind::Video, &v.direct_path, &v.media_key, &v.file_sha256, &v.file_enc_sha256, v.file_length);
        return Some((MessageType::Video, v.caption.clone().unwrap_or_default(), d));
    }
    if let Some(a) = msg.audio_message.as_option() {
        d.media = Some(MediaInfo {
            seconds: a.seconds,
            voice_note: a.ptt.unwrap_or(false),
            ..media(&a.mimetype, a.file_length)
        });
        d.media_source =
            cdn(MediaKind::Audio, &a.direct_path, &a.media_key, &a.file_sha256, &a.file_enc_sha256, a.file_length);
        return Some((MessageType::Audio, String::new(), d));
    }
    if let Some(doc) = msg.document_message.as_option() {
        d.media = Some(MediaInfo { file_name: doc.file_name.clone(), ..media(&doc.mimetype, doc.file_length) });
        d.media_source = cdn(
            MediaKind::Document,
            &doc.direct_path,
            &doc.media_key,
            &doc.file_sha256,
            &doc.file_enc_sha256,
            doc.file_length,
        );
        return Some((MessageType::Document, doc.caption.clone().unwrap_or_default(), d));
    }
    if let Some(s) = msg.sticker_message.as_option() {
        d.media = Some(media(&s.mimetype, s.file_length));
        d.media_source =
            cdn(MediaKind::Sticker, &s.direct_path, &s.media_key, &s.file_sha256, &s.file_enc_sha256, s.file_length);
        return Some((MessageType::Sticker, String::new(), d));
    }
    if let Some(l) = msg.location_message.as_option() {
        d.location = Some(Location {
            latitude: l.degrees_latitude.unwrap_or_default(),
            longitude: l.degrees_longitude.unwrap_or_default(),
            name: l.name.clone(),
            address: l.address.clone(),
        });
        return Some((MessageType::Location, l.name.clone().unwrap_or_default(), d));
    }
    if let Some(c) = msg.contact_message.as_option() {
        let name = c.display_name.clone().unwrap_or_default();
        d.contact = Some(ContactCard { name: name.clone(), vcard: c.vcard.clone().unwrap_or_default() });
        return Some((MessageType::Contact, name, d));
    }
    let poll = [&msg.poll_creation_message, &msg.poll_creation_message_v2, &msg.poll_creation_message_v3]
        .into_iter()
        .find_map(|p| p.as_option());
    if let Some(p) = poll {
        let question = p.name.clone().unwrap_or_default();
        d.poll = Some(Poll {
            question: question.clone(),
            options: p
                .options
                .iter()
                .filter_map(|o| o.option_name.clone())
                .map(|name| PollOption { name, voters: Vec::new() })
                .collect(),
            selectable_count: p.selectable_options_count.filter(|n| *n > 0).unwrap_or(p.options.len() as u32),
        });
        return Some((MessageType::Poll, question, d));
    }
    None
}

/// The library's answers to an existence check, in the order the numbers were asked. A
/// number the server left out of its answer has no account.
pub fn number_statuses(asked: &[Jid], found: &[whatsapp_rust::features::IsOnWhatsAppResult]) -> Vec<NumberStatus> {
    asked
        .iter()
        .map(|jid| {
            let answer = found.iter().find(|r| {
                r.jid.to_string() == jid.as_str() || r.pn_jid.as_ref().is_some_and(|pn| pn.to_string() == jid.as_str())
            });
            NumberStatus {
                jid: jid.clone(),
                exists: answer.is_some_and(|r| r.is_registered),
                lid: answer
                    .and_then(|r| r.lid.as_ref().or(r.jid.is_lid().then_some(&r.jid)))
                    .and_then(|l| Jid::parse(&l.to_string()).ok()),
                business: answer.is_some_and(|r| r.is_business),
            }
        })
        .collect()
}

/// A contact's profile from the library's user info and picture address.
pub fn contact_profile(info: Option<&whatsapp_rust::UserInfo>, picture_url: Option<String>) -> ContactProfile {
    ContactProfile {
        lid: info.and_then(|i| i.lid.as_ref()).and_then(|l| Jid::parse(&l.to_string()).ok()),
        about: info.and_then(|i| i.status.clone()).filter(|s| !s.is_empty()),
        business: info.is_some_and(|i| i.is_business),
        picture_url,
    }
}
