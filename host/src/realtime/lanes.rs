//! Per-tenant delivery lanes: committed events are routed to one worker per tenant, so one
//! tenant's slow plugin delays only that tenant, while each tenant's events keep commit order.
//!
//! Each lane holds at most `depth` events. Overflow policy: when a tenant's lane is full, its
//! newest events are not delivered live (they stay committed in the store); the next event
//! that fits carries the gap, and the lane's work announces it (`Gap`) before that event, so
//! clients know exactly which `seq`s to read again. Other tenants are never affected.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::events::{Event, Subscription};

/// A lane's worker ends after this long without events; the next event starts a new one.
const IDLE: Duration = Duration::from_secs(60);

/// Events of one tenant that were not delivered live, `from_seq..=to_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from_seq: u64,
    pub to_seq: u64,
    pub count: u64,
}

/// The Socket.IO event that announces a gap to a client (docs/events.md).
pub const GAP_EVENT: &str = "delivery.gap";

/// What a client reads in a `delivery.gap` event.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GapNotice<'a> {
    pub tenant_id: &'a str,
    pub from_seq: u64,
    pub to_seq: u64,
    pub count: u64,
}

impl Gap {
    /// Every `seq` from `from_seq` to `to_seq`, none delivered.
    pub fn span(from_seq: u64, to_seq: u64) -> Self {
        Gap { from_seq, to_seq, count: to_seq + 1 - from_seq }
    }

    pub fn notice(self, tenant_id: &str) -> GapNotice<'_> {
        GapNotice { tenant_id, from_seq: self.from_seq, to_seq: self.to_seq, count: self.count }
    }
}

/// What a lane does with its tenant's events.
pub trait LaneWork: Clone + Send + Sync + 'static {
    /// Events of one tenant, in commit order, as many as had queued (at most `max_batch`).
    fn deliver(&self, events: Vec<Arc<Event>>) -> impl Future<Output = ()> + Send;
    /// Announced in order: after every event before the gap, before every event after it.
    fn gap(&self, tenant: &str, gap: Gap) -> impl Future<Output = ()> + Send;
    /// Whether the work has anything to do with the event; one it does not want never takes
    /// a place in a lane.
    fn wants(&self, _event: &Event) -> bool {
        true
    }
}

struct Item {
    event: Arc<Event>,
    gap_before: Option<Gap>,
}

struct Lane {
    tx: mpsc::Sender<Item>,
    /// Events dropped since the last one that fitted.
    pending_gap: Option<Gap>,
}

fn spawn_worker<W: LaneWork>(tenant: String, work: W, depth: usize, max_batch: usize) -> mpsc::Sender<Item> {
    let (tx, mut rx) = mpsc::channel::<Item>(depth);
    tokio::spawn(async move {
        let mut items = Vec::with_capacity(max_batch);
        loop {
            match tokio::time::timeout(IDLE, rx.recv_many(&mut items, max_batch)).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let mut events = Vec::with_capacity(items.len());
            for item in items.drain(..) {
                if let Some(gap) = item.gap_before {
                    if !events.is_empty() {
                        work.deliver(std::mem::take(&mut events)).await;
                    }
                    work.gap(&tenant, gap).await;
                }
                events.push(item.event);
            }
            if !events.is_empty() {
                work.deliver(events).await;
            }
        }
    });
    tx
}

/// Routes every event of `events` to its tenant's lane; returns when the bus closes.
pub fn spawn_lanes<W: LaneWork>(
    mut events: Subscription,
    depth: usize,
    max_batch: usize,
    work: W,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lanes: HashMap<String, Lane> = HashMap::new();
        while let Some(event) = events.recv().await {
            if !work.wants(&event) {
                continue;
            }
            let tenant = event.tenant_id.clone();
            let lane = lanes.entry(tenant.clone()).or_insert_with(|| Lane {
                tx: spawn_worker(tenant.clone(), work.clone(), depth, max_batch),
                pending_gap: None,
            });
            let mut item = Item { event, gap_before: lane.pending_gap };
            loop {
                match lane.tx.try_send(item) {
                    Ok(()) => {
                        lane.pending_gap = None;
                        break;
                    }
                    Err(TrySendError::Full(refused)) => {
                        let seq = refused.event.seq;
                        let gap = lane.pending_gap.get_or_insert(Gap { from_seq: seq, to_seq: seq, count: 0 });
                        gap.to_seq = seq;
                        gap.count += 1;
                        if gap.count == 1 {
                            tracing::warn!(%tenant, seq, depth, "tenant's delivery lane is full: events are not delivered live until it drains");
                        }
                        break;
                    }
                    // The worker ended (idle): a new one takes the event.
                    Err(TrySendError::Closed(back)) => {
                        lane.tx = spawn_worker(tenant.clone(), work.clone(), depth, max_batch);
                        item = back;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventBody;
    use crate::model::TenantStats;
    use std::sync::Mutex;
    use std::time::Instant;

    #[test]
    fn a_gap_notice_names_every_missed_seq() {
        let notice = serde_json::to_value(Gap::span(3, 7).notice("acme")).unwrap();
        assert_eq!(notice, serde_json::json!({ "tenantId": "acme", "fromSeq": 3, "toSeq": 7, "count": 5 }));
    }

    #[derive(Clone, Default)]
    struct Recorder {
        seen: Arc<Mutex<Vec<(String, String, Instant)>>>,
    }

    impl LaneWork for Recorder {
        async fn deliver(&self, events: Vec<Arc<Event>>) {
            for e in events {
                if e.tenant_id == "slow" {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                self.seen.lock().unwrap().push((e.tenant_id.clone(), format!("{}", e.seq), Instant::now()));
            }
        }

        async fn gap(&self, tenant: &str, gap: Gap) {
            let text = format!("gap {}..{} ({})", gap.from_seq, gap.to_seq, gap.count);
            self.seen.lock().unwrap().push((tenant.to_owned(), text, Instant::now()));
        }
    }

    fn event(tenant: &str, seq: u64) -> Arc<Event> {
        Arc::new(Event {
            tenant_id: tenant.into(),
            session_id: None,
            seq,
            timestamp: chrono::Utc::now(),
            body: EventBody::TenantStats(crate::events::TenantStatsUpdated { stats: TenantStats::default() }),
        })
    }

    fn of(seen: &[(String, String, Instant)], tenant: &str) -> Vec<String> {
        seen.iter().filter(|(t, ..)| t == tenant).map(|(_, s, _)| s.clone()).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_tenant_delays_only_itself_and_its_overflow_is_announced_in_order() {
        let tx = crate::events::EventBus::default();
        let work = Recorder::default();
        spawn_lanes(tx.subscribe("test"), 4, 64, work.clone());
        let started = Instant::now();
        // 10 events for the slow tenant (50 ms each), interleaved with 10 for a fast one, a
        // millisecond apart: the fast lane keeps up, the slow one fills.
        for seq in 1..=10 {
            tx.publish(event("slow", seq));
            tx.publish(event("fast", seq));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = work.seen.lock().unwrap().clone();
        let fast = of(&seen, "fast");
        assert_eq!(fast, (1..=10).map(|s| s.to_string()).collect::<Vec<_>>(), "the fast tenant was not held up");
        let last_fast = seen.iter().filter(|(t, ..)| t == "fast").map(|(.., at)| *at).max().unwrap();
        assert!(last_fast - started < Duration::from_millis(50), "{:?}", last_fast - started);
        // The slow lane holds 4 events (+1 taken by its worker); the rest overflowed. The next
        // event that fits carries the gap, announced before it.
        tokio::time::sleep(Duration::from_millis(600)).await;
        tx.publish(event("slow", 11));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let slow = of(&work.seen.lock().unwrap(), "slow");
        let k = slow.iter().position(|s| s.starts_with("gap")).expect("a gap was announced");
        assert!((4..10).contains(&k), "the lane holds its depth, the rest overflowed: {slow:?}");
        let first: Vec<String> = (1..=k).map(|s| s.to_string()).collect();
        assert_eq!(slow[..k], first[..], "delivered in commit order");
        assert_eq!(slow[k], format!("gap {}..10 ({})", k + 1, 10 - k));
        assert_eq!(slow[k + 1..], ["11".to_owned()], "the event after the gap comes after its notice");
    }
}
