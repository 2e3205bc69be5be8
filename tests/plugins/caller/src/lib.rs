//! Test plugin for the `http:outbound` capability: each bot event sends a GET to `url` and
//! emits `caller:answer` with the status and body (or `caller:error`); with `spin`, it then
//! runs wasm code without end, which the call's running budget must still stop although the
//! request's wait did not count. A transform tries a request too, and reports the refusal.

use serde::Deserialize;
use wagate_plugin_sdk::http::{self, Request};
use wagate_plugin_sdk::{Action, Emit, Event, Plugin, json};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    url: String,
    #[serde(default)]
    spin: bool,
}

pub struct Caller {
    config: Config,
}

impl Caller {
    fn call(&self) -> Emit {
        match http::send(&Request::get(&self.config.url)) {
            Ok(r) => Emit::to_tenant("caller:answer", json!({ "status": r.status, "body": r.text() })),
            Err(e) => Emit::to_tenant("caller:error", json!({ "error": e.to_string() })),
        }
    }
}

impl Plugin for Caller {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn on_event(&mut self, _event: &Event) -> Vec<Action> {
        let emit = self.call();
        if self.config.spin {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        vec![emit.into()]
    }

    fn transform(&mut self, _event: &Event) -> Vec<Emit> {
        vec![self.call()]
    }
}

wagate_plugin_sdk::export_plugin!(Caller);
