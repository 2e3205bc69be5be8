//! Client -> server events of the canonical dialect.

use std::sync::Arc;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};

use super::{Realtime, rooms};
use crate::auth::Identity;
use crate::model::{SessionKey, validate_id};
use crate::sessions::SessionError;

pub(super) fn register(s: &SocketRef) {
    s.on("session.subscribe", subscribe);
    s.on("session.unsubscribe", unsubscribe);
    s.on_fallback(to_plugins);
}

/// Any other event goes to the tenant's client-event plugins; without one it is unknown.
async fn to_plugins(
    s: SocketRef,
    io: SocketIo,
    Event(name): Event,
    TryData(data): TryData<Value>,
    State(rt): State<Realtime>,
) {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else { return };
    let payload = data.unwrap_or(Value::Null);
    match rt.plugins.client_event(&identity, &name, &payload).await {
        Some(todo) => super::actions::execute(&io, &rt.sessions, Some(&s), todo).await,
        None => {
            let _ = s.emit(
                "error",
                &json!({ "code": "unknown_event", "message": format!("unknown event '{name}'"), "event": name }),
            );
        }
    }
}

/// A session id as clients send it: `"abc"`, `1`, or `{ "sessionId": ... }`.
fn session_id(data: &Value) -> Option<String> {
    match data {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("sessionId").and_then(session_id),
        _ => None,
    }
}

fn reply_error(s: &SocketRef, ack: AckSender, event: &str, code: &str, message: String) {
    let _ = s.emit("error", &json!({ "code": code, "message": message, "event": event }));
    let _ = ack.send(&json!({ "ok": false, "error": { "code": code, "message": message } }));
}

async fn subscribe(s: SocketRef, TryData(data): TryData<Value>, ack: AckSender, State(rt): State<Realtime>) {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else { return };
    let Some(id) = data.ok().as_ref().and_then(session_id) else {
        return reply_error(&s, ack, "session.subscribe", "invalid_payload", "expected a session id".into());
    };
    if let Err(e) = validate_id(&id) {
        return reply_error(&s, ack, "session.subscribe", "invalid_session_id", e.to_string());
    }
    let key = SessionKey::new(&identity.tenant, &id);
    match rt.sessions.get(&key).await {
        Ok(_) => {
            s.join(rooms::session(&key));
            let _ = ack.send(&json!({ "ok": true, "sessionId": id }));
        }
        // Unknown and foreign sessions look the same: a tenant learns nothing of another.
        Err(SessionError::NotFound) => {
            reply_error(&s, ack, "session.subscribe", "session_not_found", format!("session '{id}' not found"))
        }
        Err(e) => reply_error(&s, ack, "session.subscribe", "internal", e.to_string()),
    }
}

async fn unsubscribe(s: SocketRef, TryData(data): TryData<Value>, ack: AckSender) {
    let Some(identity) = s.extensions.get::<Arc<Identity>>() else { return };
    let Some(id) = data.ok().as_ref().and_then(session_id).filter(|id| validate_id(id).is_ok()) else {
        return reply_error(&s, ack, "session.unsubscribe", "invalid_payload", "expected a session id".into());
    };
    s.leave(rooms::session(&SessionKey::new(&identity.tenant, &id)));
    let _ = ack.send(&json!({ "ok": true, "sessionId": id }));
}
