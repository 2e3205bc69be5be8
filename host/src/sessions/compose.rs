//! A [`SendMessage`] (a REST body, or a send a plugin queued) as the send a session takes:
//! the one block it names, its file decoded or still to fetch. A body that names no block,
//! or more than one, is refused whole with what is wrong.

use base64::Engine;
use bytes::Bytes;
use url::Url;

use super::outgoing::vcard_for;
use super::{IdempotencyKey, MediaFromUrl, SendBody, SendRequest, SessionError, SessionResult};
use crate::connector::{OutgoingBody, OutgoingMedia};
use crate::media::kinds::MediaKind;
use crate::model::{ContactCard, MediaInfo};
use wagate_model::send::{SendKind, SendMessage};

fn invalid(code: &'static str, message: impl Into<String>) -> SessionError {
    SessionError::Unprocessable { code, message: message.into() }
}

fn media_kind(kind: SendKind) -> Option<MediaKind> {
    Some(match kind {
        SendKind::Image => MediaKind::Image,
        SendKind::Video => MediaKind::Video,
        SendKind::Audio => MediaKind::Audio,
        SendKind::Voice => MediaKind::Voice,
        SendKind::Document => MediaKind::Document,
        SendKind::Sticker => MediaKind::Sticker,
        SendKind::Text | SendKind::Location | SendKind::Contact | SendKind::Poll => return None,
    })
}

/// The file of a JSON send given as base64; `None` for one to fetch (or no file).
pub fn decoded_media(req: &SendMessage) -> SessionResult<Option<Bytes>> {
    let Some(m) = &req.media else { return Ok(None) };
    match (&m.base64, &m.url) {
        (Some(text), None) => base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.trim_end_matches('='))
            .map(|b| Some(Bytes::from(b)))
            .map_err(|e| invalid("invalid_media", format!("media.base64 is not base64: {e}"))),
        (None, Some(_)) => Ok(None),
        _ => Err(invalid("invalid_media", "media needs exactly one of base64, url")),
    }
}

/// The send `req` asks for, with `file` the bytes of its media (decoded from base64 or a
/// multipart part) when it has them.
pub fn request(req: SendMessage, file: Option<Bytes>, idempotency: Option<IdempotencyKey>) -> SessionResult<SendRequest> {
    let (to, reply_to, mentions) = (req.to.clone(), req.reply_to.clone(), req.mentions.clone().unwrap_or_default());
    let link_preview = req.link_preview.unwrap_or(false);
    let body = body(req, file)?;
    if link_preview && !matches!(body, SendBody::Ready(OutgoingBody::Text(_))) {
        return Err(invalid("mixed_content", "linkPreview goes with a text"));
    }
    Ok(SendRequest { to, body, reply_to, mentions, idempotency, link_preview, origin: None })
}

fn body(req: SendMessage, file: Option<Bytes>) -> SessionResult<SendBody> {
    if let Some(kind) = req.kind.and_then(media_kind) {
        if req.text.is_some() || req.location.is_some() || req.contact.is_some() || req.poll.is_some() {
            return Err(invalid("mixed_content", "a media message has a file (and a caption), nothing else"));
        }
        let (url, file_name) = req.media.map(|m| (m.url, m.file_name)).unwrap_or_default();
        let caption = req.caption.unwrap_or_default();
        return match (file, url) {
            (Some(data), _) => Ok(SendBody::Ready(OutgoingBody::Media(OutgoingMedia {
                kind,
                info: MediaInfo { file_name, ..Default::default() },
                caption,
                data,
            }))),
            (None, Some(url)) => {
                let url = Url::parse(&url)
                    .map_err(|e| invalid("invalid_media_url", format!("media.url is not a URL: {e}")))?;
                Ok(SendBody::FromUrl(MediaFromUrl { kind, url, file_name, caption }))
            }
            (None, None) => Err(invalid("missing_content", format!("type '{}' needs 'media'", kind.name()))),
        };
    }
    if req.media.is_some() || req.caption.is_some() {
        return Err(invalid(
            "mixed_content",
            "media and caption need a media type (image, video, audio, voice, document, sticker)",
        ));
    }
    let given: Vec<SendKind> = [
        (req.text.is_some(), SendKind::Text),
        (req.location.is_some(), SendKind::Location),
        (req.contact.is_some(), SendKind::Contact),
        (req.poll.is_some(), SendKind::Poll),
    ]
    .into_iter()
    .filter_map(|(present, kind)| present.then_some(kind))
    .collect();
    let kind = match (req.kind, given.as_slice()) {
        (Some(kind), [only]) if *only == kind => kind,
        (None, [only]) => *only,
        (Some(kind), []) => {
            let field = serde_json::to_value(kind).expect("kind serialises");
            let field = field.as_str().unwrap_or_default();
            return Err(invalid("missing_content", format!("type '{field}' needs the field \"{field}\"")));
        }
        (None, []) => return Err(invalid("missing_content", "give one of text, location, contact, poll")),
        _ => {
            return Err(invalid(
                "mixed_content",
                "a message has exactly one of text, location, contact, poll (matching its type)",
            ));
        }
    };
    let body = match kind {
        SendKind::Location => OutgoingBody::Location(req.location.expect("checked above")),
        SendKind::Contact => {
            let c = req.contact.expect("checked above");
            let vcard = match (c.vcard, c.phone) {
                (Some(v), None) => v,
                (None, Some(phone)) => vcard_for(&c.name, &phone),
                _ => return Err(invalid("invalid_contact", "contact needs exactly one of vcard, phone")),
            };
            OutgoingBody::Contact(ContactCard { name: c.name, vcard })
        }
        SendKind::Poll => {
            let p = req.poll.expect("checked above");
            OutgoingBody::Poll { question: p.question, options: p.options, selectable_count: p.selectable_count.unwrap_or(1) }
        }
        _ => OutgoingBody::Text(req.text.unwrap_or_default()),
    };
    Ok(SendBody::Ready(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_block_per_message() {
        let text = request(SendMessage::text("+15550001111", "hi"), None, None).unwrap();
        assert!(matches!(text.body, SendBody::Ready(OutgoingBody::Text(t)) if t == "hi"));
        let url = SendMessage::media_from_url("+15550001111", SendKind::Image, "https://example.com/a.png");
        assert!(matches!(request(url, None, None).unwrap().body, SendBody::FromUrl(m) if m.kind == MediaKind::Image));
        let mixed = SendMessage { caption: Some("c".into()), ..SendMessage::text("+1", "t") };
        assert!(matches!(request(mixed, None, None), Err(SessionError::Unprocessable { code: "mixed_content", .. })));
        let none = SendMessage { to: "+1".into(), ..SendMessage::default() };
        assert!(matches!(request(none, None, None), Err(SessionError::Unprocessable { code: "missing_content", .. })));
        let preview = SendMessage { link_preview: Some(true), ..SendMessage::text("+1", "https://e.com") };
        assert!(request(preview, None, None).unwrap().link_preview);
        let location = wagate_model::Location { latitude: 1.0, longitude: 2.0, name: None, address: None };
        let bad = SendMessage { to: "+1".into(), location: Some(location), link_preview: Some(true), ..SendMessage::default() };
        assert!(matches!(request(bad, None, None), Err(SessionError::Unprocessable { code: "mixed_content", .. })));
        let typed = SendMessage { kind: Some(SendKind::Poll), ..SendMessage::default() };
        let err = request(typed, None, None).unwrap_err();
        assert_eq!(err.to_string(), "type 'poll' needs the field \"poll\"");
    }
}
