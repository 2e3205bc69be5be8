//! Test plugin exercising every hook and host import.

use wagate_plugin_sdk::{Action, ClientEvent, Emit, Event, Identity, Plugin, Target, Value, host, json};

pub struct Relay {
    label: String,
}

impl Plugin for Relay {
    fn init(config: Value) -> Result<Self, String> {
        if cfg!(feature = "strict") && config.get("allowStrict") != Some(&json!(true)) {
            return Err("strict relay refuses this config".into());
        }
        if config.get("refuse").is_some() {
            return Err(format!("refused: {}", config["refuse"]));
        }
        let label = config.get("label").and_then(Value::as_str).unwrap_or("none").to_owned();
        host::info(&format!("relay {label} ready"));
        Ok(Self { label })
    }

    fn map_auth(&mut self, claims: &Value, mut identity: Identity) -> Result<Identity, String> {
        if claims.get("blocked") == Some(&json!(true)) {
            return Err("blocked by relay".into());
        }
        if let Some(user) = claims.get("userId").and_then(Value::as_str) {
            identity.user = Some(user.to_owned());
        }
        identity.roles = vec!["relayed".into()];
        if let Some(room) = claims.get("room").and_then(Value::as_str) {
            identity.rooms.push(room.to_owned());
        }
        // Attempting to reach another tenant's room: the host must keep it inside this one.
        identity.tenant = "someone-else".into();
        Ok(identity)
    }

    fn on_client_event(&mut self, caller: &Identity, event: ClientEvent) -> Vec<Action> {
        let p = &event.payload;
        match event.name.as_str() {
            "$connect" => vec![
                Emit::to_caller(
                    "relay:hello",
                    json!({ "user": caller.user, "roles": caller.roles, "label": self.label }),
                )
                .into(),
            ],
            "relay:echo" => vec![Emit::to_caller("relay:echoed", json!({ "payload": p, "label": self.label })).into()],
            "relay:join" => vec![Action::Join(p.as_str().unwrap_or_default().to_owned())],
            "relay:leave" => vec![Action::Leave(p.as_str().unwrap_or_default().to_owned())],
            "relay:room" => {
                vec![Emit::to_room(p["room"].as_str().unwrap_or_default(), "relay:said", p["text"].clone()).into()]
            }
            "relay:count" => {
                let n = host::kv_get("count").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
                let _ = host::kv_set("count", &n.to_string());
                vec![Emit::to_caller("relay:counted", json!({ "count": n })).into()]
            }
            "relay:sessions" => {
                let sessions = host::sessions().unwrap_or(Value::Null);
                let chats = p.as_str().map(|s| host::chats(s, 10, 0).unwrap_or(Value::Null));
                vec![
                    Emit::to_caller(
                        "relay:data",
                        json!({ "sessions": sessions, "chats": chats, "now": host::now_ms() }),
                    )
                    .into(),
                ]
            }
            "relay:send" => vec![Action::SendText {
                session: p["session"].as_str().unwrap_or_default().to_owned(),
                to: p["to"].as_str().unwrap_or_default().to_owned(),
                text: p["text"].as_str().unwrap_or_default().to_owned(),
            }],
            _ => Vec::new(),
        }
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        let payload = json!({ "seq": event.seq, "label": self.label, "original": event.payload });
        let target = match &event.session {
            Some(s) => Target::Session(s.clone()),
            None => Target::Tenant,
        };
        vec![Emit::new(format!("relay:{}", event.name), payload, target)]
    }

    fn on_event(&mut self, event: &Event) -> Vec<Action> {
        let message = event.get("message");
        if event.name == "message.received" && message["content"] == "ping" {
            return vec![Action::SendText {
                session: event.session.clone().unwrap_or_default(),
                to: message["fromJid"].as_str().unwrap_or_default().to_owned(),
                text: format!("pong from {}", self.label),
            }];
        }
        Vec::new()
    }
}

wagate_plugin_sdk::export_plugin!(Relay);
