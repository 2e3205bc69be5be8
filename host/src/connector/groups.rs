//! Groups on the WhatsApp side: what a connection can do to them, and what it reports of
//! them. Every connection is also a [`GroupOps`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::ConnectorError;
use crate::model::{GroupRole, Jid, ParticipantAction};

/// A group as the network describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    pub jid: Jid,
    pub subject: String,
    pub description: Option<String>,
    pub owner: Option<Jid>,
    pub created_at: Option<DateTime<Utc>>,
    pub announce: bool,
    pub locked: bool,
    pub members: Vec<Member>,
}

/// A member, by phone number where the network tells it (a LID-addressed group names its
/// members by LID), with the LID beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub jid: Jid,
    pub lid: Option<Jid>,
    pub role: GroupRole,
}

/// What a member change did to one member; `error` is WhatsApp's reason when it refused.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberChange {
    pub jid: Jid,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JoinOutcome {
    Joined(Jid),
    /// The group asks its admins to approve new members.
    Pending(Jid),
}

/// Something another member did to a group (the connector leaves out our own doings: the
/// gateway records those when it does them).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEvent {
    pub group: Jid,
    pub by: Option<Jid>,
    pub change: GroupChange,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GroupChange {
    Members { action: ParticipantAction, jids: Vec<Jid> },
    Subject(String),
    Description(Option<String>),
}

#[async_trait]
pub trait GroupOps: Send + Sync {
    /// Every group the account is a member of.
    async fn groups(&self) -> Result<Vec<GroupInfo>, ConnectorError>;
    /// `None` when the group does not exist or the account is not a member.
    async fn group(&self, group: &Jid) -> Result<Option<GroupInfo>, ConnectorError>;
    async fn create_group(&self, subject: &str, members: &[Jid]) -> Result<GroupInfo, ConnectorError>;
    async fn set_subject(&self, group: &Jid, subject: &str) -> Result<(), ConnectorError>;
    /// `None` removes the description.
    async fn set_description(&self, group: &Jid, description: Option<&str>) -> Result<(), ConnectorError>;
    /// One answer per member named, in the order named.
    async fn change_members(
        &self,
        group: &Jid,
        action: ParticipantAction,
        members: &[Jid],
    ) -> Result<Vec<MemberChange>, ConnectorError>;
    /// The group's invite code; `reset` voids the current one and makes a new one.
    async fn invite_code(&self, group: &Jid, reset: bool) -> Result<String, ConnectorError>;
    async fn join_group(&self, code: &str) -> Result<JoinOutcome, ConnectorError>;
    async fn leave_group(&self, group: &Jid) -> Result<(), ConnectorError>;
}
