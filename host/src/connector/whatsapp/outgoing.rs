//! Our outgoing messages as whatsapp-rust protobuf messages. Pure, so each shape is
//! unit-tested without a network.

use base64::Engine;
use whatsapp_rust::download::{DownloadParams, MediaType};
use whatsapp_rust::prelude::{MessageBuilderExt, MessageExt, MessageField, wa};

use crate::connector::{Outgoing, OutgoingBody, OutgoingMedia, QuotedRef};
use crate::media::kinds::MediaKind;
use crate::model::Jid;

/// The reply and mention context WhatsApp shows above a message.
pub fn context(quoted: Option<&QuotedRef>, mentions: &[Jid]) -> Option<wa::ContextInfo> {
    if quoted.is_none() && mentions.is_empty() {
        return None;
    }
    let mut ctx =
        wa::ContextInfo { mentioned_jid: mentions.iter().map(ToString::to_string).collect(), ..Default::default() };
    if let Some(q) = quoted {
        ctx.stanza_id = Some(q.wa_id.clone());
        ctx.participant = q.sender.as_ref().map(ToString::to_string);
        let shown = wa::Message::text(q.text.clone().unwrap_or_default());
        ctx.quoted_message = MessageField::from_box(shown.prepare_for_quote());
    }
    Some(ctx)
}

/// A text, location or contact card with its context. Polls carry their secret
/// (`polls::creation_message`); media is uploaded first (`media_message`).
pub fn message(out: &Outgoing) -> Option<wa::Message> {
    let ctx = context(out.quoted.as_ref(), &out.mentions);
    let mut msg = match &out.body {
        OutgoingBody::Text(text) => {
            let Some(preview) = &out.link_preview else {
                return Some(match ctx {
                    Some(ctx) => wa::Message::text_with_context(text.clone(), ctx),
                    None => wa::Message::text(text.clone()),
                });
            };
            // A preview needs the extended form: the link it is about, its title, description.
            return Some(wa::Message {
                extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                    text: Some(text.clone()),
                    matched_text: Some(preview.url.clone()),
                    title: preview.title.clone(),
                    description: preview.description.clone(),
                    context_info: ctx.map(MessageField::some).unwrap_or_default(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        OutgoingBody::Location(l) => wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(l.latitude),
                degrees_longitude: Some(l.longitude),
                name: l.name.clone(),
                address: l.address.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        OutgoingBody::Contact(c) => wa::Message {
            contact_message: MessageField::some(wa::message::ContactMessage {
                display_name: Some(c.name.clone()),
                vcard: Some(c.vcard.clone()),
                ..Default::default()
            }),
            ..Default::default()
        },
        OutgoingBody::Poll { .. } | OutgoingBody::Media(_) => return None,
    };
    if let Some(ctx) = ctx {
        msg.set_context_info(ctx);
    }
    Some(msg)
}

/// How WhatsApp names a message that a reaction is about.
pub fn key(chat: &Jid, target: &QuotedRef) -> wa::MessageKey {
    wa::MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(target.from_me),
        id: Some(target.wa_id.clone()),
        // In groups the key names who wrote the message (our own need no participant).
        participant: (chat.is_group() && !target.from_me)
            .then(|| target.sender.as_ref().map(ToString::to_string))
            .flatten(),
    }
}

/// What WhatsApp's CDN answered for an uploaded file: what a media message must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_length: u64,
    pub media_key_timestamp: i64,
    pub streaming_sidecar: Option<Vec<u8>>,
}

/// The library's media type of a kind, for uploading it.
pub fn media_type(kind: MediaKind) -> MediaType {
    match kind {
        MediaKind::Image => MediaType::Image,
        MediaKind::Video => MediaType::Video,
        MediaKind::Audio | MediaKind::Voice => MediaType::Audio,
        MediaKind::Document => MediaType::Document,
        MediaKind::Sticker => MediaType::Sticker,
    }
}

/// A media message of the kind its type names: the upload's CDN fields, which every kind
/// carries, plus the kind's own fields.
macro_rules! uploaded {
    ($kind:ident, $up:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let up = $up;
        wa::message::$kind {
            url: Some(up.url),
            direct_path: Some(up.direct_path),
            media_key: Some(up.media_key),
            file_enc_sha256: Some(up.file_enc_sha256),
            file_sha256: Some(up.file_sha256),
            file_length: Some(up.file_length),
            media_key_timestamp: Some(up.media_key_timestamp),
            $($field: $value,)*
            ..Default::default()
        }
    }};
}

/// An uploaded file as the media message of its kind, with its caption and context.
pub fn media_message(m: &OutgoingMedia, up: Uploaded, quoted: Option<&QuotedRef>, mentions: &[Jid]) -> wa::Message {
    let mimetype = m.info.mime_type.clone();
    let caption = (!m.caption.is_empty()).then(|| m.caption.clone());
    let streaming_sidecar = up.streaming_sidecar.clone();
    let mut msg = wa::Message::default();
    match m.kind {
        MediaKind::Image => {
            msg.image_message =
                MessageField::some(uploaded!(ImageMessage, up, { mimetype: mimetype, caption: caption }));
        }
        MediaKind::Video => {
            msg.video_message = MessageField::some(uploaded!(VideoMessage, up, {
                mimetype: mimetype,
                caption: caption,
                streaming_sidecar: streaming_sidecar,
            }));
        }
        MediaKind::Audio | MediaKind::Voice => {
            msg.audio_message = MessageField::some(uploaded!(AudioMessage, up, {
                mimetype: mimetype,
                streaming_sidecar: streaming_sidecar,
                ptt: Some(m.kind == MediaKind::Voice),
            }));
        }
        MediaKind::Document => {
            msg.document_message = MessageField::some(uploaded!(DocumentMessage, up, {
                mimetype: mimetype,
                caption: caption,
                title: m.info.file_name.clone(),
                file_name: m.info.file_name.clone(),
            }));
        }
        MediaKind::Sticker => {
            msg.sticker_message = MessageField::some(uploaded!(StickerMessage, up, { mimetype: mimetype }));
        }
    }
    if let Some(ctx) = context(quoted, mentions) {
        msg.set_context_info(ctx);
    }
    msg
}

/// Where an inbound file is on WhatsApp's CDN and how to decrypt it: what
/// `Connection::download` is handed back (base64 for the binary fields).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdnFile {
    pub direct_path: String,
    pub media_key: String,
    pub file_sha256: String,
    pub file_enc_sha256: String,
    pub file_length: u64,
    pub kind: MediaKind,
    /// The message the file came with, for asking the sender's phone to upload it again
    /// once the CDN no longer serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Which message a file came with: what a media re-upload request names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    pub message_id: String,
    /// The chat as the network named it.
    pub chat: String,
    pub from_me: bool,
    /// Who wrote it, in a group.
    pub participant: Option<String>,
}

impl CdnFile {
    /// The raw media key, which a re-upload request is encrypted with.
    pub fn media_key_bytes(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(&self.media_key).ok()
    }

    pub fn params(&self) -> Option<DownloadParams> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).ok();
        Some(DownloadParams::encrypted(
            self.direct_path.clone(),
            &b64(&self.media_key)?,
            &b64(&self.file_sha256)?,
            &b64(&self.file_enc_sha256)?,
            self.file_length,
            media_type(self.kind),
        ))
    }
}
