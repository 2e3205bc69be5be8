//! Carries out what plugins asked for, after `plugins::output` validated it.

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;

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

pub async fn execute(io: &SocketIo, sessions: &Sessions, caller: Option<&SocketRef>, actions: Vec<HostAction>) {
    for action in actions {
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
