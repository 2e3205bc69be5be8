//! What the rules bot remembers between messages besides what every bot keeps
//! (`wagate_plugin_sdk::bot`): contacts it has welcomed, when it last answered a chat (and a
//! contact under a rule), and when it last sent the away message in a chat.

pub use wagate_plugin_sdk::bot::memory::{due, mark, never};

/// Where the moment `contact` first wrote to `session` is kept.
pub fn first_seen(session: &str, contact: &str) -> String {
    format!("seen:{session}:{contact}")
}

/// Where the bot's last answer in a chat is kept.
pub fn chat_answered(session: &str, chat: &str) -> String {
    format!("last:{session}:{chat}")
}

/// Where rule `rule`'s last answer to `contact` is kept.
pub fn rule_answered(rule: usize, session: &str, contact: &str) -> String {
    format!("rule:{rule}:{session}:{contact}")
}

/// Where the last away message in a chat is kept.
pub fn away_sent(session: &str, chat: &str) -> String {
    format!("away:{session}:{chat}")
}
