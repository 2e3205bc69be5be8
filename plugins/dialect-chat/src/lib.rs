//! The chat protocol of seed 003 (see README.md): a WhatsApp number is a session, its
//! `whatsappNumberId` the session id (a JSON number when the id is numeric).

use wagate_plugin_sdk::{Action, ClientEvent, Emit, Event, Identity, Plugin, Value, export_plugin, host, ids, json};

const MAX_PAGE: u32 = 500;
const DEFAULT_PAGE: u32 = 50;

pub struct DialectChat;

/// Every number has its own room; a socket joins it by asking about the number.
fn room(session: &str) -> String {
    format!("whatsapp:{session}")
}

fn error(message: impl Into<String>) -> Vec<Action> {
    vec![Emit::to_caller("error", json!({ "message": message.into() })).into()]
}

/// Seed 003's statuses: PENDING, PAIRING, CONNECTED, DISCONNECTED, RECONNECTING.
fn status(canonical: Option<&str>) -> &'static str {
    match canonical {
        Some("INIT") => "PENDING",
        Some("QR_REQUIRED" | "PAIRING") => "PAIRING",
        Some("CONNECTED") => "CONNECTED",
        Some("RECONNECTING") => "RECONNECTING",
        _ => "DISCONNECTED",
    }
}

fn chat_out(c: &Value) -> Value {
    json!({
        "id": c["id"],
        "contactName": c["name"].as_str().or(c["number"].as_str()).or(c["jid"].as_str()),
        "contactNumber": c["number"],
        "contactJid": c["jid"],
        "lastMessage": c["lastMessage"],
        "lastMessageTime": c["lastMessageAt"],
        "unreadCount": c["unreadCount"],
        "isGroup": c["isGroup"],
        "isPinned": c["pinned"],
        "isArchived": c["archived"],
    })
}

fn message_out(m: &Value) -> Value {
    json!({
        "id": m["id"],
        "messageId": m["waMessageId"].as_str().or(m["id"].as_str()),
        "fromJid": m["fromJid"],
        "fromNumber": m["fromNumber"],
        "fromName": m["fromName"],
        "content": m["content"],
        "type": m["type"].as_str().unwrap_or("other").to_ascii_uppercase(),
        "isFromMe": m["fromMe"],
        "status": m["status"],
        "timestamp": m["timestamp"],
    })
}

fn session_of(id: &str) -> Result<Option<Value>, String> {
    Ok(match host::sessions()? {
        Value::Array(list) => list.into_iter().find(|s| s["id"] == id),
        _ => None,
    })
}

/// `payload` must be an object; its number id, or the refusal to send.
fn number_in(event: &ClientEvent) -> Result<String, Vec<Action>> {
    if !event.payload.is_object() {
        return Err(error(format!("{} expects an object payload", event.name)));
    }
    ids::id_in(&event.payload, "whatsappNumberId").ok_or_else(|| error("whatsappNumberId must be a number or a string"))
}

fn chat_in(event: &ClientEvent) -> Result<(String, Value), Vec<Action>> {
    if !event.payload.is_object() {
        return Err(error(format!("{} expects an object payload", event.name)));
    }
    let id = ids::id_in(&event.payload, "chatId").ok_or_else(|| error("chatId must be a string"))?;
    match host::chat(&id) {
        Ok(Some(chat)) => Ok((id, chat)),
        Ok(None) => Err(error("Chat not found or unauthorized")),
        Err(e) => Err(error(e)),
    }
}

fn page(event: &ClientEvent) -> Result<(u32, u32), Vec<Action>> {
    let limit = ids::uint_in(&event.payload, "limit", DEFAULT_PAGE, MAX_PAGE).map_err(error)?;
    let offset = ids::uint_in(&event.payload, "offset", 0, u32::MAX).map_err(error)?;
    Ok((limit, offset))
}

fn status_payload(session: &Value) -> Value {
    let id = session["id"].as_str().unwrap_or_default();
    json!({
        "whatsappNumberId": ids::id_value(id),
        "status": status(session["status"].as_str()),
        "lastConnected": session["lastConnectedAt"],
        "phoneNumber": session["phone"],
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
                let chats: Vec<Value> = chats.as_array().map(|a| a.iter().map(chat_out).collect()).unwrap_or_default();
                let payload = json!({ "whatsappNumberId": ids::id_value(&number), "chats": chats });
                vec![Action::Join(room(&number)), Emit::to_caller("chat:list", payload).into()]
            }
            "chat:get-history" => {
                let (id, chat) = chat_in(event)?;
                let (limit, offset) = page(event)?;
                let session = chat["sessionId"].as_str().unwrap_or_default().to_owned();
                let messages = host::history(&session, &id, limit, offset).map_err(error)?;
                let messages: Vec<Value> =
                    messages.as_array().map(|a| a.iter().map(message_out).collect()).unwrap_or_default();
                let payload = json!({ "chatId": id, "messages": messages });
                vec![Action::Join(room(&session)), Emit::to_caller("chat:history", payload).into()]
            }
            "chat:mark-read" => {
                let (id, chat) = chat_in(event)?;
                let session = chat["sessionId"].as_str().unwrap_or_default().to_owned();
                // Joined first, so this socket hears the `chat:read` the host answers with.
                vec![Action::Join(room(&session)), Action::MarkRead { session, chat: id }]
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
    fn last_connected(&self, session: &str, event: &Event) -> Value {
        let key = format!("lastConnected:{session}");
        if event.str("status") == Some("CONNECTED") {
            let ts = event.get("timestamp").clone();
            if let Some(t) = ts.as_str() {
                let _ = host::kv_set(&key, t);
            }
            return ts;
        }
        host::kv_get(&key).map(Value::from).unwrap_or(Value::Null)
    }
}

impl Plugin for DialectChat {
    fn init(config: Value) -> Result<Self, String> {
        match config {
            Value::Object(map) if map.is_empty() => Ok(DialectChat),
            Value::Null => Ok(DialectChat),
            _ => Err("dialect-chat takes no config: bind it with {}".into()),
        }
    }

    fn on_client_event(&mut self, _caller: &Identity, event: ClientEvent) -> Vec<Action> {
        self.request(&event).unwrap_or_else(|refusal| refusal)
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        let Some(session) = event.session.as_deref() else {
            return Vec::new();
        };
        let number = ids::id_value(session);
        let (name, payload) = match event.name.as_str() {
            "message.received" | "message.sent" => {
                let m = event.get("message");
                ("message:new", json!({ "whatsappNumberId": number, "chatId": m["chatId"], "message": message_out(m) }))
            }
            "chat.updated" => {
                let c = event.get("chat");
                // Seed 003 lists these five; the chat list carries the rest.
                let chat = json!({
                    "id": c["id"],
                    "contactName": chat_out(c)["contactName"],
                    "lastMessage": c["lastMessage"],
                    "lastMessageTime": c["lastMessageAt"],
                    "unreadCount": c["unreadCount"],
                });
                ("chat:updated", json!({ "whatsappNumberId": number, "chat": chat }))
            }
            "chat.read" => ("chat:read", json!({ "chatId": event.get("chatId"), "whatsappNumberId": number })),
            "message.status" => {
                let id = event.str("waMessageId").or(event.str("messageId"));
                let payload = json!({ "whatsappNumberId": number, "chatId": event.get("chatId"), "messageId": id, "status": event.get("status") });
                ("message:status", payload)
            }
            "session.status" => {
                let payload = json!({
                    "whatsappNumberId": number,
                    "status": status(event.str("status")),
                    "lastConnected": self.last_connected(session, event),
                    "phoneNumber": event.get("phone"),
                });
                ("whatsapp:status", payload)
            }
            "session.qr" => ("whatsapp:qr", json!({ "whatsappNumberId": number, "qrCode": event.get("dataUrl") })),
            _ => return Vec::new(),
        };
        vec![Emit::to_room(room(session), name, payload)]
    }
}

export_plugin!(DialectChat);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use wagate_plugin_sdk::testing::{FakeHost, Harness, event, identity};
    use wagate_plugin_sdk::{Target, json};

    fn harness() -> Harness<DialectChat> {
        let chat = json!({"id": "c1", "jid": "628@s.whatsapp.net", "number": "+628", "name": null, "lastMessage": "hi",
            "lastMessageAt": "t", "unreadCount": 2, "isGroup": false, "pinned": false, "archived": false});
        let msg = json!({"id": "m1", "waMessageId": "W1", "fromJid": "628@s.whatsapp.net", "fromNumber": "+628", "fromName": "J",
            "content": "hi", "type": "text", "fromMe": false, "status": "DELIVERED", "timestamp": "t"});
        let host = FakeHost {
            sessions: json!([{"id": "1", "status": "CONNECTED", "lastConnectedAt": "t0", "phone": "+1"}]),
            chats: HashMap::from([("1".to_owned(), json!([chat]))]),
            history: HashMap::from([("c1".to_owned(), json!([msg]))]),
            ..Default::default()
        };
        Harness::with_host(host, json!({})).unwrap()
    }

    fn emitted(actions: &[Action]) -> &Emit {
        actions.iter().find_map(|a| if let Action::Emit(e) = a { Some(e) } else { None }).unwrap()
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
        let out = h.client_event(&me, "chat:get-history", json!({"chatId": "c1"}));
        assert_eq!(emitted(&out).payload["messages"][0]["type"], "TEXT");
        assert_eq!(emitted(&out).payload["messages"][0]["messageId"], "W1");
        let out = h.client_event(&me, "chat:mark-read", json!({"chatId": "c1"}));
        assert_eq!(out[1], Action::MarkRead { session: "1".into(), chat: "c1".into() });
        let out = h.client_event(&me, "whatsapp:get-status", json!({"whatsappNumberId": 1}));
        assert_eq!(
            emitted(&out).payload,
            json!({"whatsappNumberId": 1, "status": "CONNECTED", "lastConnected": "t0", "phoneNumber": "+1"})
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
        let out =
            h.transform(&event("session.status", json!({"sessionId": "1", "status": "CONNECTED", "phone": "+1"})));
        assert_eq!(out[0].target, Target::Room("whatsapp:1".into()));
        assert_eq!(out[0].payload["lastConnected"], "2026-01-15T10:30:00.000Z");
        let out = h.transform(&event("session.status", json!({"sessionId": "1", "status": "RECONNECTING"})));
        assert_eq!(out[0].payload["lastConnected"], "2026-01-15T10:30:00.000Z", "remembered");
        let out = h.transform(&event("chat.read", json!({"sessionId": "1", "chatId": "c1"})));
        assert_eq!(out[0].payload, json!({"chatId": "c1", "whatsappNumberId": 1}));
        let out =
            h.transform(&event("session.qr", json!({"sessionId": "sales", "dataUrl": "data:image/png;base64,AA"})));
        assert_eq!(out[0].payload, json!({"whatsappNumberId": "sales", "qrCode": "data:image/png;base64,AA"}));
    }
}
