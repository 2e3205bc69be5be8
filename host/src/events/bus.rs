use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::Event;

/// Fan-out of committed events to in-process consumers (realtime, stats). Unbounded per
/// subscriber on purpose: a slow consumer must delay, never drop, an event; each consumer is
/// a single task that only hands events on.
#[derive(Clone, Default)]
pub struct EventBus {
    subscribers: Arc<Mutex<Vec<mpsc::UnboundedSender<Arc<Event>>>>>,
}

impl EventBus {
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Arc<Event>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.lock().expect("bus lock").push(tx);
        rx
    }

    pub fn publish(&self, event: Arc<Event>) {
        let mut subs = self.subscribers.lock().expect("bus lock");
        subs.retain(|s| s.send(event.clone()).is_ok());
    }
}
