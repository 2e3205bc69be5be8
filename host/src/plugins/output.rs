//! Checks what a plugin returned and turns it into things the host may do. Anything out of
//! bounds makes the whole output a fault: a plugin is never half-obeyed.

use serde_json::Value;

use super::sandbox::{Fault, wit};
use crate::model::{SessionKey, validate_id};
use crate::realtime::rooms;
use wagate_model::send::SendMessage;

const MAX_ITEMS: usize = 64;
const MAX_EVENT_NAME: usize = 128;
const MAX_ROOM_NAME: usize = 200;
const MAX_PAYLOAD: usize = 256 * 1024;
const MAX_TEXT: usize = 65_536;
const MAX_ATTRIBUTES: usize = 16 * 1024;
/// Socket.IO gives these names meaning of its own.
const RESERVED_EVENTS: &[&str] =
    &["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Host room names, already inside the tenant.
    Rooms(Vec<String>),
    Caller,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub event: String,
    pub payload: Value,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HostAction {
    Deliver(Delivery),
    Join(String),
    Leave(String),
    SendText { session: SessionKey, to: String, text: String },
    MarkRead { session: SessionKey, chat: String },
    /// From the `messages` interface (contract 1.1), checked when the plugin queued them.
    Send { session: SessionKey, message: Box<SendMessage> },
    /// `emoji` None takes the session's reaction back.
    React { session: SessionKey, message: String, emoji: Option<String> },
    Edit { session: SessionKey, message: String, text: String },
    Revoke { session: SessionKey, message: String },
}

impl HostAction {
    /// The session the action acts from, for those that act from one.
    pub fn session(&self) -> Option<&SessionKey> {
        match self {
            HostAction::SendText { session, .. }
            | HostAction::MarkRead { session, .. }
            | HostAction::Send { session, .. }
            | HostAction::React { session, .. }
            | HostAction::Edit { session, .. }
            | HostAction::Revoke { session, .. } => Some(session),
            HostAction::Deliver(_) | HostAction::Join(_) | HostAction::Leave(_) => None,
        }
    }
}

/// What a webhook delivery of an event sends, as the tenant's `webhook` plugins decided.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookShape {
    /// The canonical body: no plugin had an opinion, or one failed with `onError: passthrough`.
    Canonical,
    /// Nothing: `plugin` skips the event (or failed with `onError: drop`).
    Skipped { plugin: String },
    /// `plugin`'s body, a JSON document within the payload limit.
    Body { plugin: String, body: String },
}

/// A webhook body a plugin returned: JSON, at most the payload limit.
pub fn webhook_body(body: &str) -> Result<(), Fault> {
    if body.len() > MAX_PAYLOAD {
        return Err(bad(format!("a webhook body is at most {MAX_PAYLOAD} bytes")));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|e| bad(format!("the webhook body is not JSON: {e}")))
}

fn bad(msg: impl Into<String>) -> Fault {
    Fault::BadOutput(msg.into())
}

/// An identity's `attributes`: a JSON object of bounded size.
pub fn attributes(text: &str) -> Result<Value, Fault> {
    if text.len() > MAX_ATTRIBUTES {
        return Err(bad(format!("identity attributes are at most {MAX_ATTRIBUTES} bytes")));
    }
    match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(bad("identity attributes must be a JSON object")),
    }
}

/// A room name of the plugin's choosing, as the host room inside the tenant.
pub fn plugin_room(tenant: &str, name: &str) -> Result<String, Fault> {
    if name.is_empty() || name.len() > MAX_ROOM_NAME || name.chars().any(char::is_control) {
        return Err(bad(format!("room names are 1 to {MAX_ROOM_NAME} printable characters")));
    }
    // Host room names start with "t/"; a plugin naming one is trying to leave its tenant.
    if name.starts_with("t/") {
        return Err(bad(format!("room '{name}' is outside the plugin's namespace")));
    }
    Ok(rooms::plugin(tenant, name))
}

fn delivery(tenant: &str, emit: wit::Emit, caller_allowed: bool) -> Result<Delivery, Fault> {
    let name = emit.event;
    if name.is_empty() || name.len() > MAX_EVENT_NAME || name.chars().any(char::is_control) {
        return Err(bad(format!("event names are 1 to {MAX_EVENT_NAME} printable characters")));
    }
    if RESERVED_EVENTS.contains(&name.as_str()) {
        return Err(bad(format!("'{name}' is reserved by Socket.IO")));
    }
    if emit.payload.len() > MAX_PAYLOAD {
        return Err(bad(format!("payload of '{name}' is over {MAX_PAYLOAD} bytes")));
    }
    let payload: Value =
        serde_json::from_str(&emit.payload).map_err(|e| bad(format!("payload of '{name}' is not JSON: {e}")))?;
    let target = match emit.target {
        wit::Target::Room(r) => Target::Rooms(vec![plugin_room(tenant, &r)?]),
        wit::Target::Session(s) => {
            validate_id(&s).map_err(|e| bad(format!("session '{s}': {e}")))?;
            Target::Rooms(vec![rooms::session(&SessionKey::new(tenant, &s))])
        }
        wit::Target::Tenant => Target::Rooms(vec![rooms::tenant(tenant)]),
        wit::Target::Caller if caller_allowed => Target::Caller,
        wit::Target::Caller => return Err(bad("there is no calling socket for this hook")),
    };
    Ok(Delivery { event: name, payload, target })
}

pub fn emits(tenant: &str, emits: Vec<wit::Emit>) -> Result<Vec<Delivery>, Fault> {
    if emits.len() > MAX_ITEMS {
        return Err(bad(format!("more than {MAX_ITEMS} emits")));
    }
    emits.into_iter().map(|e| delivery(tenant, e, false)).collect()
}

/// A `transform-batch` answer: exactly one valid list of emits per event sent.
pub fn emit_lists(tenant: &str, lists: Vec<Vec<wit::Emit>>, events: usize) -> Result<Vec<Vec<Delivery>>, Fault> {
    if lists.len() != events {
        return Err(bad(format!("{} emit lists for {events} events", lists.len())));
    }
    lists.into_iter().map(|list| emits(tenant, list)).collect()
}

pub fn actions(tenant: &str, actions: Vec<wit::Action>, has_caller: bool) -> Result<Vec<HostAction>, Fault> {
    if actions.len() > MAX_ITEMS {
        return Err(bad(format!("more than {MAX_ITEMS} actions")));
    }
    actions
        .into_iter()
        .map(|a| {
            Ok(match a {
                wit::Action::Emit(e) => HostAction::Deliver(delivery(tenant, e, has_caller)?),
                wit::Action::Join(r) | wit::Action::Leave(r) if !has_caller => {
                    return Err(bad(format!("join/leave '{r}' needs a calling socket")));
                }
                wit::Action::Join(r) => HostAction::Join(plugin_room(tenant, &r)?),
                wit::Action::Leave(r) => HostAction::Leave(plugin_room(tenant, &r)?),
                wit::Action::SendText(s) => {
                    validate_id(&s.session).map_err(|e| bad(format!("session '{}': {e}", s.session)))?;
                    if s.to.is_empty() || s.text.is_empty() || s.text.len() > MAX_TEXT {
                        return Err(bad("send-text needs a recipient and 1 to 65536 bytes of text"));
                    }
                    HostAction::SendText { session: SessionKey::new(tenant, &s.session), to: s.to, text: s.text }
                }
                wit::Action::MarkRead(m) => {
                    validate_id(&m.session).map_err(|e| bad(format!("session '{}': {e}", m.session)))?;
                    if m.chat.is_empty() || m.chat.len() > MAX_ROOM_NAME {
                        return Err(bad("mark-read needs a chat id"));
                    }
                    HostAction::MarkRead { session: SessionKey::new(tenant, &m.session), chat: m.chat }
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit(event: &str, payload: &str, target: wit::Target) -> wit::Emit {
        wit::Emit { event: event.into(), payload: payload.into(), target }
    }

    #[test]
    fn rooms_stay_inside_the_tenant() {
        let d = emits("acme", vec![emit("x", "{}", wit::Target::Room("subscription:1".into()))]).unwrap();
        assert_eq!(d[0].target, Target::Rooms(vec!["t/acme/r/subscription:1".into()]));
        let d = emits("acme", vec![emit("x", "1", wit::Target::Session("s1".into()))]).unwrap();
        assert_eq!(d[0].target, Target::Rooms(vec!["t/acme/s/s1".into()]));
        for room in ["t/other", "t/other/s/s1", ""] {
            assert!(emits("acme", vec![emit("x", "{}", wit::Target::Room(room.into()))]).is_err(), "{room}");
        }
        assert!(emits("acme", vec![emit("x", "{}", wit::Target::Session("../x".into()))]).is_err());
    }

    #[test]
    fn bad_outputs_are_refused() {
        assert!(emits("a", vec![emit("", "{}", wit::Target::Tenant)]).is_err());
        assert!(emits("a", vec![emit("connect", "{}", wit::Target::Tenant)]).is_err());
        assert!(emits("a", vec![emit("x", "{not json", wit::Target::Tenant)]).is_err());
        assert!(emits("a", vec![emit("x", "{}", wit::Target::Caller)]).is_err(), "transforms have no caller");
        assert!(emits("a", (0..65).map(|_| emit("x", "1", wit::Target::Tenant)).collect()).is_err());
        assert!(actions("a", vec![wit::Action::Join("r".into())], false).is_err());
        let two = || vec![vec![emit("x", "1", wit::Target::Tenant)], vec![]];
        assert_eq!(emit_lists("a", two(), 2).unwrap().iter().map(Vec::len).collect::<Vec<_>>(), [1, 0]);
        let short = emit_lists("a", two(), 3).unwrap_err();
        assert_eq!(short, Fault::BadOutput("2 emit lists for 3 events".into()));
        let one_bad = vec![vec![], vec![emit("x", "{}", wit::Target::Room("t/b".into()))]];
        assert!(emit_lists("a", one_bad, 2).is_err(), "one bad list fails the batch");
        let ok = actions("a", vec![wit::Action::Join("r".into())], true).unwrap();
        assert_eq!(ok, vec![HostAction::Join("t/a/r/r".into())]);
    }
}
