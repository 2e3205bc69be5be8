//! The session-room protocol of seed 001 (see README.md).

use serde::Deserialize;
use wagate_plugin_sdk::{
    Action, ClientEvent, Emit, Event, EventBody, Identity, MessageStatus, Plugin, Session, SessionStatus, Value, claims,
    export_plugin, host, ids, json, model::time::iso,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default = "connected_message")]
    connected_message: String,
    /// Claim (dotted path) naming the user; `userId`, then `sub` when absent.
    user_claim: Option<String>,
}

fn connected_message() -> String {
    "Connected to WhatsApp Gateway".into()
}

pub struct DialectSession {
    config: Config,
}

fn room(session: &str) -> String {
    format!("session:{session}")
}

fn invalid_session() -> Vec<Action> {
    let payload = json!({ "message": "Invalid session ID or access denied", "code": "INVALID_SESSION" });
    vec![Emit::to_caller("error", payload).into()]
}

/// Seed 001: a user sees the sessions whose id starts with their user id (`<userId>-...`)
/// and the sessions they own.
fn may_see(user: &str, session: &Session) -> bool {
    let prefixed = session.id.strip_prefix(user).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'));
    prefixed || session.owner.as_deref() == Some(user)
}

impl Plugin for DialectSession {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn map_auth(&mut self, token: &Value, mut identity: Identity) -> Result<Identity, String> {
        let user = match &self.config.user_claim {
            Some(path) => claims::text(token, path),
            // Without a configured claim: `userId` when the token has one, else whoever the host
            // or an earlier auth plugin (claims-mapper) made the user.
            None => claims::text(token, "userId"),
        };
        if user.is_some() {
            identity.user = user;
        }
        Ok(identity)
    }

    fn on_client_event(&mut self, caller: &Identity, event: ClientEvent) -> Vec<Action> {
        match event.name.as_str() {
            "$connect" => {
                let payload = json!({ "message": self.config.connected_message, "userId": caller.user, "timestamp": host::now_iso() });
                vec![Emit::to_caller("connected", payload).into()]
            }
            "join_session" => {
                let (Some(session), Some(user)) = (ids::id_in(&event.payload, "sessionId"), caller.user.as_deref())
                else {
                    return invalid_session();
                };
                let visible = match host::sessions() {
                    Ok(list) => list.iter().any(|s| s.id == session && may_see(user, s)),
                    Err(_) => false,
                };
                if !visible {
                    return invalid_session();
                }
                let payload = json!({ "sessionId": session, "message": "Joined session room successfully", "timestamp": host::now_iso() });
                vec![Action::Join(room(&session)), Emit::to_caller("session_joined", payload).into()]
            }
            "leave_session" => match ids::id_in(&event.payload, "sessionId") {
                Some(session) => vec![Action::Leave(room(&session))],
                None => invalid_session(),
            },
            _ => Vec::new(),
        }
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        let Some(session) = event.session_id.as_deref() else {
            return Vec::new();
        };
        let ts = iso(event.timestamp);
        let (name, payload) = match &event.body {
            EventBody::SessionQr(q) => (
                "qr_code_updated",
                json!({ "sessionId": session, "qrCode": q.qr, "status": "QR_REQUIRED", "timestamp": ts }),
            ),
            EventBody::SessionStatus(s) => {
                let mut p = json!({ "sessionId": session, "status": s.status, "timestamp": ts });
                if s.status == SessionStatus::Connected {
                    p["phoneNumber"] = json!(s.phone);
                    p["displayName"] = json!(s.display_name);
                }
                ("session_status_changed", p)
            }
            EventBody::MessageStatus(m) => {
                let mut p = json!({ "sessionId": session, "messageId": m.message_id, "status": m.status, "timestamp": ts });
                if m.status == MessageStatus::Delivered {
                    p["deliveredAt"] = json!(ts);
                }
                ("message_status_updated", p)
            }
            _ => return Vec::new(),
        };
        vec![Emit::to_room(room(session), name, payload)]
    }
}

export_plugin!(DialectSession);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::model::events::{MessageStatusChanged, SessionStatusChanged};
    use wagate_plugin_sdk::testing::{FakeHost, Harness, chat, event, identity, session};
    use wagate_plugin_sdk::{Target, json};

    fn harness() -> Harness<DialectSession> {
        let sessions = vec![
            session("u1-shop"),
            Session { owner: Some("u1".into()), ..session("shared") },
            session("u10-x"),
        ];
        let host = FakeHost { sessions, now_ms: 1_768_473_000_000, ..Default::default() };
        Harness::with_host(host, json!({})).unwrap()
    }

    fn status(status: SessionStatus) -> EventBody {
        EventBody::SessionStatus(SessionStatusChanged {
            status,
            previous_status: None,
            reason: None,
            phone: Some("+62".into()),
            display_name: Some("J".into()),
        })
    }

    #[test]
    fn connected_after_handshake() {
        let mut h = harness();
        let me = h.map_auth(json!({"sub": "s", "userId": "u1"}), identity("s")).unwrap();
        let out = h.client_event(&me, "$connect", json!({}));
        let Action::Emit(e) = &out[0] else { panic!() };
        assert_eq!(e.event, "connected");
        assert_eq!(e.payload["userId"], "u1");
        assert_eq!(e.payload["timestamp"], "2026-01-15T10:30:00.000Z");
    }

    #[test]
    fn joins_only_visible_sessions() {
        let mut h = harness();
        let me = identity("u1");
        for ok in ["u1-shop", "shared"] {
            let out = h.client_event(&me, "join_session", json!(ok));
            assert_eq!(out[0], Action::Join(format!("session:{ok}")));
            let Action::Emit(e) = &out[1] else { panic!() };
            assert_eq!((e.event.as_str(), &e.payload["sessionId"]), ("session_joined", &json!(ok)));
        }
        for bad in [json!("u10-x"), json!("nope"), json!(12.5), json!({"x": 1})] {
            let out = h.client_event(&me, "join_session", bad);
            let Action::Emit(e) = &out[0] else { panic!() };
            assert_eq!(e.payload, json!({"message": "Invalid session ID or access denied", "code": "INVALID_SESSION"}));
        }
    }

    #[test]
    fn maps_events_to_the_session_room() {
        let mut h = harness();
        let out = h.transform(&event("u1-shop", status(SessionStatus::Connected)));
        assert_eq!(out[0].target, Target::Room("session:u1-shop".into()));
        assert_eq!(out[0].payload["phoneNumber"], "+62");
        assert_eq!(out[0].payload["status"], "CONNECTED");
        let out = h.transform(&event("u1-shop", status(SessionStatus::Disconnected)));
        assert!(out[0].payload.get("phoneNumber").is_none());
        let delivered = EventBody::MessageStatus(MessageStatusChanged {
            message_id: "m1".into(),
            wa_message_id: None,
            chat_id: "c1".into(),
            status: MessageStatus::Delivered,
            previous_status: MessageStatus::Sent,
            error: None,
        });
        let out = h.transform(&event("u1-shop", delivered));
        assert_eq!(out[0].payload["messageId"], "m1");
        assert_eq!(out[0].payload["deliveredAt"], "2026-01-15T10:30:00.000Z");
        let updated = EventBody::ChatUpdated(wagate_plugin_sdk::model::events::ChatUpdated { chat: chat("u1-shop", "c1") });
        assert!(h.transform(&event("u1-shop", updated)).is_empty());
    }
}
