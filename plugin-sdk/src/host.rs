//! What the gateway offers a plugin. In a component these call the host (each needs its
//! capability in plugin.toml); in native tests they use [`crate::testing::FakeHost`].

use wagate_model::send::SendMessage;
use wagate_model::{Chat, Message, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{HostError, Level};
    use crate::bindings::wagate::plugin::{chats, clock, kv, log, media, messages, sessions, types};

    fn error(e: types::Error) -> HostError {
        match e {
            types::Error::Invalid(m) => HostError::Invalid(m),
            types::Error::QuotaExceeded(m) => HostError::QuotaExceeded(m),
            types::Error::Unavailable(m) => HostError::Unavailable(m),
        }
    }

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::log(level, message)
    }
    pub fn now_ms() -> u64 {
        clock::now_ms()
    }
    pub fn kv_get(key: &str) -> Option<String> {
        kv::get(key)
    }
    pub fn kv_set(key: &str, value: &str) -> Result<(), HostError> {
        kv::set(key, value).map_err(error)
    }
    pub fn kv_delete(key: &str) {
        kv::delete(key)
    }
    pub fn sessions() -> Result<String, HostError> {
        sessions::all().map_err(error)
    }
    pub fn chats(session: &str, limit: u32, offset: u32) -> Result<String, HostError> {
        chats::recent(session, limit, offset).map_err(error)
    }
    pub fn chat(id: &str) -> Result<Option<String>, HostError> {
        chats::get(id).map_err(error)
    }
    pub fn history(session: &str, chat: &str, limit: u32, offset: u32) -> Result<String, HostError> {
        chats::history(session, chat, limit, offset).map_err(error)
    }
    pub fn media_link(session: &str, message: &str, ttl_secs: u32) -> Result<Option<String>, HostError> {
        media::link(session, message, ttl_secs).map_err(error)
    }
    pub fn queue(session: &str, request: super::Queued) -> Result<(), HostError> {
        use super::Queued;
        match request {
            Queued::Send(m) => messages::send(session, &serde_json::to_string(&m).expect("model types serialise")),
            Queued::React { message, emoji } => messages::react(session, &message, &emoji),
            Queued::Edit { message, text } => messages::edit(session, &message, &text),
            Queued::Revoke { message } => messages::revoke(session, &message),
        }
        .map_err(error)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HostError, Level};
    use crate::testing::with_host;

    pub fn log(level: Level, message: &str) {
        with_host(|h| h.logs.push((level, message.to_owned())))
    }
    pub fn now_ms() -> u64 {
        with_host(|h| h.now_ms)
    }
    pub fn kv_get(key: &str) -> Option<String> {
        with_host(|h| h.kv.get(key).cloned())
    }
    pub fn kv_set(key: &str, value: &str) -> Result<(), HostError> {
        with_host(|h| {
            h.kv.insert(key.to_owned(), value.to_owned());
        });
        Ok(())
    }
    pub fn kv_delete(key: &str) {
        with_host(|h| {
            h.kv.remove(key);
        })
    }
    pub fn sessions() -> Result<String, HostError> {
        with_host(|h| Ok(text(&h.sessions)))
    }
    pub fn chats(session: &str, limit: u32, offset: u32) -> Result<String, HostError> {
        with_host(|h| Ok(text(&page(h.chats.get(session), limit, offset))))
    }
    pub fn chat(id: &str) -> Result<Option<String>, HostError> {
        with_host(|h| Ok(h.chats.values().flatten().find(|c| c.id == id).map(text)))
    }
    pub fn history(_session: &str, chat: &str, limit: u32, offset: u32) -> Result<String, HostError> {
        with_host(|h| Ok(text(&page(h.history.get(chat), limit, offset))))
    }
    pub fn media_link(_session: &str, message: &str, _ttl_secs: u32) -> Result<Option<String>, HostError> {
        with_host(|h| Ok(h.media_links.get(message).cloned()))
    }
    pub fn queue(session: &str, request: super::Queued) -> Result<(), HostError> {
        with_host(|h| h.queued.push((session.to_owned(), request)));
        Ok(())
    }

    fn text<T: serde::Serialize + ?Sized>(value: &T) -> String {
        serde_json::to_string(value).expect("model types serialise")
    }

    fn page<T: Clone>(list: Option<&Vec<T>>, limit: u32, offset: u32) -> Vec<T> {
        list.map(|l| l.iter().skip(offset as usize).take(limit as usize).cloned().collect()).unwrap_or_default()
    }
}

pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}
pub fn info(message: &str) {
    imp::log(Level::Info, message)
}
pub fn now_ms() -> u64 {
    imp::now_ms()
}
pub fn kv_get(key: &str) -> Option<String> {
    imp::kv_get(key)
}
pub fn kv_set(key: &str, value: &str) -> Result<(), HostError> {
    imp::kv_set(key, value)
}
pub fn kv_delete(key: &str) {
    imp::kv_delete(key)
}

/// What a plugin queued through the `messages` interface, as [`crate::testing::FakeHost`]
/// records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    Send(SendMessage),
    React { message: String, emoji: String },
    Edit { message: String, text: String },
    Revoke { message: String },
}

/// A link to the file of message `message` (our id) of `session` that a browser can load
/// without credentials (a path on the gateway), valid `ttl_secs` seconds (0: the gateway's
/// default); `None` when the message has no stored file. Capability `media:read`.
pub fn media_link(session: &str, message: &str, ttl_secs: u32) -> Result<Option<String>, HostError> {
    imp::media_link(session, message, ttl_secs)
}

/// What a frontend can load for `message`'s file (`<img src>`, an audio player): a link from
/// [`media_link`] with the gateway's default lifetime, or `None` when the message has no
/// stored file. Capability `media:read`.
pub fn browser_media_url(message: &Message) -> Option<String> {
    message.media_url.as_ref()?;
    media_link(&message.session_id, &message.id, 0).ok().flatten()
}

/// Queues a message of any kind from `session` (capability `messages:send`, from the `bot`
/// and `client-events` hooks): checked now, sent after the hook returns, after its returned
/// actions. A refused send (the session is not connected, a bad file) is logged by the
/// gateway and, during a client event, sent to the socket as an `error` event.
pub fn send(session: &str, message: &SendMessage) -> Result<(), HostError> {
    imp::queue(session, Queued::Send(message.clone()))
}
/// Sets the session's reaction to a message (our id); `""` takes it back.
pub fn react(session: &str, message: &str, emoji: &str) -> Result<(), HostError> {
    imp::queue(session, Queued::React { message: message.to_owned(), emoji: emoji.to_owned() })
}
/// A new text for a text message the session sent.
pub fn edit(session: &str, message: &str, text: &str) -> Result<(), HostError> {
    imp::queue(session, Queued::Edit { message: message.to_owned(), text: text.to_owned() })
}
/// Deletes a message the session sent, for everyone.
pub fn revoke(session: &str, message: &str) -> Result<(), HostError> {
    imp::queue(session, Queued::Revoke { message: message.to_owned() })
}

/// Why a read of the host failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// A value the host does not accept (a key too long, ...).
    Invalid(String),
    /// A limit of the tenant was reached (kv bytes, keys).
    QuotaExceeded(String),
    /// The host cannot answer now (its store is unavailable); a later call may succeed.
    Unavailable(String),
    /// The answer does not have the model's shape: the gateway speaks a model this SDK does
    /// not (rebuild the plugin against the gateway's SDK).
    Contract(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Invalid(why) => write!(f, "invalid: {why}"),
            HostError::QuotaExceeded(why) => write!(f, "{why}"),
            HostError::Unavailable(why) => write!(f, "host unavailable: {why}"),
            HostError::Contract(why) => write!(f, "host answer does not match the model: {why}"),
        }
    }
}

impl std::error::Error for HostError {}

fn typed<T: serde::de::DeserializeOwned>(r: Result<String, HostError>) -> Result<T, HostError> {
    let text = r?;
    serde_json::from_str(&text).map_err(|e| HostError::Contract(e.to_string()))
}

/// The tenant's sessions (those the calling socket's user may use, during a client event).
pub fn sessions() -> Result<Vec<Session>, HostError> {
    typed(imp::sessions())
}
/// Chats of a session, most recent first.
pub fn chats(session: &str, limit: u32, offset: u32) -> Result<Vec<Chat>, HostError> {
    typed(imp::chats(session, limit, offset))
}
/// One chat of the tenant by id (its `session_id` says whose); `None` when no session has it.
pub fn chat(id: &str) -> Result<Option<Chat>, HostError> {
    match imp::chat(id)? {
        Some(text) => typed(Ok(text)).map(Some),
        None => Ok(None),
    }
}
/// Now as ISO 8601 UTC with milliseconds (`2026-01-15T10:30:00.000Z`), the gateway's format.
pub fn now_iso() -> String {
    iso8601(imp::now_ms())
}
/// Milliseconds since the Unix epoch as ISO 8601 UTC with milliseconds.
pub fn iso8601(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
/// Messages of a chat, newest first.
pub fn history(session: &str, chat: &str, limit: u32, offset: u32) -> Result<Vec<Message>, HostError> {
    typed(imp::history(session, chat, limit, offset))
}
