//! Test plugin exercising every hook and host import.

use serde::Deserialize;
use wagate_plugin_sdk::model::send::SendMessage;
use wagate_plugin_sdk::{
    Action, ClientEvent, Emit, Event, EventBody, Identity, Plugin, Target, Value, WebhookBody, host, json, serde_json,
};

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

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
            // Contract 1.1: messages of every kind, and links to files.
            "relay:queue" => {
                let session = p["session"].as_str().unwrap_or_default();
                let queued = match p["op"].as_str().unwrap_or_default() {
                    "send" => match serde_json::from_value::<SendMessage>(p["message"].clone()) {
                        Ok(m) => host::send(session, &m),
                        Err(e) => Err(host::HostError::Invalid(e.to_string())),
                    },
                    "react" => host::react(session, s(&p["message"]), s(&p["emoji"])),
                    "edit" => host::edit(session, s(&p["message"]), s(&p["text"])),
                    "revoke" => host::revoke(session, s(&p["message"])),
                    // Sends from a call: only the first 16 are taken.
                    "flood" => (0..20).map(|i| host::send(session, &SendMessage::text(s(&p["to"]), format!("flood {i}")))).collect(),
                    other => Err(host::HostError::Invalid(format!("unknown op {other}"))),
                };
                vec![Emit::to_caller("relay:queued", json!({ "error": queued.err().map(|e| e.to_string()) })).into()]
            }
            "relay:link" => {
                let link = host::media_link(s(&p["session"]), s(&p["message"]), p["ttl"].as_u64().unwrap_or(0) as u32);
                let (url, error) = match link {
                    Ok(url) => (url, None),
                    Err(e) => (None, Some(e.to_string())),
                };
                vec![Emit::to_caller("relay:linked", json!({ "url": url, "error": error })).into()]
            }
            _ => Vec::new(),
        }
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        let mut payload = json!({ "seq": event.seq, "label": self.label, "original": event });
        // Transforms may not send: the host says so.
        if let EventBody::MessageReceived(r) = &event.body
            && r.message.content == "send from transform"
        {
            let refused = host::send(&r.message.session_id, &SendMessage::text(&r.message.from_jid, "no"));
            payload["sendRefused"] = json!(refused.err().map(|e| e.to_string()));
        }
        let target = match &event.session_id {
            Some(s) => Target::Session(s.clone()),
            None => Target::Tenant,
        };
        vec![Emit::new(format!("relay:{}", event.name()), payload, target)]
    }

    /// A message's text picks the answer: `skip`, `canonical`, `huge` (past the body limit);
    /// anything else gets the relay's own body.
    fn webhook(&mut self, event: &Event) -> WebhookBody {
        let text = match &event.body {
            EventBody::MessageReceived(r) => r.message.content.as_str(),
            _ => "",
        };
        match text {
            "skip" => WebhookBody::Skip,
            "canonical" => WebhookBody::Canonical,
            "huge" => WebhookBody::Json(json!({ "filler": "x".repeat(300 * 1024) })),
            _ => WebhookBody::Json(json!({ "relay": self.label, "seq": event.seq, "type": event.name() })),
        }
    }

    fn on_event(&mut self, event: &Event) -> Vec<Action> {
        match &event.body {
            EventBody::MessageReceived(r) if r.message.content == "ping" => vec![Action::SendText {
                session: event.session_id.clone().unwrap_or_default(),
                to: r.message.from_jid.clone(),
                text: format!("pong from {}", self.label),
            }],
            // Queued after the returned actions: the pong goes out first, then the quoted one.
            EventBody::MessageReceived(r) if r.message.content == "quote me" => {
                let m = &r.message;
                let quoted = SendMessage::text(&m.from_jid, "quoted").replying_to(&m.id);
                let _ = host::send(&m.session_id, &quoted);
                let _ = host::react(&m.session_id, &m.id, "👍");
                vec![Action::SendText { session: m.session_id.clone(), to: m.from_jid.clone(), text: "first".into() }]
            }
            _ => Vec::new(),
        }
    }
}

wagate_plugin_sdk::export_plugin!(Relay);
