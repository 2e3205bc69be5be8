//! Test plugin: sleeps inside a WASI call (`wasi:clocks` + `wasi:io/poll`) on every hook, the
//! one way a guest can wait without running wasm code that an epoch deadline would stop. Used
//! to show the host's own deadline and per-tenant delivery hold.

use std::time::Duration;

use wagate_plugin_sdk::{Action, ClientEvent, Emit, Event, Identity, Plugin, Value, json};

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
    fn init(config: Value) -> Result<Self, String> {
        let ms = config.get("sleepMs").and_then(Value::as_u64).unwrap_or(0);
        Ok(Self { sleep: Duration::from_millis(ms) })
    }

    fn on_client_event(&mut self, _caller: &Identity, event: ClientEvent) -> Vec<Action> {
        self.nap();
        vec![Emit::to_caller("sleeper:woke", json!({ "event": event.name })).into()]
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        self.nap();
        vec![Emit::to_tenant(format!("sleeper:{}", event.name), event.payload.clone())]
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

    #[test]
    fn zero_means_no_sleep_and_events_pass_through() {
        let mut s = Sleeper::init(json!({})).unwrap();
        let started = std::time::Instant::now();
        let ev = Event { name: "session.status".into(), tenant: "t".into(), session: None, seq: 1, payload: json!({"a":1}) };
        let out = s.transform(&ev);
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(out.len(), 1);
    }
}
