//! Carries out what plugins asked for, after `plugins::output` validated it.

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;

use std::sync::Arc;

use super::emit::{Encoded, Outcome};
use crate::auth::{Identity, SessionAccess};
use crate::cluster::rooms::RoomRelay;
use crate::model::{MessageOrigin, SessionKey};
use crate::plugins::{Delivery, HostAction, Target};
use crate::sessions::{SessionError, Sessions, compose};

pub async fn deliver(io: &SocketIo, caller: Option<&SocketRef>, d: Delivery) {
    match d.target {
        Target::Rooms(rooms) => {
            // Not in the journal in this shape, so not replayable: a socket too far behind
            // misses it, and the log says which.
            let encoded = Encoded::new(&d.event, &d.payload);
            for s in super::broadcast::sockets_in_any(io, rooms) {
                if encoded.try_emit(&s) == Outcome::Full {
                    tracing::warn!(sid = %s.id, event = %d.event, "a socket's buffer is full: it missed a plugin event");
                }
            }
        }
        Target::Caller => {
            if let Some(s) = caller {
                let _ = s.emit(&d.event, &d.payload);
            }
        }
    }
}

/// The socket whose event a plugin is handling, with the tenant's session access setting:
/// what the plugin does for it from a session, the socket's user must be allowed to do.
pub struct Caller<'a> {
    pub socket: &'a SocketRef,
    pub access: SessionAccess,
}

impl Caller<'_> {
    async fn may_use(&self, sessions: &Sessions, key: &SessionKey) -> bool {
        let Some(identity) = self.socket.extensions.get::<Arc<Identity>>() else { return false };
        match sessions.get(key).await {
            Ok(session) => identity.may_use(self.access, &session),
            Err(_) => true, // the session layer answers "not found" itself
        }
    }
}

/// Whom plugin actions are carried out for.
pub enum By<'a> {
    /// A socket's event, handled by the tenant's client-event plugins.
    Socket(Caller<'a>),
    /// A bot plugin, on a committed event.
    Bot { plugin: &'a str },
}

/// `relay`: in a cluster, a message to rooms also goes to the other nodes' sockets in them.
pub async fn execute(io: &SocketIo, sessions: &Sessions, relay: &RoomRelay, by: By<'_>, actions: Vec<HostAction>) {
    // A bot's answer, or a socket's user sending through a frontend's plugin: bots step
    // back from chats where a person wrote.
    let (caller, origin) = match by {
        By::Socket(c) => {
            let user = c.socket.extensions.get::<Arc<Identity>>().and_then(|i| i.user.clone());
            (Some(c), MessageOrigin::Socket { user })
        }
        By::Bot { plugin } => (None, MessageOrigin::Bot { plugin: Some(plugin.to_owned()) }),
    };
    let socket = caller.as_ref().map(|c| c.socket);
    for action in actions {
        if let (Some(c), Some(key)) = (&caller, action.session())
            && !c.may_use(sessions, key).await
        {
            let message = format!("session '{}' not found", key.session);
            let _ = c.socket.emit("error", &json!({ "code": "session_not_found", "message": message }));
            continue;
        }
        let caller = socket;
        match action {
            HostAction::Deliver(d) => {
                relay.relay(&d).await;
                deliver(io, caller, d).await
            }
            HostAction::Join(room) => {
                if let Some(s) = caller {
                    s.join(room);
                }
            }
            HostAction::Leave(room) => {
                if let Some(s) = caller {
                    s.leave(room);
                }
            }
            HostAction::SendText { session, to, text } => {
                let result = sessions.send_text(&session, &to, &text, origin.clone()).await.map(drop);
                refused(caller, &session, "send-text", "send_failed", counted(sessions, result));
            }
            HostAction::MarkRead { session, chat } => {
                let result = sessions.mark_read(&session, &chat).await.map(drop);
                refused(caller, &session, "mark-read", "mark_read_failed", result);
            }
            HostAction::Send { session, message } => {
                let result = async {
                    let file = compose::decoded_media(&message)?;
                    let mut request = compose::request(*message, file, None)?;
                    request.origin = Some(origin.clone());
                    sessions.send(&session, request).await
                };
                refused(caller, &session, "send", "send_failed", counted(sessions, result.await.map(drop)));
            }
            HostAction::React { session, message, emoji } => {
                let result = sessions.react(&session, &message, emoji.as_deref()).await.map(drop);
                refused(caller, &session, "react", "react_failed", result);
            }
            HostAction::Edit { session, message, text } => {
                let result = sessions.edit(&session, &message, &text).await.map(drop);
                refused(caller, &session, "edit", "edit_failed", result);
            }
            HostAction::Revoke { session, message } => {
                let result = sessions.revoke(&session, &message).await.map(drop);
                refused(caller, &session, "revoke", "revoke_failed", result);
            }
        }
    }
}

/// A send that found the session's queue full is dropped, and counted by its reason.
fn counted(sessions: &Sessions, result: Result<(), SessionError>) -> Result<(), SessionError> {
    if let Err(SessionError::QueueFull { .. }) = &result {
        sessions.queue_metrics().refused("plugin");
    }
    result
}

/// A refused request is the plugin's request failing, not the plugin: the caller is told if
/// there is one, the log says it either way.
fn refused(caller: Option<&SocketRef>, session: &SessionKey, what: &str, code: &str, result: Result<(), SessionError>) {
    if let Err(e) = result {
        tracing::warn!(session = %session, error = %e, "plugin {what} refused");
        if let Some(s) = caller {
            let _ = s.emit("error", &json!({ "code": code, "message": e.to_string() }));
        }
    }
}
