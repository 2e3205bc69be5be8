//! Which of a tenant's endpoints take which events, kept in memory so the journal can write
//! each event's outbox rows inside the event's own transaction without reading the endpoints
//! table on every commit. It changes only while the store's writer lock is held (endpoint
//! changes, disabling), so no commit sees it half-changed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use super::filter::EventFilter;
use crate::events::Event;
use crate::store::webhooks::{self as rows, EndpointRow, NewDelivery};
use crate::store::{StoreResult, WriteTx};

/// An enabled endpoint, as the journal sees it.
pub struct Route {
    pub endpoint_id: String,
    pub filter: EventFilter,
    /// `None`: every session's events, and the tenant's own.
    pub sessions: Option<Vec<String>>,
    /// Wakes the endpoint's delivery worker.
    pub wake: Arc<Notify>,
}

impl Route {
    fn takes(&self, ev: &Event) -> bool {
        if !self.filter.matches(ev.name()) {
            return false;
        }
        match (&self.sessions, &ev.session_id) {
            (None, _) => true,
            (Some(list), Some(s)) => list.iter().any(|x| x == s),
            // A session filter names sessions: tenant-wide events are not among them.
            (Some(_), None) => false,
        }
    }
}

#[derive(Clone, Default)]
pub struct Routes {
    by_tenant: Arc<RwLock<HashMap<String, Vec<Arc<Route>>>>>,
    /// Delay of a delivery's first attempt, in milliseconds.
    first_delay_ms: i64,
}

impl Routes {
    pub fn new(first_delay_ms: i64) -> Self {
        Self { by_tenant: Default::default(), first_delay_ms }
    }

    /// Sets (or, with `None`, removes) one endpoint's route.
    pub fn set(&self, tenant: &str, endpoint_id: &str, route: Option<Route>) {
        let mut map = self.by_tenant.write().expect("routes lock");
        let list = map.entry(tenant.to_owned()).or_default();
        list.retain(|r| r.endpoint_id != endpoint_id);
        if let Some(route) = route {
            list.push(Arc::new(route));
        }
        if list.is_empty() {
            map.remove(tenant);
        }
    }

    /// Forgets a tenant's routes; the endpoints that had one (its enabled ones).
    pub fn forget_tenant(&self, tenant: &str) -> Vec<String> {
        let routes = self.by_tenant.write().expect("routes lock").remove(tenant).unwrap_or_default();
        routes.iter().map(|r| r.endpoint_id.clone()).collect()
    }

    /// Writes the outbox rows of freshly numbered events; the workers to wake once they are
    /// committed.
    pub async fn enqueue(&self, w: &mut WriteTx, events: &[Arc<Event>], now_ms: i64) -> StoreResult<Vec<Arc<Notify>>> {
        let mut wake: Vec<Arc<Notify>> = Vec::new();
        for ev in events {
            let routes: Vec<Arc<Route>> = match self.by_tenant.read().expect("routes lock").get(&ev.tenant_id) {
                Some(list) => list.iter().filter(|r| r.takes(ev)).cloned().collect(),
                None => continue,
            };
            for route in routes {
                let id = new_delivery_id();
                rows::insert_delivery(
                    w,
                    NewDelivery {
                        id: &id,
                        endpoint_id: &route.endpoint_id,
                        tenant_id: &ev.tenant_id,
                        seq: Some(ev.seq as i64),
                        session_id: ev.session_id.as_deref(),
                        event: ev.name(),
                        body: None,
                        due_ms: now_ms + self.first_delay_ms,
                    },
                )
                .await?;
                if !wake.iter().any(|n| Arc::ptr_eq(n, &route.wake)) {
                    wake.push(route.wake.clone());
                }
            }
        }
        Ok(wake)
    }
}

pub fn new_delivery_id() -> String {
    format!("dlv_{}", uuid::Uuid::new_v4().simple())
}

/// The route of a stored endpoint, when it is enabled.
pub fn route_of(row: &EndpointRow, wake: Arc<Notify>) -> Option<Route> {
    row.enabled.then(|| Route {
        endpoint_id: row.id.clone(),
        filter: EventFilter::from_stored(row.patterns()),
        sessions: row.session_list(),
        wake,
    })
}
