//! Canonical events: what happened, after the store committed it (the journal numbers them
//! per tenant and keeps them durably), carried by the bus to the stats publisher, the plugins and the sockets. The
//! event types are the shared model's (`wagate_model::events`).

mod bus;
mod journal;
pub mod retention;
mod stats;
mod tail;

pub use bus::{EventBus, Subscription};
pub use journal::{EventDraft, Journal};
pub use stats::spawn_stats_publisher;
pub use tail::Tail;

pub use wagate_model::Event;
pub use wagate_model::events::{
    ChatRead, ChatUpdated, EventBody, GroupParticipants, GroupUpdated, MessageEdited, MessageEvent, MessageMedia, MessageReaction, MessageRevoked,
    MessageStatusChanged, PollVote, SessionConnected, SessionDisconnected, SessionError, SessionPairingCode, SessionQr,
    SessionStatusChanged, TenantStatsUpdated, WebhookDisabled,
};
pub use wagate_model::time::iso;
