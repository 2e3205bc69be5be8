//! whatsapp-rust events -> our `ConnectorEvent`s. Pure: no client, no I/O, so every mapping
//! is unit-tested by building the library's own event values.

use chrono::Utc;
use whatsapp_rust::prelude::{Event, InboundMessage as WaInbound, MessageExt, wa};
use whatsapp_rust::types::events::ConnectFailureReason;
use whatsapp_rust::types::presence::ReceiptType;

use crate::connector::{ConnectorEvent, DropKind, InboundMessage, ReceiptKind};
use crate::model::{Jid, MessageType};

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
        Event::Messages(batch) => batch.messages.iter().filter_map(inbound).map(ConnectorEvent::Message).collect(),
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

/// A message we keep: status broadcasts and protocol messages (edits, deletes, key
/// distribution) are not chat messages.
fn inbound(m: &WaInbound) -> Option<InboundMessage> {
    let info = &m.info;
    let src = &info.source;
    if src.chat.to_string().ends_with("@broadcast") {
        return None;
    }
    let base = m.message.get_base_message();
    let (kind, text, media) = content(base)?;
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
    Some(InboundMessage {
        wa_id: info.id.to_string(),
        chat: Jid::parse(&chat).ok()?,
        from: Jid::parse(&from).ok()?,
        from_lid,
        from_name: non_empty(&info.push_name),
        from_me: src.is_from_me,
        kind,
        text,
        media_url: None,
        media,
        timestamp: if info.timestamp.timestamp() > 0 { info.timestamp } else { Utc::now() },
    })
}

/// Kind, text (the caption for media) and media metadata; `None` for messages that are not
/// content.
fn content(msg: &wa::Message) -> Option<(MessageType, String, Option<serde_json::Value>)> {
    use serde_json::json;
    if let Some(text) = msg.text_content() {
        return Some((MessageType::Text, text.to_owned(), None));
    }
    if let Some(i) = msg.image_message.as_option() {
        let meta = json!({ "mimeType": i.mimetype, "size": i.file_length, "width": i.width, "height": i.height });
        return Some((MessageType::Image, i.caption.clone().unwrap_or_default(), Some(meta)));
    }
    if let Some(v) = msg.video_message.as_option() {
        let meta = json!({ "mimeType": v.mimetype, "size": v.file_length, "seconds": v.seconds });
        return Some((MessageType::Video, v.caption.clone().unwrap_or_default(), Some(meta)));
    }
    if let Some(a) = msg.audio_message.as_option() {
        let meta = json!({ "mimeType": a.mimetype, "size": a.file_length, "seconds": a.seconds, "voiceNote": a.ptt });
        return Some((MessageType::Audio, String::new(), Some(meta)));
    }
    if let Some(d) = msg.document_message.as_option() {
        let meta = json!({ "mimeType": d.mimetype, "size": d.file_length, "fileName": d.file_name });
        return Some((MessageType::Document, d.caption.clone().unwrap_or_default(), Some(meta)));
    }
    if let Some(s) = msg.sticker_message.as_option() {
        return Some((
            MessageType::Sticker,
            String::new(),
            Some(json!({ "mimeType": s.mimetype, "size": s.file_length })),
        ));
    }
    if let Some(l) = msg.location_message.as_option() {
        let meta = json!({ "latitude": l.degrees_latitude, "longitude": l.degrees_longitude, "name": l.name });
        return Some((MessageType::Location, l.name.clone().unwrap_or_default(), Some(meta)));
    }
    if let Some(c) = msg.contact_message.as_option() {
        return Some((MessageType::Contact, c.display_name.clone().unwrap_or_default(), None));
    }
    if let Some(r) = msg.reaction_message.as_option() {
        return Some((MessageType::Reaction, r.text.clone().unwrap_or_default(), None));
    }
    None
}
