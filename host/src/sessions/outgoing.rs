//! What a send asks for, checked against WhatsApp's rules before anything is stored: the
//! message's kind, the text a chat list shows for it, and its kind-specific block. A request
//! that breaks a rule is refused whole, with the rule it broke.

use crate::connector::OutgoingBody;
use crate::media::kinds::{self, MediaKind};
use crate::model::{ContactCard, Location, MediaInfo, Message, MessageType, Poll, PollOption};

use super::{MAX_TEXT_CHARS, SessionError};

/// WhatsApp's poll limits.
pub const MAX_POLL_OPTIONS: usize = 12;
const MAX_POLL_QUESTION_CHARS: usize = 255;
const MAX_POLL_OPTION_CHARS: usize = 100;
const MAX_NAME_CHARS: usize = 1024;
const MAX_VCARD_BYTES: usize = 16 * 1024;
/// WhatsApp's limit on a media caption.
const MAX_CAPTION_CHARS: usize = 1024;
/// People one text may mention.
pub const MAX_MENTIONS: usize = 256;
/// A reaction is one emoji (a grapheme of up to a few code points), never text.
const MAX_EMOJI_BYTES: usize = 32;

fn invalid(code: &'static str, message: impl Into<String>) -> SessionError {
    SessionError::Unprocessable { code, message: message.into() }
}

pub fn check_text(text: &str) -> Result<(), SessionError> {
    if text.trim().is_empty() {
        return Err(invalid("invalid_text", "text must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid("invalid_text", format!("text is longer than {MAX_TEXT_CHARS} characters")));
    }
    Ok(())
}

fn check_name(field: &str, value: &Option<String>) -> Result<(), SessionError> {
    if value.as_ref().is_some_and(|v| v.chars().count() > MAX_NAME_CHARS) {
        return Err(invalid("invalid_location", format!("{field} is longer than {MAX_NAME_CHARS} characters")));
    }
    Ok(())
}

/// The message a valid body becomes (kind, chat-list text, block), or why it is refused.
pub fn check(body: &OutgoingBody) -> Result<(MessageType, String, Blocks), SessionError> {
    match body {
        OutgoingBody::Text(text) => {
            check_text(text)?;
            Ok((MessageType::Text, text.clone(), Blocks::default()))
        }
        OutgoingBody::Location(l) => {
            let in_range = |v: f64, max: f64| v.is_finite() && (-max..=max).contains(&v);
            if !in_range(l.latitude, 90.0) || !in_range(l.longitude, 180.0) {
                return Err(invalid(
                    "invalid_location",
                    "latitude must be between -90 and 90 and longitude between -180 and 180",
                ));
            }
            check_name("location.name", &l.name)?;
            check_name("location.address", &l.address)?;
            let content = l.name.clone().unwrap_or_default();
            Ok((MessageType::Location, content, Blocks { location: Some(l.clone()), ..Default::default() }))
        }
        OutgoingBody::Contact(c) => {
            let chars = c.name.trim().chars().count();
            if chars == 0 || chars > 256 {
                return Err(invalid("invalid_contact", "contact.name must be 1 to 256 characters"));
            }
            let vcard = c.vcard.trim_start();
            if !vcard.starts_with("BEGIN:VCARD") || !vcard.trim_end().ends_with("END:VCARD") {
                return Err(invalid("invalid_contact", "contact.vcard must be a vCard (BEGIN:VCARD ... END:VCARD)"));
            }
            if c.vcard.len() > MAX_VCARD_BYTES {
                return Err(invalid(
                    "invalid_contact",
                    format!("contact.vcard is larger than {MAX_VCARD_BYTES} bytes"),
                ));
            }
            Ok((MessageType::Contact, c.name.clone(), Blocks { contact: Some(c.clone()), ..Default::default() }))
        }
        OutgoingBody::Poll { question, options, selectable_count } => {
            let q = question.trim().chars().count();
            if q == 0 || q > MAX_POLL_QUESTION_CHARS {
                return Err(invalid(
                    "invalid_poll",
                    format!("poll.question must be 1 to {MAX_POLL_QUESTION_CHARS} characters"),
                ));
            }
            if !(2..=MAX_POLL_OPTIONS).contains(&options.len()) {
                return Err(invalid("invalid_poll", format!("a poll has 2 to {MAX_POLL_OPTIONS} options")));
            }
            for (i, o) in options.iter().enumerate() {
                let n = o.trim().chars().count();
                if n == 0 || n > MAX_POLL_OPTION_CHARS {
                    return Err(invalid(
                        "invalid_poll",
                        format!("poll.options[{i}] must be 1 to {MAX_POLL_OPTION_CHARS} characters"),
                    ));
                }
                if options[..i].contains(o) {
                    return Err(invalid("invalid_poll", format!("poll.options[{i}] repeats '{o}'")));
                }
            }
            if *selectable_count < 1 || *selectable_count as usize > options.len() {
                return Err(invalid(
                    "invalid_poll",
                    "poll.selectableCount must be between 1 and the number of options",
                ));
            }
            let poll = Poll {
                question: question.clone(),
                options: options.iter().map(|name| PollOption { name: name.clone(), voters: Vec::new() }).collect(),
                selectable_count: *selectable_count,
            };
            Ok((MessageType::Poll, question.clone(), Blocks { poll: Some(poll), ..Default::default() }))
        }
        OutgoingBody::Media(m) => {
            check_caption(m.kind, &m.caption)?;
            let info = kinds::check(m.kind, &m.data, m.info.file_name.as_deref()).map_err(SessionError::Media)?;
            Ok((m.kind.message_type(), m.caption.clone(), Blocks { media: Some(info), ..Default::default() }))
        }
    }
}

fn check_caption(kind: MediaKind, caption: &str) -> Result<(), SessionError> {
    if !caption.is_empty() && !kind.has_caption() {
        return Err(invalid("invalid_caption", format!("{} messages have no caption on WhatsApp", kind.name())));
    }
    if caption.chars().count() > MAX_CAPTION_CHARS {
        return Err(invalid("invalid_caption", format!("a caption has at most {MAX_CAPTION_CHARS} characters")));
    }
    Ok(())
}

/// The message a send of a file still to be fetched becomes: what can be checked before
/// the file is had (the caption); the file is checked when it arrives.
pub fn check_to_fetch(
    kind: MediaKind,
    caption: &str,
    file_name: Option<String>,
) -> Result<(MessageType, String, Blocks), SessionError> {
    check_caption(kind, caption)?;
    let info = MediaInfo {
        file_name: file_name.filter(|_| kind == MediaKind::Document),
        voice_note: kind == MediaKind::Voice,
        ..Default::default()
    };
    Ok((kind.message_type(), caption.to_owned(), Blocks { media: Some(info), ..Default::default() }))
}

/// The kind-specific block a sent message stores.
#[derive(Default)]
pub struct Blocks {
    pub media: Option<MediaInfo>,
    pub location: Option<Location>,
    pub contact: Option<ContactCard>,
    pub poll: Option<Poll>,
}

/// The body of a stored outbound message, to hand to the connector again (the outbox is
/// the store: a message accepted while offline is rebuilt from its row). Media messages
/// need their file too, which the media store has.
pub fn body_of(m: &Message) -> Option<OutgoingBody> {
    Some(match m.kind {
        MessageType::Text => OutgoingBody::Text(m.content.clone()),
        MessageType::Location => OutgoingBody::Location(m.location.clone()?),
        MessageType::Contact => OutgoingBody::Contact(m.contact.clone()?),
        MessageType::Poll => {
            let poll = m.poll.as_ref()?;
            OutgoingBody::Poll {
                question: poll.question.clone(),
                options: poll.options.iter().map(|o| o.name.clone()).collect(),
                selectable_count: poll.selectable_count,
            }
        }
        _ => return None,
    })
}

pub fn check_emoji(emoji: &str) -> Result<(), SessionError> {
    let plain = emoji.chars().any(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || c.is_control());
    if emoji.is_empty() || emoji.len() > MAX_EMOJI_BYTES || plain {
        return Err(invalid("invalid_emoji", "emoji must be one emoji (use DELETE to remove a reaction)"));
    }
    Ok(())
}

/// Builds the vCard WhatsApp shows for a name and a number.
pub fn vcard_for(name: &str, phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let name = name.replace(['\n', '\r'], " ");
    format!("BEGIN:VCARD\nVERSION:3.0\nFN:{name}\nTEL;type=CELL;type=VOICE;waid={digits}:+{digits}\nEND:VCARD")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_follow_whatsapps_limits() {
        let poll = |options: &[&str], n: u32| OutgoingBody::Poll {
            question: "Lunch?".into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            selectable_count: n,
        };
        assert!(check(&poll(&["a", "b"], 1)).is_ok());
        assert!(check(&poll(&["a", "b"], 2)).is_ok());
        for (bad, why) in
            [(poll(&["a"], 1), "2 to"), (poll(&["a", "a"], 1), "repeats"), (poll(&["a", "b"], 3), "selectableCount")]
        {
            let err = check(&bad).err().unwrap().to_string();
            assert!(err.contains(why), "{err}");
        }
        let many: Vec<String> = (0..13).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(check(&poll(&refs, 1)).is_err());
    }

    #[test]
    fn locations_are_on_earth() {
        let at =
            |latitude, longitude| OutgoingBody::Location(Location { latitude, longitude, name: None, address: None });
        assert!(check(&at(-6.2, 106.8)).is_ok());
        for (lat, lon) in [(91.0, 0.0), (0.0, -181.0), (f64::NAN, 0.0), (0.0, f64::INFINITY)] {
            assert!(check(&at(lat, lon)).is_err(), "{lat},{lon}");
        }
    }

    #[test]
    fn a_reaction_is_an_emoji_not_text() {
        assert!(check_emoji("👍").is_ok());
        assert!(check_emoji("👨‍👩‍👧").is_ok());
        for bad in ["", "ok", "👍 ", &"😀".repeat(9)] {
            assert!(check_emoji(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_built_vcard_is_a_vcard() {
        let card = vcard_for("Ana\nEvil", "+62 812-3456");
        let contact = OutgoingBody::Contact(ContactCard { name: "Ana".into(), vcard: card.clone() });
        assert!(check(&contact).is_ok());
        assert!(card.contains("waid=628123456:+628123456"));
        assert!(!card.contains("Ana\nEvil"));
    }
}
