//! A session's send queue: how it paces what it hands to WhatsApp (the policy a tenant sets),
//! and what it is doing right now (the view REST serves and `session.queue` carries).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time;

/// How a session paces its sends. Every send goes through it: REST, bots, plugin actions.
/// A field left out of a request takes its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SendPolicy {
    /// Messages handed to WhatsApp per minute, evenly spaced; 0 = no rate limit.
    pub per_minute: u32,
    /// Seconds between two messages to the same chat; 0 = none. A chat that must wait does
    /// not hold up the others.
    pub per_recipient_secs: u32,
    /// A random extra delay of up to this many milliseconds before each message.
    pub jitter_ms: u32,
    /// Shows "typing..." in the chat before each message, for a time that grows with its
    /// text (`humanlikeMsPerChar`, within 1 to 8 seconds).
    pub humanlike: bool,
    /// Typing time per character of the text in humanlike mode.
    pub humanlike_ms_per_char: u32,
    /// A cap for newly linked numbers: at most `perDay` messages in any 24 hours during the
    /// first `days` days after the device was linked.
    pub warm_up: Option<WarmUp>,
    /// Messages waiting to be handed to WhatsApp before new sends are refused (REST: 429 with
    /// `Retry-After`; a bot's send is dropped and counted).
    pub max_depth: u32,
}

impl Default for SendPolicy {
    fn default() -> Self {
        Self {
            per_minute: 0,
            per_recipient_secs: 0,
            jitter_ms: 0,
            humanlike: false,
            humanlike_ms_per_char: 50,
            warm_up: None,
            max_depth: 1_000,
        }
    }
}

/// The warm-up cap of a newly linked number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmUp {
    /// Days after linking the cap applies.
    pub days: u32,
    /// Messages in any 24 hours while it does.
    pub per_day: u32,
}

/// What the first message in the queue is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QueueWait {
    /// The session is not connected; the queue goes out once it is.
    NotConnected,
    /// The session's rate (`perMinute`) or its jitter.
    Rate,
    /// Every waiting chat had a message too recently (`perRecipientSecs`).
    Recipient,
    /// The warm-up cap of the last 24 hours is used up.
    WarmUp,
    /// "typing..." is showing in the chat before the message goes.
    Typing,
    /// Each waiting chat's next message has a file still being fetched.
    Media,
}

/// A session's send queue right now: `GET /api/v1/sessions/{id}/queue`, and the body of
/// `session.queue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueState {
    /// Messages accepted and not yet handed to WhatsApp.
    pub depth: u32,
    pub max_depth: u32,
    /// Null when nothing waits, or the next message is going out now.
    pub waiting_for: Option<QueueWait>,
    /// When the next message is due to go (null when not known: not connected, or empty).
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub next_send_at: Option<DateTime<Utc>>,
    /// When the message that has waited longest was accepted.
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/sessions/{id}/queue`: the policy in force, where it comes from, and the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendQueue {
    pub policy: SendPolicy,
    /// `session`: set for this session; `default`: the gateway's default.
    pub policy_source: PolicySource,
    #[serde(flatten)]
    pub state: QueueState,
    /// Messages handed to WhatsApp in the last minute and the last 24 hours.
    pub sent_last_minute: u32,
    pub sent_last_day: u32,
    /// When the device was linked, and until when the warm-up cap applies (null: no cap).
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub linked_at: Option<DateTime<Utc>>,
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub warm_up_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    Session,
    Default,
}
