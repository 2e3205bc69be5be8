//! What WhatsApp accepts for each media kind: the file types (told by the bytes, never by a
//! name or a declared type) and the size limits. A file that breaks a rule is refused before
//! anything is stored or sent.

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::model::{MediaInfo, MessageType};

/// A kind of media message, as a send asks for it. A voice note is audio recorded with the
/// push-to-talk button: WhatsApp plays it inline and takes only Opus in OGG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Voice,
    Document,
    Sticker,
}

const MB: usize = 1024 * 1024;

#[derive(Debug, Error, PartialEq)]
pub enum MediaError {
    #[error("the file is empty")]
    Empty,
    #[error("{kind} files are limited to {limit} bytes by WhatsApp; this one has {size}")]
    TooLarge { kind: &'static str, limit: usize, size: usize },
    #[error("{kind} must be {accepted}; the file is {found}")]
    WrongType { kind: &'static str, accepted: &'static str, found: String },
    #[error(
        "a voice note must be Opus audio in an OGG container (the file is {found}); convert it, e.g. `ffmpeg -i in -c:a libopus out.ogg`, or send it as audio"
    )]
    VoiceNotOpus { found: String },
}

impl MediaKind {
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice note",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// WhatsApp's limits for each kind (its Cloud API documents the same).
    pub fn limit(self) -> usize {
        match self {
            MediaKind::Image => 5 * MB,
            MediaKind::Video | MediaKind::Audio | MediaKind::Voice => 16 * MB,
            MediaKind::Document => 100 * MB,
            MediaKind::Sticker => 500 * 1024,
        }
    }

    pub fn message_type(self) -> MessageType {
        match self {
            MediaKind::Image => MessageType::Image,
            MediaKind::Video => MessageType::Video,
            MediaKind::Audio | MediaKind::Voice => MessageType::Audio,
            MediaKind::Document => MessageType::Document,
            MediaKind::Sticker => MessageType::Sticker,
        }
    }

    /// The kind of a stored message, to send it again from the outbox.
    pub fn of(kind: MessageType, info: &MediaInfo) -> Option<MediaKind> {
        Some(match kind {
            MessageType::Image => MediaKind::Image,
            MessageType::Video => MediaKind::Video,
            MessageType::Audio if info.voice_note => MediaKind::Voice,
            MessageType::Audio => MediaKind::Audio,
            MessageType::Document => MediaKind::Document,
            MessageType::Sticker => MediaKind::Sticker,
            _ => return None,
        })
    }

    /// Whether a caption goes with this kind on WhatsApp.
    pub fn has_caption(self) -> bool {
        matches!(self, MediaKind::Image | MediaKind::Video | MediaKind::Document)
    }

    fn accepted(self) -> (&'static [&'static str], &'static str) {
        match self {
            MediaKind::Image => (&["image/jpeg", "image/png"], "JPEG or PNG"),
            MediaKind::Video => (&["video/mp4", "video/3gpp"], "MP4 or 3GP"),
            MediaKind::Audio => (
                &["audio/ogg", "audio/mpeg", "audio/mp4", "audio/x-m4a", "audio/aac", "audio/amr"],
                "OGG, MP3, M4A, AAC or AMR",
            ),
            MediaKind::Voice => (&["audio/ogg"], "Opus in OGG"),
            MediaKind::Document => (&[], "any file"),
            MediaKind::Sticker => (&["image/webp"], "WebP"),
        }
    }
}

/// The file's type as its bytes say, or `None` when they say nothing known.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let t = infer::get(bytes)?.mime_type();
    // WhatsApp names audio by its container: M4A is audio/mp4, Opus in OGG is audio/ogg.
    Some(match t {
        "audio/m4a" => "audio/mp4",
        "audio/opus" => "audio/ogg",
        other => other,
    })
}

/// Opus in OGG: the first page carries the `OpusHead` identification header.
fn is_ogg_opus(bytes: &[u8]) -> bool {
    bytes.starts_with(b"OggS") && bytes.get(28..36) == Some(b"OpusHead")
}

/// Checks a file against the kind's rules; what is known of it when it passes.
pub fn check(kind: MediaKind, bytes: &[u8], file_name: Option<&str>) -> Result<MediaInfo, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > kind.limit() {
        return Err(MediaError::TooLarge { kind: kind.name(), limit: kind.limit(), size: bytes.len() });
    }
    let found = sniff(bytes);
    let found_text = || found.map_or_else(|| "of an unknown type".to_owned(), |m| format!("{m}"));
    let (accepted, words) = kind.accepted();
    if kind == MediaKind::Voice && !is_ogg_opus(bytes) {
        return Err(MediaError::VoiceNotOpus { found: found_text() });
    }
    let mime = match found {
        Some(m) if accepted.is_empty() || accepted.contains(&m) => m.to_owned(),
        None if accepted.is_empty() => "application/octet-stream".to_owned(),
        _ => return Err(MediaError::WrongType { kind: kind.name(), accepted: words, found: found_text() }),
    };
    let mime = if kind == MediaKind::Voice { "audio/ogg; codecs=opus".to_owned() } else { mime };
    Ok(MediaInfo {
        mime_type: Some(mime),
        size: Some(bytes.len() as u64),
        sha256: Some(hex::encode(Sha256::digest(bytes))),
        file_name: file_name.filter(|_| kind == MediaKind::Document).map(str::to_owned),
        voice_note: kind == MediaKind::Voice,
        ..Default::default()
    })
}

#[cfg(test)]
pub(crate) mod samples {
    /// The smallest files each kind accepts, as their magic numbers make them.
    pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    pub const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9";
    pub const WEBP: &[u8] = b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0";
    pub fn ogg(codec: &[u8; 8]) -> Vec<u8> {
        let mut page = b"OggS\0\x02".to_vec();
        page.resize(28, 0);
        page.extend_from_slice(codec);
        page.extend_from_slice(&[1, 2, 0x38, 1, 0x80, 0xbb, 0, 0, 0, 0, 0]);
        page
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    #[test]
    fn types_are_told_by_the_bytes() {
        assert_eq!(check(MediaKind::Image, PNG, Some("x.pdf")).unwrap().mime_type.as_deref(), Some("image/png"));
        assert_eq!(check(MediaKind::Image, JPEG, None).unwrap().mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(check(MediaKind::Sticker, WEBP, None).unwrap().mime_type.as_deref(), Some("image/webp"));
        let err = check(MediaKind::Video, PNG, Some("clip.mp4")).unwrap_err();
        assert_eq!(err, MediaError::WrongType { kind: "video", accepted: "MP4 or 3GP", found: "image/png".into() });
        let err = check(MediaKind::Image, b"just some text", Some("a.png")).unwrap_err();
        assert!(err.to_string().contains("unknown type"), "{err}");
    }

    #[test]
    fn documents_take_any_file_and_keep_their_name() {
        let info = check(MediaKind::Document, b"%PDF-1.4\n%...", Some("invoice.pdf")).unwrap();
        assert_eq!(
            (info.mime_type.as_deref(), info.file_name.as_deref()),
            (Some("application/pdf"), Some("invoice.pdf"))
        );
        let info = check(MediaKind::Document, b"plain words", Some("notes.txt")).unwrap();
        assert_eq!(info.mime_type.as_deref(), Some("application/octet-stream"));
        assert_eq!(info.size, Some(11));
        assert_eq!(info.sha256.as_deref(), Some(hex::encode(Sha256::digest(b"plain words")).as_str()));
        assert_eq!(check(MediaKind::Image, PNG, Some("n.png")).unwrap().file_name, None);
    }

    #[test]
    fn voice_notes_are_opus_in_ogg() {
        let info = check(MediaKind::Voice, &ogg(b"OpusHead"), None).unwrap();
        assert!(info.voice_note);
        assert_eq!(info.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));
        let vorbis = check(MediaKind::Voice, &ogg(b"\x01vorbis\0"), None).unwrap_err();
        assert!(matches!(vorbis, MediaError::VoiceNotOpus { .. }));
        assert!(vorbis.to_string().contains("libopus"));
        assert!(check(MediaKind::Audio, &ogg(b"\x01vorbis\0"), None).is_ok(), "plain audio may be any OGG");
    }

    #[test]
    fn sizes_are_whatsapps() {
        let big = vec![0u8; MediaKind::Sticker.limit() + 1];
        let err = check(MediaKind::Sticker, &big, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("sticker files are limited to 512000 bytes by WhatsApp; this one has {}", big.len())
        );
        assert_eq!(check(MediaKind::Document, b"", None), Err(MediaError::Empty));
    }
}
