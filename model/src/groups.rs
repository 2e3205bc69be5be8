//! WhatsApp groups as the gateway hands them out: the group with its members, what one
//! member change did, an invite link and where a join by invite ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::status::{GroupRole, JoinStatus};
use crate::time;

/// A group the session's number is a member of (`GET .../groups/{group}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// `<digits>@g.us`.
    pub jid: String,
    /// The session's chat with the group, the one its messages are in.
    pub chat_id: Option<String>,
    pub subject: String,
    pub description: Option<String>,
    /// Who created it, where WhatsApp tells.
    pub owner: Option<String>,
    #[serde(default, serialize_with = "time::millis_opt", deserialize_with = "time::read_opt")]
    pub created_at: Option<DateTime<Utc>>,
    /// Only admins may write.
    pub announce: bool,
    /// Only admins may change the subject and description.
    pub locked: bool,
    pub size: u32,
    pub participants: Vec<GroupParticipant>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupParticipant {
    pub jid: String,
    /// `+<digits>`, where WhatsApp shows the member's number.
    pub number: Option<String>,
    /// The member's LID (`<digits>@lid`), where known.
    pub lid: Option<String>,
    pub role: GroupRole,
}

/// What a member change did to one of the members it named: WhatsApp answers per member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ParticipantResult {
    pub jid: String,
    pub ok: bool,
    /// Why WhatsApp refused the change for this member (not on WhatsApp, already a member,
    /// privacy settings that only allow an invite, ...).
    pub error: Option<String>,
}

/// A group's invite link; revoking it makes a new code and voids the old one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupInvite {
    pub group_jid: String,
    pub code: String,
    /// `https://chat.whatsapp.com/<code>`.
    pub url: String,
}

/// Where a join by invite ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupJoin {
    pub group_jid: String,
    pub status: JoinStatus,
    /// The group as the session sees it now; absent while an admin has to approve the join.
    pub group: Option<Group>,
}
