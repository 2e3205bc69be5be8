use std::sync::Arc;

use chrono::Utc;

use super::{Event, EventBody, EventBus};
use crate::model::SessionKey;
use crate::store::{StoreResult, WriteTx};

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

/// Commits a write together with the events it causes, then publishes them while the writer
/// lock is still held, so subscribers see each tenant's events in sequence order.
#[derive(Clone)]
pub struct Journal {
    bus: EventBus,
}

impl Journal {
    pub fn new(bus: EventBus) -> Self {
        Self { bus }
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    pub async fn commit(&self, mut w: WriteTx, drafts: Vec<EventDraft>) -> StoreResult<Vec<Arc<Event>>> {
        let now = Utc::now();
        let mut events = Vec::with_capacity(drafts.len());
        for d in drafts {
            let seq = w.next_seq(&d.tenant).await?;
            events.push(Arc::new(Event {
                tenant_id: d.tenant,
                session_id: d.session,
                seq,
                timestamp: now,
                body: d.body,
            }));
        }
        let committed = w.commit().await?;
        for e in &events {
            self.bus.publish(e.clone());
        }
        drop(committed);
        Ok(events)
    }
}
