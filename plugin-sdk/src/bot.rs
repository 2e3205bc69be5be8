//! What every bot that answers WhatsApp messages must get right, whatever it answers with:
//! which sessions and chats it serves, never its own number's messages nor another bot's,
//! stepping back while a person handles a chat, and a cap on answers per chat so two bots
//! cannot answer each other without end. State lives in the plugin's `kv` (capability `kv`),
//! so it survives a reload and a restart; time is the host's clock (capability `clock`).

use crate::{Chat, Event, EventBody, Message, MessageOrigin, host};

/// A bot's manners, from its config.
#[derive(Debug, Clone, Default)]
pub struct Etiquette {
    /// Only these sessions; all when `None`.
    pub sessions: Option<Vec<String>>,
    /// Answer in group chats too (direct chats only otherwise).
    pub groups: bool,
    /// Contacts never answered: phone numbers (any formatting) or jids.
    pub ignore: Vec<String>,
    /// No answer in a chat for this many minutes after a person wrote there from the
    /// session (through the API, a frontend or the phone); 0: never steps back.
    pub takeover_mins: u64,
    /// Answers per chat per minute at most (0: no cap).
    pub max_replies_per_minute: u32,
}

/// An inbound message a bot may answer.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'e> {
    pub session: &'e str,
    pub message: &'e Message,
    pub chat: &'e Chat,
}

impl Inbound<'_> {
    /// Where an answer goes: the group in a group, the contact in a direct chat.
    pub fn reply_to(&self) -> String {
        if self.chat.is_group { self.chat.jid.clone() } else { self.message.from_jid.clone() }
    }

    /// The sender, as [`contact_key`] compares contacts.
    pub fn contact(&self) -> String {
        contact_key(self.message.from_number.as_deref().unwrap_or(&self.message.from_jid))
    }
}

impl Etiquette {
    /// The inbound message of `event` if the bot may answer it. Also notes, from
    /// `message.sent`, that a person wrote in a chat (the takeover).
    pub fn inbound<'e>(&self, event: &'e Event) -> Option<Inbound<'e>> {
        let session = event.session_id.as_deref()?;
        if self.sessions.as_ref().is_some_and(|s| !s.iter().any(|x| x == session)) {
            return None;
        }
        let received = match &event.body {
            EventBody::MessageReceived(received) => received,
            EventBody::MessageSent(sent) => {
                if sent.message.origin.as_ref().is_some_and(MessageOrigin::is_person) && self.takeover_mins > 0 {
                    memory::mark(&person_wrote(session, &sent.chat.id));
                }
                return None;
            }
            _ => return None,
        };
        let (message, chat) = (&received.message, &received.chat);
        // Never the number's own messages, nor what one of the gateway's bots wrote from
        // another session (two bots would answer each other).
        if message.from_me
            || matches!(message.origin, Some(MessageOrigin::Bot { .. }))
            || (chat.is_group && !self.groups)
            || self.ignored(message)
            || !memory::due(&person_wrote(session, &chat.id), self.takeover_mins * 60)
        {
            return None;
        }
        Some(Inbound { session, message, chat })
    }

    /// Takes `n` answers from the chat's allowance for this minute; false (taking nothing,
    /// and logging it) when they do not fit.
    pub fn take_answers(&self, session: &str, chat: &str, n: usize) -> bool {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        if memory::within_rate(&format!("rate:{session}:{chat}"), self.max_replies_per_minute, n) {
            return true;
        }
        host::log(host::Level::Warn, &format!("chat {chat} reached its answers per minute"));
        false
    }

    fn ignored(&self, message: &Message) -> bool {
        let who = [Some(message.from_jid.as_str()), message.from_number.as_deref()];
        self.ignore.iter().any(|i| who.iter().flatten().any(|w| contact_key(w) == contact_key(i)))
    }
}

/// Where the last message a person (not a bot) sent in a chat is kept.
fn person_wrote(session: &str, chat: &str) -> String {
    format!("human:{session}:{chat}")
}

/// The user part of a jid (`628123` of `628123:4@s.whatsapp.net`); a phone number as it is.
pub fn jid_user(s: &str) -> &str {
    s.split(['@', ':']).next().unwrap_or_default()
}

/// The digits of a phone number, or a jid's user part: how contacts are compared.
pub fn contact_key(s: &str) -> String {
    let user = jid_user(s);
    let digits: String = user.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() { user.to_owned() } else { digits }
}

/// Moments and counts kept in `kv`.
pub mod memory {
    use crate::host;

    fn read_u64(key: &str) -> Option<u64> {
        host::kv_get(key).and_then(|v| v.parse().ok())
    }

    /// Writes `value` under `key`; false (logged) when the state has no room for it.
    pub fn write(key: &str, value: &str) -> bool {
        match host::kv_set(key, value) {
            Ok(()) => true,
            Err(e) => {
                host::log(host::Level::Warn, &format!("could not record '{key}': {e}"));
                false
            }
        }
    }

    /// True when nothing was recorded under `key` yet.
    pub fn never(key: &str) -> bool {
        host::kv_get(key).is_none()
    }

    /// True when nothing was recorded under `key` within the last `secs` seconds (always for 0).
    pub fn due(key: &str, secs: u64) -> bool {
        secs == 0 || read_u64(key).is_none_or(|t| host::now_ms().saturating_sub(t) >= secs * 1000)
    }

    /// Records now under `key`. False when the state has no room for it: an answer that cannot
    /// be remembered should not be sent, so a full state never makes a bot answer without end.
    pub fn mark(key: &str) -> bool {
        write(key, &host::now_ms().to_string())
    }

    /// Takes `n` from the allowance of `per_minute` (0: no cap) counted under `key` for the
    /// current minute; false, taking nothing, when they do not fit.
    pub fn within_rate(key: &str, per_minute: u32, n: u32) -> bool {
        if per_minute == 0 {
            return true;
        }
        let minute = host::now_ms() / 60_000;
        let used = host::kv_get(key)
            .and_then(|v| {
                let (m, count) = v.split_once(',')?;
                (m.parse::<u64>().ok()? == minute).then(|| count.parse::<u32>().ok())?
            })
            .unwrap_or(0);
        if used + n > per_minute {
            return false;
        }
        write(key, &format!("{minute},{}", used + n))
    }
}
