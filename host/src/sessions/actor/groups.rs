//! The group half of a session's actor: what the API asks of groups, done on the live
//! connection and then recorded, and what other members do to groups, as they arrive. A
//! change is one store write (the group's chat) with its events.

use tokio::sync::oneshot;

use super::Actor;
use super::messages::refused;
use crate::connector::groups::{GroupChange, GroupEvent, GroupInfo, JoinOutcome, MemberChange};
use crate::events::{self, EventBody, EventDraft};
use crate::model::{GroupField, GroupRole, Jid, ParticipantAction};
use crate::sessions::{SessionError, SessionResult};
use crate::store::{StoreResult, chats};

type Reply<T> = oneshot::Sender<SessionResult<T>>;

pub(in crate::sessions) enum GroupCommand {
    List { reply: Reply<Vec<GroupInfo>> },
    Info { group: Jid, reply: Reply<GroupInfo> },
    Create { subject: String, members: Vec<Jid>, reply: Reply<GroupInfo> },
    /// `description: Some(None)` removes it.
    Update { group: Jid, subject: Option<String>, description: Option<Option<String>>, reply: Reply<GroupInfo> },
    Members { group: Jid, action: ParticipantAction, members: Vec<Jid>, reply: Reply<Vec<MemberChange>> },
    Invite { group: Jid, reset: bool, reply: Reply<String> },
    Join { code: String, reply: Reply<(JoinOutcome, Option<GroupInfo>)> },
    Leave { group: Jid, reply: Reply<()> },
}

impl Actor {
    pub(super) async fn group_command(&mut self, cmd: GroupCommand) {
        match cmd {
            GroupCommand::List { reply } => {
                let r = match self.live() {
                    Ok(conn) => conn.groups().await.map_err(refused),
                    Err(e) => Err(e),
                };
                let _ = reply.send(r);
            }
            GroupCommand::Info { group, reply } => {
                let _ = reply.send(self.group_info(&group).await);
            }
            GroupCommand::Create { subject, members, reply } => {
                let _ = reply.send(self.create_group(&subject, &members).await);
            }
            GroupCommand::Update { group, subject, description, reply } => {
                let _ = reply.send(self.update_group(&group, subject, description).await);
            }
            GroupCommand::Members { group, action, members, reply } => {
                let _ = reply.send(self.change_members(&group, action, &members).await);
            }
            GroupCommand::Invite { group, reset, reply } => {
                let r = async {
                    self.admin_of(&group, "share or revoke its invite link").await?;
                    self.live()?.invite_code(&group, reset).await.map_err(refused)
                }
                .await;
                let _ = reply.send(r);
            }
            GroupCommand::Join { code, reply } => {
                let _ = reply.send(self.join_group(&code).await);
            }
            GroupCommand::Leave { group, reply } => {
                let _ = reply.send(self.leave_group(&group).await);
            }
        }
    }

    /// The session's own jid, from the number it is connected as.
    fn me(&self) -> Option<Jid> {
        self.session.phone.as_deref().and_then(Jid::parse_phone)
    }

    async fn group_info(&self, group: &Jid) -> SessionResult<GroupInfo> {
        self.live()?.group(group).await.map_err(refused)?.ok_or(SessionError::GroupNotFound)
    }

    /// The group, when this session's number is one of its admins.
    async fn admin_of(&self, group: &Jid, to: &'static str) -> SessionResult<GroupInfo> {
        let info = self.group_info(group).await?;
        let me = self.me();
        let mine = info.members.iter().find(|m| Some(&m.jid) == me.as_ref());
        match mine.map(|m| m.role) {
            Some(GroupRole::Admin | GroupRole::Superadmin) => Ok(info),
            _ => Err(SessionError::NotGroupAdmin(to)),
        }
    }

    async fn create_group(&mut self, subject: &str, members: &[Jid]) -> SessionResult<GroupInfo> {
        let info = self.live()?.create_group(subject, members).await.map_err(refused)?;
        let jids = info.members.iter().map(|m| m.jid.clone()).collect();
        let change = GroupChange::Members { action: ParticipantAction::Add, jids };
        self.record_group(&info.jid, Some(&info.subject), self.me(), &change).await?;
        Ok(info)
    }

    async fn update_group(
        &mut self,
        group: &Jid,
        subject: Option<String>,
        description: Option<Option<String>>,
    ) -> SessionResult<GroupInfo> {
        let info = self.group_info(group).await?;
        if info.locked {
            self.admin_of(group, "change a locked group's subject and description").await?;
        }
        let me = self.me();
        if let Some(subject) = subject {
            self.live()?.set_subject(group, &subject).await.map_err(refused)?;
            self.record_group(group, Some(&subject), me.clone(), &GroupChange::Subject(subject.clone())).await?;
        }
        if let Some(description) = description {
            self.live()?.set_description(group, description.as_deref()).await.map_err(refused)?;
            self.record_group(group, None, me, &GroupChange::Description(description)).await?;
        }
        self.group_info(group).await
    }

    async fn change_members(
        &mut self,
        group: &Jid,
        action: ParticipantAction,
        members: &[Jid],
    ) -> SessionResult<Vec<MemberChange>> {
        self.admin_of(group, "add, remove, promote or demote participants").await?;
        let results = self.live()?.change_members(group, action, members).await.map_err(refused)?;
        let changed: Vec<Jid> = results.iter().filter(|r| r.error.is_none()).map(|r| r.jid.clone()).collect();
        if !changed.is_empty() {
            let change = GroupChange::Members { action, jids: changed };
            self.record_group(group, None, self.me(), &change).await?;
        }
        Ok(results)
    }

    async fn join_group(&mut self, code: &str) -> SessionResult<(JoinOutcome, Option<GroupInfo>)> {
        let outcome = self.live()?.join_group(code).await.map_err(refused)?;
        let JoinOutcome::Joined(group) = &outcome else { return Ok((outcome, None)) };
        let info = self.live()?.group(group).await.map_err(refused)?;
        if let Some(me) = self.me() {
            let change = GroupChange::Members { action: ParticipantAction::Add, jids: vec![me.clone()] };
            self.record_group(group, info.as_ref().map(|i| i.subject.as_str()), Some(me), &change).await?;
        }
        Ok((outcome, info))
    }

    async fn leave_group(&mut self, group: &Jid) -> SessionResult<()> {
        self.group_info(group).await?;
        self.live()?.leave_group(group).await.map_err(refused)?;
        if let Some(me) = self.me() {
            let change = GroupChange::Members { action: ParticipantAction::Remove, jids: vec![me.clone()] };
            self.record_group(group, None, Some(me), &change).await?;
        }
        Ok(())
    }

    /// What another member did to a group the session is in.
    pub(super) async fn group_event(&mut self, ev: GroupEvent) -> StoreResult<()> {
        let name = match &ev.change {
            GroupChange::Subject(subject) => Some(subject.as_str()),
            _ => None,
        };
        self.record_group(&ev.group, name, ev.by.clone(), &ev.change).await
    }

    /// Stores a group change on the group's chat (a new subject renames it) with its event.
    async fn record_group(
        &mut self,
        group: &Jid,
        name: Option<&str>,
        by: Option<Jid>,
        change: &GroupChange,
    ) -> StoreResult<()> {
        let mut w = self.store.begin_write().await?;
        let chat = chats::ensure(&mut w, &self.key, group, name).await?;
        let (group_jid, chat_id, by) = (group.to_string(), chat.id.clone(), by.map(|b| b.to_string()));
        let body = match change {
            GroupChange::Members { action, jids } => EventBody::GroupParticipants(events::GroupParticipants {
                group_jid,
                chat_id,
                action: *action,
                participants: jids.iter().map(ToString::to_string).collect(),
                by,
            }),
            GroupChange::Subject(subject) => EventBody::GroupUpdated(events::GroupUpdated {
                group_jid,
                chat_id,
                field: GroupField::Subject,
                value: Some(subject.clone()),
                by,
            }),
            GroupChange::Description(description) => EventBody::GroupUpdated(events::GroupUpdated {
                group_jid,
                chat_id,
                field: GroupField::Description,
                value: description.clone(),
                by,
            }),
        };
        let mut drafts = vec![EventDraft::session(&self.key, body)];
        if name.is_some() {
            drafts.push(EventDraft::session(&self.key, EventBody::ChatUpdated(events::ChatUpdated { chat })));
        }
        self.journal.commit(w, drafts).await?;
        Ok(())
    }
}
