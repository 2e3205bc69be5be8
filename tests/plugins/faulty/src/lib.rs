//! Test plugin: one misbehaviour per mode, on every transform, client event and webhook body.

use serde::Deserialize;
use wagate_plugin_sdk::{Action, ClientEvent, Emit, Event, Identity, Plugin, Target, WebhookBody, json};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default = "ok")]
    mode: String,
    panic_at_seq: Option<u64>,
}

fn ok() -> String {
    "ok".into()
}

pub struct Faulty {
    mode: String,
    /// `panicAtSeq`: panic on this one event only (shows which events shared a call).
    panic_at_seq: Option<u64>,
}

impl Faulty {
    fn misbehave(&self) -> Vec<Emit> {
        match self.mode.as_str() {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    // 16 MiB chunks: the cap (32 MiB by default) is passed on the second grow,
                    // however busy the machine is, well inside the call deadline.
                    hoard.push(vec![0u8; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("faulty plugin panics on purpose"),
            "foreign-room" => {
                vec![Emit::new("faulty:leak", json!({ "secret": true }), Target::Room("t/victim".into()))]
            }
            "bad-action" => vec![Emit::new("", json!(null), Target::Tenant)],
            _ => vec![Emit::to_tenant("faulty:ok", json!({ "mode": self.mode }))],
        }
    }
}

impl Plugin for Faulty {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(Self { mode: config.mode, panic_at_seq: config.panic_at_seq })
    }

    fn on_client_event(&mut self, _caller: &Identity, _event: ClientEvent) -> Vec<Action> {
        self.misbehave().into_iter().map(Action::Emit).collect()
    }

    fn webhook(&mut self, _event: &Event) -> WebhookBody {
        let out = self.misbehave();
        WebhookBody::Json(json!({ "faulty": out.first().map(|e| e.event.clone()) }))
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        if self.panic_at_seq == Some(event.seq) {
            panic!("faulty plugin panics on event {}", event.seq);
        }
        self.misbehave()
    }
}

wagate_plugin_sdk::export_plugin!(Faulty);
