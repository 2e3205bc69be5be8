//! Test a plugin's logic natively with `cargo test`, no wasm involved.
//!
//! ```ignore
//! let mut h = Harness::<MyPlugin>::new(json!({"greeting": "hi"})).unwrap();
//! let emits = h.transform(&testing::event("session.qr", json!({"sessionId": "s1", "qr": "2@x"})));
//! ```

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::host::Level;
use crate::{Action, ClientEvent, Emit, Event, Identity, Plugin};

/// The host as a test sets it up: state, clock, data to read, and what was logged.
#[derive(Debug, Default, Clone)]
pub struct FakeHost {
    pub kv: HashMap<String, String>,
    pub now_ms: u64,
    /// What `host::sessions()` returns.
    pub sessions: Value,
    /// Per session id, what `host::chats()` pages through.
    pub chats: HashMap<String, Value>,
    /// Per chat id, what `host::history()` pages through.
    pub history: HashMap<String, Value>,
    pub logs: Vec<(Level, String)>,
}

thread_local! {
    static HOST: RefCell<FakeHost> = RefCell::new(FakeHost { sessions: json!([]), ..Default::default() });
}

pub(crate) fn with_host<T>(f: impl FnOnce(&mut FakeHost) -> T) -> T {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// A plugin under test, with the fake host of this thread.
pub struct Harness<P: Plugin> {
    pub plugin: P,
}

impl<P: Plugin> Harness<P> {
    /// Runs `init` with `config`, as the gateway does when a tenant binds the plugin.
    pub fn new(config: Value) -> Result<Self, String> {
        Self::with_host(FakeHost { sessions: json!([]), ..Default::default() }, config)
    }

    pub fn with_host(host: FakeHost, config: Value) -> Result<Self, String> {
        with_host(|h| *h = host);
        Ok(Self { plugin: P::init(config)? })
    }

    /// The fake host, to inspect logs and state or to change data between calls.
    pub fn host<T>(&self, f: impl FnOnce(&mut FakeHost) -> T) -> T {
        with_host(f)
    }

    pub fn map_auth(&mut self, claims: Value, identity: Identity) -> Result<Identity, String> {
        self.plugin.map_auth(&claims, identity)
    }

    pub fn client_event(&mut self, caller: &Identity, name: &str, payload: Value) -> Vec<Action> {
        self.plugin.on_client_event(caller, ClientEvent { name: name.to_owned(), payload })
    }

    pub fn transform(&mut self, event: &Event) -> Vec<Emit> {
        self.plugin.transform(event)
    }

    pub fn on_event(&mut self, event: &Event) -> Vec<Action> {
        self.plugin.on_event(event)
    }
}

/// A canonical event of tenant `t1` the way the host builds it: the envelope fields are
/// added to `payload` (`sessionId` is taken from it when present).
pub fn event(name: &str, mut payload: Value) -> Event {
    let session = payload.get("sessionId").and_then(Value::as_str).map(str::to_owned);
    if let Value::Object(map) = &mut payload {
        map.entry("tenantId").or_insert(json!("t1"));
        map.entry("timestamp").or_insert(json!("2026-01-15T10:30:00.000Z"));
        map.entry("seq").or_insert(json!(1));
    }
    let seq = payload.get("seq").and_then(Value::as_u64).unwrap_or(1);
    Event { name: name.to_owned(), tenant: "t1".into(), session, seq, payload }
}

/// An identity of tenant `t1`.
pub fn identity(user: &str) -> Identity {
    Identity { tenant: "t1".into(), user: Some(user.to_owned()), ..Default::default() }
}
