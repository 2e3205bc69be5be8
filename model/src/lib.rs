//! The canonical model of wagate, in one place: the records the gateway stores and serves
//! (sessions, chats, messages), their states, and the events about them. The gateway builds
//! every REST body, event and plugin payload from these types, and plugins read them back
//! through `wagate-plugin-sdk`, which re-exports this crate. Wire names (camelCase fields,
//! SCREAMING_SNAKE statuses, ISO 8601 timestamps with milliseconds) are fixed here once.

pub mod events;
mod groups;
mod queue;
mod records;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod send;
mod status;
pub mod time;

pub use events::{Event, EventBody};
pub use groups::{Group, GroupInvite, GroupJoin, GroupParticipant, ParticipantResult};
pub use queue::{PolicySource, QueueState, QueueWait, SendPolicy, SendQueue, WarmUp};
pub use records::{
    Chat, ContactCard, ContactInfo, LinkPreview, Liveness, Location, MediaInfo, Message, MessageOrigin, NumberCheck, Poll, PollOption,
    Quoted, Reaction, Session, SessionDetail, TenantStats,
};
pub use status::{
    ChatState, Direction, DisconnectReason, GroupField, GroupRole, JoinStatus, MessageStatus, MessageType,
    ParticipantAction, Presence, SessionStatus,
};

#[cfg(test)]
mod tests;
