//! Test plugin: sleeps inside a WASI call (`wasi:clocks` + `wasi:io/poll`) on every hook, the
//! one way a guest can wait without running wasm code that an epoch deadline would stop. Used
//! to show the host's own deadline and per-tenant delivery hold.

use std::time::Duration;

use serde::Deserialize;
use wagate_plugin_sdk::{Action, ClientEvent, Emit, Event, Identity, Plugin, json};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    sleep_ms: u64,
    /// Sleeps once in `init`: a plugin slow to start, which the setup deadline allows for.
    #[serde(default)]
    init_sleep_ms: u64,
}

pub struct Sleeper {
    sleep: Duration,
}

impl Sleeper {
    fn nap(&self) {
        if !self.sleep.is_zero() {
            std::thread::sleep(self.sleep);
        }
    }
}

impl Plugin for Sleeper {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        std::thread::sleep(Duration::from_millis(config.init_sleep_ms));
        Ok(Self { sleep: Duration::from_millis(config.sleep_ms) })
    }

    fn on_client_event(&mut self, _caller: &Identity, event: ClientEvent) -> Vec<Action> {
        self.nap();
        vec![Emit::to_caller("sleeper:woke", json!({ "event": event.name })).into()]
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        self.nap();
        vec![Emit::to_tenant(format!("sleeper:{}", event.name()), event.payload())]
    }

    fn on_event(&mut self, _event: &Event) -> Vec<Action> {
        self.nap();
        Vec::new()
    }
}

wagate_plugin_sdk::export_plugin!(Sleeper);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::EventBody;
    use wagate_plugin_sdk::testing::{Harness, event, qr};

    #[test]
    fn zero_means_no_sleep_and_events_pass_through() {
        let mut h = Harness::<Sleeper>::new(json!({})).unwrap();
        let started = std::time::Instant::now();
        let ev = event("s1", EventBody::SessionQr(qr()));
        let out = h.transform(&ev);
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(out[0].event, "sleeper:session.qr");
        assert_eq!(out[0].payload, ev.payload());
    }
}
