//! Groups through a session: the checks WhatsApp would make anyway (lengths, member lists,
//! jids), done before anything is sent, and the answers in the canonical model.

use super::actor::{Command, GroupCommand};
use super::{SessionError, SessionResult, Sessions};
use crate::connector::groups::{GroupInfo, JoinOutcome, MemberChange};
use crate::model::{
    Group, GroupInvite, GroupJoin, GroupParticipant, Jid, JoinStatus, ParticipantAction, ParticipantResult, SessionKey,
};
use crate::store::chats;

/// WhatsApp's limits on a group's subject and description, in characters.
pub const MAX_SUBJECT_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
/// Members one request may name: a WhatsApp group holds at most this many.
pub const MAX_MEMBERS: usize = 1024;

const INVITE_PREFIX: &str = "https://chat.whatsapp.com/";

/// A change to a group's subject and description; `description: Some(None)` removes it.
#[derive(Debug, Default)]
pub struct GroupUpdate {
    pub subject: Option<String>,
    pub description: Option<Option<String>>,
}

fn invalid(code: &'static str, message: String) -> SessionError {
    SessionError::Unprocessable { code, message }
}

/// A group as the API names it: its jid, or the digits before `@g.us`.
pub fn parse_group(group: &str) -> SessionResult<Jid> {
    let full = if group.contains('@') { group.to_owned() } else { format!("{group}@g.us") };
    Jid::parse(&full)
        .ok()
        .filter(Jid::is_group)
        .ok_or_else(|| invalid("invalid_group", format!("'{}' is not a group jid (<digits>@g.us)", truncate(group))))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn check_subject(subject: &str) -> SessionResult<String> {
    let subject = subject.trim();
    let n = subject.chars().count();
    if n == 0 || n > MAX_SUBJECT_CHARS {
        return Err(invalid("invalid_subject", format!("subject: 1 to {MAX_SUBJECT_CHARS} characters")));
    }
    Ok(subject.to_owned())
}

fn check_description(description: &str) -> SessionResult<Option<String>> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid("invalid_description", format!("description: at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    Ok((!description.trim().is_empty()).then(|| description.to_owned()))
}

/// Members as phone numbers or their jids, each once, in the order given.
fn parse_members(members: &[String], at_least: usize) -> SessionResult<Vec<Jid>> {
    if members.len() < at_least || members.len() > MAX_MEMBERS {
        return Err(invalid("invalid_participants", format!("participants: give {at_least} to {MAX_MEMBERS} phone numbers")));
    }
    let mut jids: Vec<Jid> = Vec::with_capacity(members.len());
    for m in members {
        let jid = Jid::parse_phone(m)
            .ok_or_else(|| invalid("invalid_participants", format!("participants: '{}' is not a phone number", truncate(m))))?;
        if !jids.contains(&jid) {
            jids.push(jid);
        }
    }
    Ok(jids)
}

/// An invite code, alone or in its `https://chat.whatsapp.com/` link.
fn invite_code(invite: &str) -> SessionResult<String> {
    let invite = invite.trim();
    let code = invite.strip_prefix(INVITE_PREFIX).or_else(|| invite.strip_prefix("chat.whatsapp.com/")).unwrap_or(invite);
    let code = code.trim_end_matches('/');
    if code.is_empty() || code.len() > 64 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid("invalid_invite", "invite: an invite code or a https://chat.whatsapp.com/ link".into()));
    }
    Ok(code.to_owned())
}

impl Sessions {
    async fn ask_group<T>(
        &self,
        key: &SessionKey,
        make: impl FnOnce(tokio::sync::oneshot::Sender<SessionResult<T>>) -> GroupCommand,
    ) -> SessionResult<T> {
        self.ask(key, |reply| Command::Group(make(reply))).await
    }

    /// The group with the session's chat for it.
    async fn group_view(&self, key: &SessionKey, info: GroupInfo) -> SessionResult<Group> {
        let chat = chats::by_jid(self.store().pool(), key, &info.jid).await?;
        Ok(Group {
            jid: info.jid.to_string(),
            chat_id: chat.map(|c| c.id),
            subject: info.subject,
            description: info.description,
            owner: info.owner.map(|o| o.to_string()),
            created_at: info.created_at,
            announce: info.announce,
            locked: info.locked,
            size: info.members.len() as u32,
            participants: info
                .members
                .into_iter()
                .map(|m| GroupParticipant {
                    number: m.jid.phone_number(),
                    jid: m.jid.to_string(),
                    lid: m.lid.map(|l| l.to_string()),
                    role: m.role,
                })
                .collect(),
        })
    }

    /// Every group the session's number is in.
    pub async fn groups(&self, key: &SessionKey) -> SessionResult<Vec<Group>> {
        let infos = self.ask_group(key, |reply| GroupCommand::List { reply }).await?;
        let mut groups = Vec::with_capacity(infos.len());
        for info in infos {
            groups.push(self.group_view(key, info).await?);
        }
        Ok(groups)
    }

    pub async fn group(&self, key: &SessionKey, group: &str) -> SessionResult<Group> {
        let group = parse_group(group)?;
        let info = self.ask_group(key, |reply| GroupCommand::Info { group, reply }).await?;
        self.group_view(key, info).await
    }

    /// Creates a group with the session's number as its creator; members not on WhatsApp are
    /// left out, as WhatsApp does.
    pub async fn create_group(&self, key: &SessionKey, subject: &str, members: &[String]) -> SessionResult<Group> {
        let subject = check_subject(subject)?;
        let members = parse_members(members, 0)?;
        let info = self.ask_group(key, |reply| GroupCommand::Create { subject, members, reply }).await?;
        self.group_view(key, info).await
    }

    pub async fn update_group(&self, key: &SessionKey, group: &str, update: GroupUpdate) -> SessionResult<Group> {
        let group = parse_group(group)?;
        if update.subject.is_none() && update.description.is_none() {
            return Err(invalid("nothing_to_change", "give a subject, a description, or both".into()));
        }
        let subject = update.subject.as_deref().map(check_subject).transpose()?;
        let description = match update.description {
            Some(Some(d)) => Some(check_description(&d)?),
            Some(None) => Some(None),
            None => None,
        };
        let info = self.ask_group(key, |reply| GroupCommand::Update { group, subject, description, reply }).await?;
        self.group_view(key, info).await
    }

    /// Adds, removes, promotes or demotes members; WhatsApp answers for each one.
    pub async fn change_members(
        &self,
        key: &SessionKey,
        group: &str,
        action: ParticipantAction,
        members: &[String],
    ) -> SessionResult<Vec<ParticipantResult>> {
        let group = parse_group(group)?;
        let members = parse_members(members, 1)?;
        let results = self.ask_group(key, |reply| GroupCommand::Members { group, action, members, reply }).await?;
        Ok(results
            .into_iter()
            .map(|MemberChange { jid, error }| ParticipantResult { jid: jid.to_string(), ok: error.is_none(), error })
            .collect())
    }

    /// The group's invite link; `reset` revokes the current one and makes a new one.
    pub async fn invite(&self, key: &SessionKey, group: &str, reset: bool) -> SessionResult<GroupInvite> {
        let group = parse_group(group)?;
        let group_jid = group.to_string();
        let code = self.ask_group(key, |reply| GroupCommand::Invite { group, reset, reply }).await?;
        Ok(GroupInvite { group_jid, url: format!("{INVITE_PREFIX}{code}"), code })
    }

    /// Joins a group by its invite code or link.
    pub async fn join_group(&self, key: &SessionKey, invite: &str) -> SessionResult<GroupJoin> {
        let code = invite_code(invite)?;
        let (outcome, info) = self.ask_group(key, |reply| GroupCommand::Join { code, reply }).await?;
        let (jid, status) = match outcome {
            JoinOutcome::Joined(jid) => (jid, JoinStatus::Joined),
            JoinOutcome::Pending(jid) => (jid, JoinStatus::Pending),
        };
        let group = match info {
            Some(info) => Some(self.group_view(key, info).await?),
            None => None,
        };
        Ok(GroupJoin { group_jid: jid.to_string(), status, group })
    }

    pub async fn leave_group(&self, key: &SessionKey, group: &str) -> SessionResult<()> {
        let group = parse_group(group)?;
        self.ask_group(key, |reply| GroupCommand::Leave { group, reply }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_named_by_its_jid_or_its_digits() {
        assert_eq!(parse_group("120363025246125486").unwrap().as_str(), "120363025246125486@g.us");
        assert_eq!(parse_group("120363025246125486@g.us").unwrap().as_str(), "120363025246125486@g.us");
        assert!(parse_group("6281234567890@s.whatsapp.net").is_err());
        assert!(parse_group("not a group").is_err());
    }

    #[test]
    fn an_invite_is_a_code_or_its_link() {
        assert_eq!(invite_code("https://chat.whatsapp.com/AbC123").unwrap(), "AbC123");
        assert_eq!(invite_code("AbC123").unwrap(), "AbC123");
        assert!(invite_code("https://chat.whatsapp.com/").is_err());
        assert!(invite_code("https://evil.example/x?y").is_err());
    }

    #[test]
    fn subjects_descriptions_and_member_lists_have_whatsapps_bounds() {
        assert!(check_subject("  ").is_err());
        assert!(check_subject(&"é".repeat(MAX_SUBJECT_CHARS)).is_ok());
        assert!(check_subject(&"é".repeat(MAX_SUBJECT_CHARS + 1)).is_err());
        assert_eq!(check_description("").unwrap(), None);
        assert!(check_description(&"x".repeat(MAX_DESCRIPTION_CHARS + 1)).is_err());
        assert!(parse_members(&[], 1).is_err());
        assert!(parse_members(&vec!["+6281234567890".to_owned(); MAX_MEMBERS + 1], 1).is_err());
        assert!(parse_members(&["120363025246125486@g.us".to_owned()], 1).is_err());
        let twice = parse_members(&["+6281234567890".into(), "6281234567890@s.whatsapp.net".into()], 1).unwrap();
        assert_eq!(twice.len(), 1);
    }
}
