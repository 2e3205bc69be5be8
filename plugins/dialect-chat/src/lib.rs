//! The chat protocol of seed 003 (see README.md): a WhatsApp number is a session, its
//! `whatsappNumberId` the session id (a JSON number when the id is numeric).

use wagate_plugin_sdk::config::NoConfig;
use wagate_plugin_sdk::model::time::iso;
use wagate_plugin_sdk::{
    Action, Chat, ClientEvent, Emit, Event, EventBody, Identity, Message, Plugin, Session, SessionStatus, Value,
    WebhookBody, export_plugin, host, ids, json,
};

const MAX_PAGE: u32 = 500;
const DEFAULT_PAGE: u32 = 50;

pub struct DialectChat;

/// Every number has its own room; a socket joins it by asking about the number.
fn room(session: &str) -> String {
    format!("whatsapp:{session}")
}

fn error(message: impl ToString) -> Vec<Action> {
    vec![Emit::to_caller("error", json!({ "message": message.to_string() })).into()]
}

/// Seed 003's statuses: PENDING, PAIRING, CONNECTED, DISCONNECTED, RECONNECTING.
fn status(canonical: SessionStatus) -> &'static str {
    match canonical {
        SessionStatus::Init => "PENDING",
        SessionStatus::QrRequired | SessionStatus::Pairing => "PAIRING",
        SessionStatus::Connected => "CONNECTED",
        SessionStatus::Reconnecting => "RECONNECTING",
        SessionStatus::Disconnected | SessionStatus::Error => "DISCONNECTED",
    }
}

fn contact_name(c: &Chat) -> &str {
    c.name.as_deref().or(c.number.as_deref()).unwrap_or(&c.jid)
}

fn chat_out(c: &Chat) -> Value {
    json!({
        "id": c.id,
        "contactName": contact_name(c),
        "contactNumber": c.number,
        "contactJid": c.jid,
        "lastMessage": c.last_message,
        "lastMessageTime": c.last_message_at.map(iso),
        "unreadCount": c.unread_count,
        "isGroup": c.is_group,
        "isPinned": c.pinned,
        "isArchived": c.archived,
    })
}

fn message_out(m: &Message) -> Value {
    let mut out = json!({
        "id": m.id,
        "messageId": m.wa_message_id.as_deref().unwrap_or(&m.id),
        "fromJid": m.from_jid,
        "fromNumber": m.from_number,
        "fromName": m.from_name,
        "content": m.content,
        "type": m.kind.as_str().to_ascii_uppercase(),
        "isFromMe": m.from_me,
        "status": m.status,
        "timestamp": iso(m.timestamp),
    });
    // Media: a link the browser loads without a token.
    if let Some(url) = host::browser_media_url(m) {
        out["mediaUrl"] = url.into();
    }
    out
}

fn session_of(id: &str) -> Result<Option<Session>, host::HostError> {
    Ok(host::sessions()?.into_iter().find(|s| s.id == id))
}

/// `payload` must be an object; its number id, or the refusal to send.
fn number_in(event: &ClientEvent) -> Result<String, Vec<Action>> {
    if !event.payload.is_object() {
        return Err(error(format!("{} expects an object payload", event.name)));
    }
    ids::id_in(&event.payload, "whatsappNumberId").ok_or_else(|| error("whatsappNumberId must be a number or a string"))
}

fn chat_in(event: &ClientEvent) -> Result<Chat, Vec<Action>> {
    if !event.payload.is_object() {
        return Err(error(format!("{} expects an object payload", event.name)));
    }
    let id = ids::id_in(&event.payload, "chatId").ok_or_else(|| error("chatId must be a string"))?;
    match host::chat(&id) {
        Ok(Some(chat)) => Ok(chat),
        Ok(None) => Err(error("Chat not found or unauthorized")),
        Err(e) => Err(error(e)),
    }
}

fn page(event: &ClientEvent) -> Result<(u32, u32), Vec<Action>> {
    let limit = ids::uint_in(&event.payload, "limit", DEFAULT_PAGE, MAX_PAGE).map_err(error)?;
    let offset = ids::uint_in(&event.payload, "offset", 0, u32::MAX).map_err(error)?;
    Ok((limit, offset))
}

fn status_payload(session: &Session) -> Value {
    json!({
        "whatsappNumberId": ids::id_value(&session.id),
        "status": status(session.status),
        "lastConnected": session.last_connected_at.map(iso),
        "phoneNumber": session.phone,
    })
}

impl DialectChat {
    fn request(&mut self, event: &ClientEvent) -> Result<Vec<Action>, Vec<Action>> {
        Ok(match event.name.as_str() {
            "chat:get-list" => {
                let number = number_in(event)?;
                let (limit, offset) = page(event)?;
                if session_of(&number).map_err(error)?.is_none() {
                    return Err(error("WhatsApp number not found or unauthorized"));
                }
                let chats = host::chats(&number, limit, offset).map_err(error)?;
                let chats: Vec<Value> = chats.iter().map(chat_out).collect();
                let payload = json!({ "whatsappNumberId": ids::id_value(&number), "chats": chats });
                vec![Action::Join(room(&number)), Emit::to_caller("chat:list", payload).into()]
            }
            "chat:get-history" => {
                let chat = chat_in(event)?;
                let (limit, offset) = page(event)?;
                let messages = host::history(&chat.session_id, &chat.id, limit, offset).map_err(error)?;
                let messages: Vec<Value> = messages.iter().map(message_out).collect();
                let payload = json!({ "chatId": chat.id, "messages": messages });
                vec![Action::Join(room(&chat.session_id)), Emit::to_caller("chat:history", payload).into()]
            }
            "chat:mark-read" => {
                let chat = chat_in(event)?;
                // Joined first, so this socket hears the `chat:read` the host answers with.
                vec![Action::Join(room(&chat.session_id)), Action::MarkRead { session: chat.session_id, chat: chat.id }]
            }
            "whatsapp:get-status" => {
                let number = number_in(event)?;
                let session = session_of(&number)
                    .map_err(error)?
                    .ok_or_else(|| error("WhatsApp number not found or unauthorized"))?;
                vec![Action::Join(room(&number)), Emit::to_caller("whatsapp:status", status_payload(&session)).into()]
            }
            _ => Vec::new(),
        })
    }

    /// `lastConnected` of a number: the last CONNECTED seen, remembered across events.
    /// `remember`: the event is live (a socket's), not a webhook's, which may be an old event
    /// replayed and must not move the remembered time back.
    fn last_connected(&self, session: &str, now: SessionStatus, event: &Event, remember: bool) -> Option<String> {
        let key = format!("lastConnected:{session}");
        if now == SessionStatus::Connected {
            let ts = iso(event.timestamp);
            if remember {
                let _ = host::kv_set(&key, &ts);
            }
            return Some(ts);
        }
        host::kv_get(&key)
    }
}

impl Plugin for DialectChat {
    type Config = NoConfig;

    fn init(_: NoConfig) -> Result<Self, String> {
        Ok(DialectChat)
    }

    fn on_client_event(&mut self, _caller: &Identity, event: ClientEvent) -> Vec<Action> {
        self.request(&event).unwrap_or_else(|refusal| refusal)
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        match (event.session_id.as_deref(), self.dialect(event, true)) {
            (Some(session), Some((name, payload))) => vec![Emit::to_room(room(session), name, payload)],
            _ => Vec::new(),
        }
    }

    /// A backend of the frontend gets what its sockets get: the same name and payload, in
    /// the Standard Webhooks envelope; what the frontend is not told is not sent.
    fn webhook(&mut self, event: &Event) -> WebhookBody {
        match self.dialect(event, false) {
            Some((name, payload)) => WebhookBody::standard(event, name, payload),
            None => WebhookBody::Skip,
        }
    }
}

impl DialectChat {
    /// The seed's event for a canonical one: its name and payload.
    fn dialect(&self, event: &Event, live: bool) -> Option<(&'static str, Value)> {
        let session = event.session_id.as_deref()?;
        let number = ids::id_value(session);
        let (name, payload) = match &event.body {
            EventBody::MessageReceived(e) | EventBody::MessageSent(e) => {
                let m = &e.message;
                ("message:new", json!({ "whatsappNumberId": number, "chatId": m.chat_id, "message": message_out(m) }))
            }
            EventBody::ChatUpdated(u) => {
                let c = &u.chat;
                // Seed 003 lists these five; the chat list carries the rest.
                let chat = json!({
                    "id": c.id,
                    "contactName": contact_name(c),
                    "lastMessage": c.last_message,
                    "lastMessageTime": c.last_message_at.map(iso),
                    "unreadCount": c.unread_count,
                });
                ("chat:updated", json!({ "whatsappNumberId": number, "chat": chat }))
            }
            EventBody::ChatRead(r) => ("chat:read", json!({ "chatId": r.chat_id, "whatsappNumberId": number })),
            EventBody::MessageStatus(m) => {
                let id = m.wa_message_id.as_deref().unwrap_or(&m.message_id);
                let payload = json!({ "whatsappNumberId": number, "chatId": m.chat_id, "messageId": id, "status": m.status });
                ("message:status", payload)
            }
            EventBody::SessionStatus(s) => {
                let payload = json!({
                    "whatsappNumberId": number,
                    "status": status(s.status),
                    "lastConnected": self.last_connected(session, s.status, event, live),
                    "phoneNumber": s.phone,
                });
                ("whatsapp:status", payload)
            }
            EventBody::SessionQr(q) => ("whatsapp:qr", json!({ "whatsappNumberId": number, "qrCode": q.data_url })),
            _ => return None,
        };
        Some((name, payload))
    }
}

export_plugin!(DialectChat);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use wagate_plugin_sdk::model::events::{ChatRead, SessionQr, SessionStatusChanged};
    use wagate_plugin_sdk::testing::{FakeHost, Harness, at, chat, event, identity, message, qr, session};
    use wagate_plugin_sdk::{Target, json};

    fn harness() -> Harness<DialectChat> {
        let c = Chat { id: "c1".into(), name: None, number: Some("+628".into()), ..chat("1", "c1") };
        let m = Message { id: "m1".into(), wa_message_id: Some("W1".into()), ..message("1", "c1", "hi") };
        let host = FakeHost {
            sessions: vec![Session { phone: Some("+1".into()), ..session("1") }],
            chats: HashMap::from([("1".to_owned(), vec![c])]),
            history: HashMap::from([("c1".to_owned(), vec![m])]),
            ..Default::default()
        };
        Harness::with_host(host, json!({})).unwrap()
    }

    fn emitted(actions: &[Action]) -> &Emit {
        actions.iter().find_map(|a| if let Action::Emit(e) = a { Some(e) } else { None }).unwrap()
    }

    fn status_change(status: SessionStatus) -> EventBody {
        EventBody::SessionStatus(SessionStatusChanged {
            status,
            previous_status: None,
            reason: None,
            phone: Some("+1".into()),
            display_name: None,
        })
    }

    #[test]
    fn takes_no_config() {
        let err = Harness::<DialectChat>::new(json!({"x": 1})).err().unwrap();
        assert!(err.starts_with("invalid config at 'x': unknown field `x`"), "{err}");
    }

    #[test]
    fn requests_answer_the_caller() {
        let mut h = harness();
        let me = identity("u");
        let out = h.client_event(&me, "chat:get-list", json!({"whatsappNumberId": 1, "limit": 50, "offset": 0}));
        assert_eq!(out[0], Action::Join("whatsapp:1".into()));
        let e = emitted(&out);
        assert_eq!(e.event, "chat:list");
        assert_eq!(e.payload["whatsappNumberId"], json!(1));
        assert_eq!(e.payload["chats"][0]["contactName"], "+628");
        assert_eq!(e.payload["chats"][0]["isPinned"], false);
        assert_eq!(e.payload["chats"][0]["lastMessageTime"], iso(at()));
        let out = h.client_event(&me, "chat:get-history", json!({"chatId": "c1"}));
        assert_eq!(emitted(&out).payload["messages"][0]["type"], "TEXT");
        assert_eq!(emitted(&out).payload["messages"][0]["messageId"], "W1");
        assert_eq!(emitted(&out).payload["messages"][0]["status"], "DELIVERED");
        let out = h.client_event(&me, "chat:mark-read", json!({"chatId": "c1"}));
        assert_eq!(out[1], Action::MarkRead { session: "1".into(), chat: "c1".into() });
        let out = h.client_event(&me, "whatsapp:get-status", json!({"whatsappNumberId": 1}));
        assert_eq!(
            emitted(&out).payload,
            json!({"whatsappNumberId": 1, "status": "CONNECTED", "lastConnected": iso(at()), "phoneNumber": "+1"})
        );
    }

    #[test]
    fn refusals_are_error_events() {
        let mut h = harness();
        let me = identity("u");
        let cases = [
            ("chat:get-history", json!({"chatId": "nope"}), "Chat not found or unauthorized"),
            ("chat:mark-read", json!({"chatId": 5.5}), "chatId must be a string"),
            ("chat:get-list", json!({"whatsappNumberId": 2}), "WhatsApp number not found or unauthorized"),
            ("chat:get-list", json!({"whatsappNumberId": 1, "limit": "x"}), "limit must be an integer from 0 to 500"),
            ("whatsapp:get-status", json!("1"), "whatsapp:get-status expects an object payload"),
        ];
        for (name, payload, message) in cases {
            let out = h.client_event(&me, name, payload);
            assert_eq!(out.len(), 1, "{name}: nothing but the error");
            assert_eq!(emitted(&out).payload, json!({"message": message}), "{name}");
        }
    }

    #[test]
    fn pushes_go_to_the_number_room() {
        let mut h = harness();
        let out = h.transform(&event("1", status_change(SessionStatus::Connected)));
        assert_eq!(out[0].target, Target::Room("whatsapp:1".into()));
        assert_eq!(out[0].payload["lastConnected"], "2026-01-15T10:30:00.000Z");
        let five_minutes = wagate_plugin_sdk::chrono::Duration::minutes(5);
        let later = Event { timestamp: at() + five_minutes, ..event("1", status_change(SessionStatus::Reconnecting)) };
        let out = h.transform(&later);
        assert_eq!(out[0].payload["lastConnected"], "2026-01-15T10:30:00.000Z", "remembered");
        assert_eq!(out[0].payload["status"], "RECONNECTING");
        let read = EventBody::ChatRead(ChatRead { chat_id: "c1".into(), chat: chat("1", "c1") });
        let out = h.transform(&event("1", read));
        assert_eq!(out[0].payload, json!({"chatId": "c1", "whatsappNumberId": 1}));
        let q = SessionQr { data_url: "data:image/png;base64,AA".into(), ..qr() };
        let out = h.transform(&event("sales", EventBody::SessionQr(q)));
        assert_eq!(out[0].payload, json!({"whatsappNumberId": "sales", "qrCode": "data:image/png;base64,AA"}));
    }

    #[test]
    fn webhooks_get_what_the_sockets_get_in_the_standard_envelope() {
        let mut h = harness();
        let connected = event("1", status_change(SessionStatus::Connected));
        let socket = h.transform(&connected).remove(0);
        assert_eq!(
            h.webhook(&connected),
            WebhookBody::Json(json!({
                "type": "whatsapp:status",
                "timestamp": "2026-01-15T10:30:00.000Z",
                "data": socket.payload,
            }))
        );
        // A replayed old event does not move the remembered time back.
        let earlier = Event { timestamp: at() - wagate_plugin_sdk::chrono::Duration::hours(1), ..connected };
        assert!(matches!(h.webhook(&earlier), WebhookBody::Json(_)));
        assert_eq!(h.host(|host| host.kv.get("lastConnected:1").cloned()).as_deref(), Some("2026-01-15T10:30:00.000Z"));
        let presence = EventBody::Other(wagate_plugin_sdk::UnknownEvent { name: "presence.update".into(), payload: json!({}) });
        assert_eq!(h.webhook(&event("1", presence)), WebhookBody::Skip, "what the frontend is not told is not sent");
    }
}
