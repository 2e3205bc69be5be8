//! Groups on the simulated network: who is in them and with what standing, their subject,
//! description and invite code, and the rules WhatsApp applies to changing them. The session's
//! connection changes them as the account; the phone side (`/api/v1/sim/.../groups`) changes
//! them as other members, which reaches the session as a [`GroupEvent`].

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::world::SimError;
use super::{SimConnection, codes};
use crate::connector::ConnectorError;
use crate::connector::groups::{GroupChange, GroupInfo, GroupOps, JoinOutcome, Member, MemberChange};
use crate::model::{GroupRole, Jid, ParticipantAction};

/// Groups one session's simulated network holds, at most this many (a test makes a few).
const MAX_GROUPS: usize = 256;

#[derive(Debug, Clone)]
pub(super) struct SimGroup {
    subject: String,
    description: Option<String>,
    owner: Jid,
    created_at: DateTime<Utc>,
    members: Vec<(Jid, GroupRole)>,
    code: String,
    /// New members by invite wait for an admin.
    approval: bool,
}

impl SimGroup {
    fn role(&self, jid: &Jid) -> Option<GroupRole> {
        self.members.iter().find(|(j, _)| j == jid).map(|(_, r)| *r)
    }

    fn info(&self, jid: &Jid) -> GroupInfo {
        GroupInfo {
            jid: jid.clone(),
            subject: self.subject.clone(),
            description: self.description.clone(),
            owner: Some(self.owner.clone()),
            created_at: Some(self.created_at),
            announce: false,
            locked: false,
            members: self.members.iter().map(|(j, role)| Member { jid: j.clone(), lid: None, role: *role }).collect(),
        }
    }

    /// Applies a member change to one member; `Err` is WhatsApp's reason for refusing it.
    fn change(&mut self, action: ParticipantAction, jid: &Jid) -> Result<(), &'static str> {
        let at = self.members.iter().position(|(j, _)| j == jid);
        match (action, at) {
            (ParticipantAction::Add, Some(_)) => Err("already a participant"),
            (ParticipantAction::Add, None) => {
                self.members.push((jid.clone(), GroupRole::Member));
                Ok(())
            }
            (_, None) => Err("not a participant"),
            (_, Some(i)) if self.members[i].1 == GroupRole::Superadmin => Err("the group's creator keeps its standing"),
            (ParticipantAction::Remove, Some(i)) => {
                self.members.remove(i);
                Ok(())
            }
            (ParticipantAction::Promote, Some(i)) => {
                self.members[i].1 = GroupRole::Admin;
                Ok(())
            }
            (ParticipantAction::Demote, Some(i)) => {
                self.members[i].1 = GroupRole::Member;
                Ok(())
            }
        }
    }
}

#[derive(Default)]
pub(super) struct SimGroups(HashMap<Jid, SimGroup>);

impl SimGroups {
    pub(super) fn create(
        &mut self,
        owner: &Jid,
        subject: &str,
        members: &[Jid],
        approval: bool,
    ) -> Result<(Jid, String), SimError> {
        if self.0.len() >= MAX_GROUPS {
            return Err(SimError::Invalid(format!(
                "the simulated network holds at most {MAX_GROUPS} groups per session"
            )));
        }
        let jid = Jid::parse(&codes::group_jid()).expect("a group jid");
        let mut all = vec![(owner.clone(), GroupRole::Superadmin)];
        for m in members {
            if !all.iter().any(|(j, _)| j == m) {
                all.push((m.clone(), GroupRole::Member));
            }
        }
        let code = codes::invite_code();
        let group = SimGroup {
            subject: subject.to_owned(),
            description: None,
            owner: owner.clone(),
            created_at: Utc::now(),
            members: all,
            code: code.clone(),
            approval,
        };
        self.0.insert(jid.clone(), group);
        Ok((jid, code))
    }

    /// What another member does to a group, as the network applies it; `Err` when WhatsApp
    /// would not let them.
    pub(super) fn apply(&mut self, group: &Jid, by: &Jid, change: &GroupChange) -> Result<(), SimError> {
        let g = self.0.get_mut(group).ok_or_else(|| SimError::Invalid(format!("no group '{group}'")))?;
        let joins_itself = matches!(change, GroupChange::Members { action: ParticipantAction::Add, jids } if jids == std::slice::from_ref(by));
        let leaves_itself = matches!(change, GroupChange::Members { action: ParticipantAction::Remove, jids } if jids == std::slice::from_ref(by));
        let role = g.role(by);
        match change {
            _ if joins_itself => {}
            _ if role.is_none() => return Err(SimError::Invalid(format!("'{by}' is not a participant of '{group}'"))),
            GroupChange::Members { .. } if !leaves_itself && role == Some(GroupRole::Member) => {
                return Err(SimError::Invalid(format!("'{by}' is not an admin of '{group}'")));
            }
            _ => {}
        }
        match change {
            GroupChange::Subject(s) => g.subject = s.clone(),
            GroupChange::Description(d) => g.description = d.clone(),
            GroupChange::Members { action, jids } => {
                let mut next = g.clone();
                for jid in jids {
                    next.change(*action, jid).map_err(|why| SimError::Invalid(format!("{jid}: {why}")))?;
                }
                *g = next;
            }
        }
        Ok(())
    }

    /// Whether `jid` is in `group` (the phone side writes in groups a contact is in).
    pub(super) fn is_member(&self, group: &Jid, jid: &Jid) -> bool {
        self.0.get(group).is_some_and(|g| g.role(jid).is_some())
    }
}

impl SimConnection {
    /// The account's own jid, while the connection is up.
    fn me(&self) -> Result<Jid, ConnectorError> {
        self.online()?;
        let device = self.world.connected_device(&self.key, self.id).ok_or(ConnectorError::NotConnected)?;
        Jid::parse(&device.phone).map_err(|e| ConnectorError::Rejected(e.to_string()))
    }

    /// Runs `f` on a group the account is in, with the account's standing there.
    fn in_group<T>(
        &self,
        group: &Jid,
        f: impl FnOnce(&mut SimGroup, &Jid, GroupRole) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let me = self.me()?;
        self.world.groups(&self.key, |groups| {
            let g = groups.0.get_mut(group).ok_or_else(|| not_a_member(group))?;
            let role = g.role(&me).ok_or_else(|| not_a_member(group))?;
            f(g, &me, role)
        })
    }
}

fn not_a_member(group: &Jid) -> ConnectorError {
    ConnectorError::Rejected(format!("not a participant of {group}"))
}

fn admin(role: GroupRole) -> Result<(), ConnectorError> {
    match role {
        GroupRole::Member => Err(ConnectorError::Rejected("only the group's admins may do that".into())),
        _ => Ok(()),
    }
}

#[async_trait]
impl GroupOps for SimConnection {
    async fn groups(&self) -> Result<Vec<GroupInfo>, ConnectorError> {
        let me = self.me()?;
        let mut found = self.world.groups(&self.key, |groups| {
            groups.0.iter().filter(|(_, g)| g.role(&me).is_some()).map(|(jid, g)| g.info(jid)).collect::<Vec<_>>()
        });
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.jid.as_str().cmp(b.jid.as_str())));
        Ok(found)
    }

    async fn group(&self, group: &Jid) -> Result<Option<GroupInfo>, ConnectorError> {
        let me = self.me()?;
        Ok(self
            .world
            .groups(&self.key, |groups| groups.0.get(group).filter(|g| g.role(&me).is_some()).map(|g| g.info(group))))
    }

    /// Members not on WhatsApp are left out, as WhatsApp does.
    async fn create_group(&self, subject: &str, members: &[Jid]) -> Result<GroupInfo, ConnectorError> {
        let me = self.me()?;
        let members: Vec<Jid> =
            members.iter().filter(|m| !self.world.is_invalid_number(&self.key, m)).cloned().collect();
        self.world.groups(&self.key, |groups| {
            let (jid, _) =
                groups.create(&me, subject, &members, false).map_err(|e| ConnectorError::Rejected(e.to_string()))?;
            Ok(groups.0[&jid].info(&jid))
        })
    }

    async fn set_subject(&self, group: &Jid, subject: &str) -> Result<(), ConnectorError> {
        self.in_group(group, |g, _, _| {
            g.subject = subject.to_owned();
            Ok(())
        })
    }

    async fn set_description(&self, group: &Jid, description: Option<&str>) -> Result<(), ConnectorError> {
        self.in_group(group, |g, _, _| {
            g.description = description.map(str::to_owned);
            Ok(())
        })
    }

    async fn change_members(
        &self,
        group: &Jid,
        action: ParticipantAction,
        members: &[Jid],
    ) -> Result<Vec<MemberChange>, ConnectorError> {
        let unknown: Vec<bool> = members.iter().map(|m| self.world.is_invalid_number(&self.key, m)).collect();
        self.in_group(group, |g, _, role| {
            admin(role)?;
            Ok(members
                .iter()
                .zip(unknown)
                .map(|(jid, unknown)| {
                    let error = if unknown && action == ParticipantAction::Add {
                        Some("not on WhatsApp".to_owned())
                    } else {
                        g.change(action, jid).err().map(str::to_owned)
                    };
                    MemberChange { jid: jid.clone(), error }
                })
                .collect())
        })
    }

    async fn invite_code(&self, group: &Jid, reset: bool) -> Result<String, ConnectorError> {
        self.in_group(group, |g, _, role| {
            admin(role)?;
            if reset {
                g.code = codes::invite_code();
            }
            Ok(g.code.clone())
        })
    }

    async fn join_group(&self, code: &str) -> Result<JoinOutcome, ConnectorError> {
        let me = self.me()?;
        self.world.groups(&self.key, |groups| {
            let (jid, g) = groups
                .0
                .iter_mut()
                .find(|(_, g)| g.code == code)
                .ok_or_else(|| ConnectorError::Rejected("the invite link is not valid or was revoked".into()))?;
            if g.approval && g.role(&me).is_none() {
                return Ok(JoinOutcome::Pending(jid.clone()));
            }
            let _ = g.change(ParticipantAction::Add, &me);
            Ok(JoinOutcome::Joined(jid.clone()))
        })
    }

    async fn leave_group(&self, group: &Jid) -> Result<(), ConnectorError> {
        let me = self.me()?;
        self.world.groups(&self.key, |groups| {
            let g = groups.0.get_mut(group).ok_or_else(|| not_a_member(group))?;
            let at = g.members.iter().position(|(j, _)| *j == me).ok_or_else(|| not_a_member(group))?;
            g.members.remove(at);
            Ok(())
        })
    }
}
