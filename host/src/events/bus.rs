use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use super::Event;
use crate::metrics::EventLabels;

/// Fan-out of committed events to in-process consumers (realtime, bots, stats). Unbounded per
/// subscriber on purpose: a slow consumer must delay, never drop, an event; each consumer is
/// a single task that only hands events on. How many wait for each is a metric.
#[derive(Clone, Default)]
pub struct EventBus {
    subscribers: Arc<Mutex<Vec<Subscriber>>>,
    committed: Family<EventLabels, Counter>,
    queued: Family<ConsumerLabels, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct ConsumerLabels {
    consumer: &'static str,
}

struct Subscriber {
    tx: mpsc::UnboundedSender<Arc<Event>>,
    queued: Gauge,
}

/// One consumer's events, in commit order.
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<Arc<Event>>,
    queued: Gauge,
}

impl Subscription {
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        let event = self.rx.recv().await;
        if event.is_some() {
            self.queued.dec();
        }
        event
    }

    /// The next event if one is waiting, without waiting for it.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        let event = self.rx.try_recv().ok();
        if event.is_some() {
            self.queued.dec();
        }
        event
    }
}

impl EventBus {
    /// `consumer` names the subscriber in the queue-depth metric.
    pub fn subscribe(&self, consumer: &'static str) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = self.queued.get_or_create(&ConsumerLabels { consumer }).clone();
        self.subscribers.lock().expect("bus lock").push(Subscriber { tx, queued: queued.clone() });
        Subscription { rx, queued }
    }

    /// A bus of its own whose consumers' queue depths are reported with this one's, for a
    /// task that takes events from here and hands them on in another order or with others
    /// (a cluster node's feed); what it publishes is not counted as committed again.
    pub fn relay(&self) -> EventBus {
        EventBus { subscribers: Arc::default(), committed: Family::default(), queued: self.queued.clone() }
    }

    pub fn publish(&self, event: Arc<Event>) {
        self.committed.get_or_create(&EventLabels { event: event.name().to_owned() }).inc();
        let mut subs = self.subscribers.lock().expect("bus lock");
        subs.retain(|s| {
            // Counted before the send: the consumer may take the event before this returns.
            s.queued.inc();
            let sent = s.tx.send(event.clone()).is_ok();
            if !sent {
                s.queued.dec();
            }
            sent
        });
    }

    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register("events_committed", "Events committed (and journaled), by name", self.committed.clone());
        registry.register("bus_queued", "Committed events a consumer has not yet taken", self.queued.clone());
    }
}
