//! The canonical model every layer speaks. Sessions, chats, messages, their states and the
//! events about them live in the `wagate-model` crate, shared with plugins; the host adds what
//! only it sees: tenants, ids and keys, jids.

mod ids;
mod jid;

pub use ids::{IdError, SessionKey, new_id, validate_id};
pub use jid::{Jid, JidError};
pub use wagate_model::time;
pub use wagate_model::{
    Chat, ChatState, ContactCard, ContactInfo, Direction, DisconnectReason, Group, GroupField, GroupInvite, GroupJoin,
    GroupParticipant, GroupRole, JoinStatus, LinkPreview, Liveness, Location, MediaInfo, Message, MessageOrigin, MessageStatus,
    MessageType, NumberCheck, ParticipantAction, ParticipantResult, PolicySource, Poll, PollOption, Presence, QueueState,
    QueueWait, Quoted, Reaction, SendPolicy, SendQueue, Session, SessionDetail, SessionStatus, TenantStats, WarmUp,
};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A session's key within the gateway (a trait: `Session` is the shared model's type).
pub trait Keyed {
    fn key(&self) -> SessionKey;
}

impl Keyed for Session {
    fn key(&self) -> SessionKey {
        SessionKey::new(&self.tenant_id, &self.id)
    }
}

/// A tenant as the operator sees it. Secrets are never part of this view.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub jwt: TenantJwt,
    /// Which sessions user tokens without the `admin` role may use (docs/auth.md).
    pub session_access: crate::auth::SessionAccess,
    /// The operator's overrides of the configured quotas; absent limits are the defaults.
    pub quotas: crate::quotas::LimitOverrides,
    #[serde(serialize_with = "time::millis")]
    pub created_at: DateTime<Utc>,
}

/// How user tokens of a tenant are verified, besides the HS256 secret every tenant has.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantJwt {
    /// PEM public key (RSA or EC) accepted for RS*/PS*/ES* tokens.
    pub public_key_pem: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// The claim that names the tenant in a token; `tenant` unless configured.
    pub tenant_claim: String,
}
