//! What the bot remembers between messages, kept in the plugin's key-value state so it
//! survives a reload and a restart: contacts it has welcomed, when it last answered a chat
//! (and a contact under a rule), and how many answers a chat had this minute.

use wagate_plugin_sdk::host;

fn read_u64(key: &str) -> Option<u64> {
    host::kv_get(key).and_then(|v| v.parse().ok())
}

fn write(key: &str, value: &str) -> bool {
    match host::kv_set(key, value) {
        Ok(()) => true,
        Err(e) => {
            host::log(host::Level::Warn, &format!("auto-reply could not record '{key}': {e}"));
            false
        }
    }
}

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

/// Where the last message a person (not a bot) sent in a chat is kept.
pub fn person_wrote(session: &str, chat: &str) -> String {
    format!("human:{session}:{chat}")
}

/// Where the last away message in a chat is kept.
pub fn away_sent(session: &str, chat: &str) -> String {
    format!("away:{session}:{chat}")
}

/// True when nothing was recorded under `key` yet.
pub fn never(key: &str) -> bool {
    host::kv_get(key).is_none()
}

/// True when nothing was recorded under `key` within the last `secs` seconds (always for 0).
pub fn due(key: &str, secs: u64) -> bool {
    secs == 0 || read_u64(key).is_none_or(|t| host::now_ms().saturating_sub(t) >= secs * 1000)
}

/// Records now under `key`. False when the state has no room for it: an answer that cannot be
/// remembered is not sent, so a full state never makes the bot answer without end.
pub fn mark(key: &str) -> bool {
    write(key, &host::now_ms().to_string())
}

/// Takes `n` answers from the chat's allowance for the current minute (`per_minute`; 0 means
/// no cap); false, taking nothing, when they do not fit.
pub fn within_rate(session: &str, chat: &str, per_minute: u32, n: u32) -> bool {
    if per_minute == 0 {
        return true;
    }
    let key = format!("rate:{session}:{chat}");
    let minute = host::now_ms() / 60_000;
    let used = host::kv_get(&key)
        .and_then(|v| {
            let (m, count) = v.split_once(',')?;
            (m.parse::<u64>().ok()? == minute).then(|| count.parse::<u32>().ok())?
        })
        .unwrap_or(0);
    if used + n > per_minute {
        return false;
    }
    write(&key, &format!("{minute},{}", used + n))
}
