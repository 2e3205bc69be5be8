//! Groups through whatsapp-rust: the library's group calls behind [`GroupOps`], and its group
//! metadata and notifications in our terms (pure functions, unit-tested in `tests.rs`).

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use whatsapp_rust::request::IqError;
use whatsapp_rust::types::events::GroupUpdate;
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::{
    GroupCreateOptions, GroupDescription, GroupError, GroupMetadata, GroupParticipantOptions, GroupSubject,
    JoinGroupResult, ParticipantChangeResponse, ParticipantType, PreviousDescription,
};

use super::mapping::Me;
use super::{WhatsAppConnection, wa_jid};
use crate::connector::ConnectorError;
use crate::connector::groups::{GroupChange, GroupEvent, GroupInfo, GroupOps, JoinOutcome, Member, MemberChange};
use crate::model::{GroupRole, Jid, ParticipantAction};

fn ours(jid: &whatsapp_rust::Jid) -> Option<Jid> {
    Jid::parse(&jid.to_string()).ok()
}

/// A member as a phone number where the library knows it (LID-addressed groups name members
/// by LID), with the LID beside it.
fn person(jid: &whatsapp_rust::Jid, phone: Option<&whatsapp_rust::Jid>, lid: Option<&whatsapp_rust::Jid>) -> Option<(Jid, Option<Jid>)> {
    let jid = ours(jid)?;
    let lid = lid.and_then(ours).or_else(|| jid.is_lid().then(|| jid.clone()));
    let phone = phone.and_then(ours).filter(|_| jid.is_lid());
    Some((phone.unwrap_or(jid), lid))
}

pub(super) fn group_info(meta: &GroupMetadata) -> Option<GroupInfo> {
    Some(GroupInfo {
        jid: ours(&meta.id)?,
        subject: meta.subject.clone(),
        description: meta.description.clone().filter(|d| !d.is_empty()),
        owner: meta.creator_pn.as_ref().or(meta.creator.as_ref()).and_then(ours),
        created_at: meta.creation_time.and_then(|t| Utc.timestamp_opt(t as i64, 0).single()),
        announce: meta.is_announcement,
        locked: meta.is_locked,
        members: meta
            .participants
            .iter()
            .filter_map(|p| {
                let (jid, lid) = person(&p.jid, p.phone_number.as_ref(), p.lid.as_ref())?;
                let role = match p.participant_type {
                    ParticipantType::SuperAdmin => GroupRole::Superadmin,
                    ParticipantType::Admin => GroupRole::Admin,
                    _ => GroupRole::Member,
                };
                Some(Member { jid, lid, role })
            })
            .collect(),
    })
}

fn member_changes(found: &[ParticipantChangeResponse]) -> Vec<MemberChange> {
    found
        .iter()
        .filter_map(|r| {
            let (jid, _) = person(&r.jid, r.phone_number.as_ref(), None)?;
            Some(MemberChange { jid, error: r.error.clone().map(|code| format!("WhatsApp refused it ({code})")) })
        })
        .collect()
}

/// A group notification, unless it reports what this account did itself (the gateway has
/// recorded that when it did it) or a change the canonical model has no event for.
pub(super) fn group_event(u: &GroupUpdate, me: &Me) -> Option<GroupEvent> {
    let by = u.participant.as_ref().and_then(|p| person(p, u.participant_pn.as_ref(), None)).map(|(j, _)| j);
    if by.as_ref().and_then(|b| b.phone_number()).is_some_and(|n| me.phone.as_deref() == Some(n.as_str())) {
        return None;
    }
    let members = |action, list: &[GroupParticipantInfo]| GroupChange::Members {
        action,
        jids: list.iter().filter_map(|p| person(&p.jid, p.phone_number.as_ref(), None).map(|(j, _)| j)).collect(),
    };
    let change = match &u.action {
        GroupNotificationAction::Add { participants, .. } => members(ParticipantAction::Add, participants),
        GroupNotificationAction::Remove { participants, .. } => members(ParticipantAction::Remove, participants),
        GroupNotificationAction::Promote { participants } => members(ParticipantAction::Promote, participants),
        GroupNotificationAction::Demote { participants } => members(ParticipantAction::Demote, participants),
        GroupNotificationAction::Subject { subject, .. } => GroupChange::Subject(subject.clone()),
        GroupNotificationAction::Description { description, .. } => GroupChange::Description(description.clone()),
        _ => return None,
    };
    Some(GroupEvent { group: ours(&u.group_jid)?, by, change, timestamp: u.timestamp })
}

/// The server's answer for a group the account is not in (or that does not exist).
fn not_a_member(e: &GroupError) -> bool {
    matches!(e, GroupError::Iq(IqError::ServerError { code: 401 | 403 | 404 | 406, .. }))
}

#[async_trait]
impl GroupOps for WhatsAppConnection {
    async fn groups(&self) -> Result<Vec<GroupInfo>, ConnectorError> {
        self.ready()?;
        let all = self.client.groups().get_participating().await.map_err(|e| self.failed(e))?;
        let mut found: Vec<GroupInfo> = all.values().filter_map(group_info).collect();
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.jid.as_str().cmp(b.jid.as_str())));
        Ok(found)
    }

    async fn group(&self, group: &Jid) -> Result<Option<GroupInfo>, ConnectorError> {
        self.ready()?;
        match self.client.groups().get_metadata(&wa_jid(group)?).await {
            Ok(meta) => Ok(group_info(&meta)),
            Err(e) if not_a_member(&e) => Ok(None),
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn create_group(&self, subject: &str, members: &[Jid]) -> Result<GroupInfo, ConnectorError> {
        self.ready()?;
        let participants =
            members.iter().map(|m| wa_jid(m).map(GroupParticipantOptions::new)).collect::<Result<Vec<_>, _>>()?;
        let options = GroupCreateOptions::builder().subject(subject).participants(participants).finish();
        let created = self.client.groups().create_group(options).await.map_err(|e| self.failed(e))?;
        group_info(&created.metadata).ok_or_else(|| ConnectorError::Rejected("WhatsApp answered with an unreadable group".into()))
    }

    async fn set_subject(&self, group: &Jid, subject: &str) -> Result<(), ConnectorError> {
        self.ready()?;
        let subject = GroupSubject::new(subject).map_err(|e| ConnectorError::Rejected(e.to_string()))?;
        self.client.groups().set_subject(wa_jid(group)?, subject).await.map_err(|e| self.failed(e))
    }

    async fn set_description(&self, group: &Jid, description: Option<&str>) -> Result<(), ConnectorError> {
        self.ready()?;
        let description =
            description.map(GroupDescription::new).transpose().map_err(|e| ConnectorError::Rejected(e.to_string()))?;
        self.client
            .groups()
            .set_description(wa_jid(group)?, description, PreviousDescription::Resolve)
            .await
            .map_err(|e| self.failed(e))
    }

    async fn change_members(
        &self,
        group: &Jid,
        action: ParticipantAction,
        members: &[Jid],
    ) -> Result<Vec<MemberChange>, ConnectorError> {
        self.ready()?;
        let (g, jids) = (wa_jid(group)?, members.iter().map(wa_jid).collect::<Result<Vec<_>, _>>()?);
        let groups = self.client.groups();
        let found = match action {
            ParticipantAction::Add => groups.add_participants(g, &jids).await,
            ParticipantAction::Remove => groups.remove_participants(g, &jids).await,
            ParticipantAction::Promote => groups.promote_participants(g, &jids).await,
            ParticipantAction::Demote => groups.demote_participants(g, &jids).await,
        }
        .map_err(|e| self.failed(e))?;
        Ok(member_changes(&found))
    }

    async fn invite_code(&self, group: &Jid, reset: bool) -> Result<String, ConnectorError> {
        self.ready()?;
        let link = self.client.groups().get_invite_link(wa_jid(group)?, reset).await.map_err(|e| self.failed(e))?;
        Ok(link.rsplit('/').next().unwrap_or(&link).to_owned())
    }

    async fn join_group(&self, code: &str) -> Result<JoinOutcome, ConnectorError> {
        self.ready()?;
        let joined = self.client.groups().join_with_invite_code(code).await.map_err(|e| self.failed(e))?;
        let unreadable = || ConnectorError::Rejected("WhatsApp answered with an unreadable group".into());
        Ok(match joined {
            JoinGroupResult::Joined(jid) => JoinOutcome::Joined(ours(&jid).ok_or_else(unreadable)?),
            JoinGroupResult::PendingApproval(jid) => JoinOutcome::Pending(ours(&jid).ok_or_else(unreadable)?),
        })
    }

    async fn leave_group(&self, group: &Jid) -> Result<(), ConnectorError> {
        self.ready()?;
        self.client.groups().leave(wa_jid(group)?).await.map_err(|e| self.failed(e))
    }
}
