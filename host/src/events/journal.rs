use std::sync::Arc;

use chrono::Utc;

use super::{Event, EventBody, EventBus, Tail};
use crate::cluster::feed::Announcer;
use crate::model::SessionKey;
use crate::store::{StoreResult, WriteTx, journal};
use crate::webhooks::Routes;

/// An event not yet numbered: it gets its sequence number inside the write that caused it.
pub struct EventDraft {
    tenant: String,
    session: Option<String>,
    body: EventBody,
}

impl EventDraft {
    pub fn session(key: &SessionKey, body: EventBody) -> Self {
        Self { tenant: key.tenant.clone(), session: Some(key.session.clone()), body }
    }

    pub fn tenant(tenant: &str, body: EventBody) -> Self {
        Self { tenant: tenant.to_owned(), session: None, body }
    }
}

/// Commits a write together with the events it causes, each stored in the journal under its
/// `seq` with its webhook outbox rows, then publishes them while the writer lock is still held,
/// so subscribers see each tenant's events in sequence order. What is published was committed;
/// what was committed is journaled.
#[derive(Clone)]
pub struct Journal {
    bus: EventBus,
    routes: Routes,
    tail: Tail,
    /// In a cluster, how each commit is announced to the other nodes.
    announce: Option<Arc<Announcer>>,
}

impl Journal {
    pub fn new(bus: EventBus, routes: Routes) -> Self {
        Self { bus, routes, tail: Tail::default(), announce: None }
    }

    /// Every commit also tells the other nodes how far each of its tenants' journals reaches.
    pub fn announcing(mut self, announcer: Announcer) -> Self {
        self.announce = Some(Arc::new(announcer));
        self
    }

    /// Where readers of the stored journal wait for the next commit.
    pub fn tail(&self) -> &Tail {
        &self.tail
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    pub async fn commit(&self, mut w: WriteTx, drafts: Vec<EventDraft>) -> StoreResult<Vec<Arc<Event>>> {
        let now = Utc::now();
        // One sequence update per tenant of the write, however many events it has.
        let mut next: Vec<(String, u64)> = Vec::new();
        for d in &drafts {
            match next.iter_mut().find(|(t, _)| *t == d.tenant) {
                Some((_, n)) => *n += 1,
                None => next.push((d.tenant.clone(), 1)),
            }
        }
        for (tenant, n) in &mut next {
            *n = w.next_seqs(tenant, *n).await?;
        }
        let mut events = Vec::with_capacity(drafts.len());
        for d in drafts {
            let slot = next.iter_mut().find(|(t, _)| *t == d.tenant).expect("counted above");
            let seq = slot.1;
            slot.1 += 1;
            events.push(Arc::new(Event {
                tenant_id: d.tenant,
                session_id: d.session,
                seq,
                timestamp: now,
                body: d.body,
            }));
        }
        journal::append(&mut w, &events).await?;
        let wake = self.routes.enqueue(&mut w, &events, now.timestamp_millis()).await?;
        if let Some(a) = &self.announce {
            for (tenant, next) in &next {
                journal::announce(&mut w, a.channel(), &a.payload(tenant, next - 1)).await?;
            }
        }
        let committed = w.commit().await?;
        for e in &events {
            self.bus.publish(e.clone());
        }
        for (tenant, next) in &next {
            self.tail.advanced(tenant, next - 1);
        }
        drop(committed);
        for worker in wake {
            worker.notify_one();
        }
        Ok(events)
    }
}
