//! Test plugin exercising every hook and host import.

use serde::Deserialize;
use wagate_plugin_sdk::{Action, ClientEvent, Emit, Event, EventBody, Identity, Plugin, Target, Value, host, json};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    label: Option<String>,
    refuse: Option<Value>,
    allow_strict: Option<bool>,
}

pub struct Relay {
    label: String,
}

impl Plugin for Relay {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        if cfg!(feature = "strict") && config.allow_strict != Some(true) {
            return Err("strict relay refuses this config".into());
        }
        if let Some(refuse) = config.refuse {
            return Err(format!("refused: {refuse}"));
        }
        let label = config.label.unwrap_or_else(|| "none".into());
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
                let sessions = host::sessions().ok();
                let chats = p.as_str().map(|s| host::chats(s, 10, 0).ok());
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
        let payload = json!({ "seq": event.seq, "label": self.label, "original": event });
        let target = match &event.session_id {
            Some(s) => Target::Session(s.clone()),
            None => Target::Tenant,
        };
        vec![Emit::new(format!("relay:{}", event.name()), payload, target)]
    }

    fn on_event(&mut self, event: &Event) -> Vec<Action> {
        match &event.body {
            EventBody::MessageReceived(r) if r.message.content == "ping" => vec![Action::SendText {
                session: event.session_id.clone().unwrap_or_default(),
                to: r.message.from_jid.clone(),
                text: format!("pong from {}", self.label),
            }],
            _ => Vec::new(),
        }
    }
}

wagate_plugin_sdk::export_plugin!(Relay);
