//! Carries out what plugins asked for, after `plugins::output` validated it.

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;

use std::sync::Arc;

use crate::auth::{Identity, SessionAccess};
use crate::model::SessionKey;
use crate::plugins::{Delivery, HostAction, Target};
use crate::sessions::Sessions;

pub async fn deliver(io: &SocketIo, caller: Option<&SocketRef>, d: Delivery) {
    match d.target {
        Target::Rooms(rooms) => {
            if let Err(e) = io.to(rooms).emit(&d.event, &d.payload).await {
                tracing::warn!(event = %d.event, error = %e, "plugin emit failed");
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

pub async fn execute(io: &SocketIo, sessions: &Sessions, caller: Option<Caller<'_>>, actions: Vec<HostAction>) {
    let socket = caller.as_ref().map(|c| c.socket);
    for action in actions {
        let session = match &action {
            HostAction::SendText { session, .. } | HostAction::MarkRead { session, .. } => Some(session),
            _ => None,
        };
        if let (Some(c), Some(key)) = (&caller, session)
            && !c.may_use(sessions, key).await
        {
            let message = format!("session '{}' not found", key.session);
            let _ = c.socket.emit("error", &json!({ "code": "session_not_found", "message": message }));
            continue;
        }
        let caller = socket;
        match action {
            HostAction::Deliver(d) => deliver(io, caller, d).await,
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
                // A refused send is the plugin's request failing, not the plugin: tell the
                // caller if there is one, log it either way.
                if let Err(e) = sessions.send_text(&session, &to, &text).await {
                    tracing::warn!(session = %session, error = %e, "plugin send-text refused");
                    if let Some(s) = caller {
                        let _ = s.emit("error", &json!({ "code": "send_failed", "message": e.to_string() }));
                    }
                }
            }
            HostAction::MarkRead { session, chat } => {
                if let Err(e) = sessions.mark_read(&session, &chat).await {
                    tracing::warn!(session = %session, error = %e, "plugin mark-read refused");
                    if let Some(s) = caller {
                        let _ = s.emit("error", &json!({ "code": "mark_read_failed", "message": e.to_string() }));
                    }
                }
            }
        }
    }
}
