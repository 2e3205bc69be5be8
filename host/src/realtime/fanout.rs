use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;

use super::emit::{Encoded, Outcome};
use super::lanes::{self, GAP_EVENT, Gap, LaneWork};
use super::resume::Marks;
use super::{actions, audience, broadcast, catch_up, rooms};
use crate::cluster::rooms::RoomRelay;
use crate::events::{Event, EventBus};
use crate::metrics::{EventLabels, latency_histogram};
use crate::model::SessionKey;
use crate::plugins::{BotLane, MAX_BATCH, Plugins};
use crate::sessions::Sessions;
use crate::store::Store;

/// The canonical dialect's rooms for an event (docs/events.md).
pub(super) fn canonical_rooms(ev: &Event) -> Vec<String> {
    let mut targets = Vec::with_capacity(2);
    if let Some(session) = &ev.session_id {
        targets.push(rooms::session(&SessionKey::new(&ev.tenant_id, session)));
    }
    if ev.session_id.is_none() || ev.body.goes_to_tenant_room() {
        targets.push(rooms::tenant(&ev.tenant_id));
    }
    targets
}

/// Delivers a tenant's committed events to its sockets, in commit order: through the tenant's
/// transform plugins when it has any, in the canonical dialect otherwise. Whatever has queued
/// up meanwhile is taken at once, so a tenant's burst shares plugin calls. A socket that
/// cannot take an event catches up from the journal (`catch_up.rs`) instead of losing it.
#[derive(Clone)]
struct Fanout {
    io: SocketIo,
    plugins: Plugins,
    marks: Marks,
    store: Store,
    metrics: FanoutMetrics,
}

impl Fanout {
    /// Emits canonical events to their rooms' sockets, socket by socket (`audience.rs`). Each
    /// socket on its own, not a broadcast, to know which ones were full: such a socket gets
    /// none of the run's later events live, it catches up from the journal from the one it
    /// missed.
    fn emit_run(&self, run: &[&Event], tenant: &str) {
        if run.is_empty() {
            return;
        }
        let encoded: Vec<Encoded> = run.iter().map(|ev| Encoded::event(ev)).collect();
        // Events with the same rooms (most of a run) share one look-up of their sockets.
        let targets: Vec<Vec<String>> = run.iter().map(|ev| canonical_rooms(ev)).collect();
        let mut in_rooms: HashMap<&[String], Vec<SocketRef>> = HashMap::new();
        for rooms in &targets {
            in_rooms.entry(rooms).or_insert_with(|| broadcast::sockets_in_any(&self.io, rooms.clone()));
        }
        let lists: Vec<&[SocketRef]> = targets.iter().map(|rooms| in_rooms[rooms.as_slice()].as_slice()).collect();
        for (s, which) in audience::by_member(&lists, |s| s.id) {
            for i in audience::events_of(which) {
                if encoded[i].try_emit(&s) == Outcome::Full {
                    self.metrics.fell_behind.inc();
                    catch_up::fall_behind(&s, &self.store, &self.marks, tenant, run[i].seq);
                    break;
                }
            }
        }
    }
}

/// What the fan-out measures: events handed to their sockets, how long after their commit,
/// and the sockets that were too full to take one (they catch up from the journal).
#[derive(Clone)]
pub struct FanoutMetrics {
    delivered: Family<EventLabels, Counter>,
    latency: Histogram,
    fell_behind: Counter,
}

impl Default for FanoutMetrics {
    fn default() -> Self {
        Self { delivered: Family::default(), latency: latency_histogram(), fell_behind: Counter::default() }
    }
}

impl FanoutMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "events_delivered",
            "Events the fan-out handed to every socket of their rooms, by name",
            self.delivered.clone(),
        );
        registry.register(
            "fanout_latency_seconds",
            "From an event's commit until the fan-out had handed it to every socket",
            self.latency.clone(),
        );
        registry.register(
            "fanout_sockets_behind",
            "Sockets whose buffer was full, which then caught up from the journal",
            self.fell_behind.clone(),
        );
    }

    fn delivered(&self, ev: &Event) {
        self.delivered.get_or_create(&EventLabels { event: ev.name().to_owned() }).inc();
        let since_commit = (Utc::now() - ev.timestamp).to_std().unwrap_or_default();
        self.latency.observe(since_commit.as_secs_f64());
    }
}

impl LaneWork for Fanout {
    async fn deliver(&self, events: Vec<Arc<Event>>) {
        let transformed = self.plugins.transform_many(&events).await;
        let Some(tenant) = events.first().map(|e| e.tenant_id.clone()) else { return };
        // Resuming sockets join their rooms only between two of these emits (`resume.rs`).
        let mark = self.marks.of(&tenant);
        let _emitting = mark.lock.lock().await;
        // Canonical events are emitted in runs; a dialect's deliveries come after the run that
        // holds their event, so every socket still gets the tenant's events in commit order.
        let mut run: Vec<&Event> = Vec::new();
        for (ev, out) in events.iter().zip(transformed) {
            if out.canonical {
                run.push(ev);
            }
            if !out.deliveries.is_empty() || run.len() == audience::MAX_RUN {
                self.emit_run(&run, &tenant);
                run.clear();
            }
            for d in out.deliveries {
                actions::deliver(&self.io, None, d).await;
            }
        }
        self.emit_run(&run, &tenant);
        if let Some(last) = events.last() {
            mark.set(last.seq);
        }
        for ev in &events {
            self.metrics.delivered(ev);
        }
    }

    /// Every socket of the tenant learns which `seq`s it missed, to read them over REST.
    async fn gap(&self, tenant: &str, gap: Gap) {
        if let Some(op) = broadcast::to(&self.io, vec![rooms::tenant(tenant)])
            && let Err(e) = op.emit(GAP_EVENT, &gap.notice(tenant)).await
        {
            tracing::warn!(error = %e, "socket.io emit failed");
        }
    }
}

/// Each tenant's events go through a lane of its own (`lanes.rs`): a tenant whose plugins are
/// slow delays no other tenant.
pub fn spawn_fanout(
    io: SocketIo,
    plugins: Plugins,
    marks: Marks,
    store: Store,
    bus: &EventBus,
    lane_depth: usize,
    metrics: FanoutMetrics,
) -> tokio::task::JoinHandle<()> {
    lanes::spawn_lanes(bus.subscribe("fanout"), lane_depth, MAX_BATCH, Fanout { io, plugins, marks, store, metrics })
}

/// Runs the tenants' bots on every committed event and carries out their actions, in lanes of
/// their own, so a slow bot never delays what sockets receive nor another tenant's bots. Bots
/// that wait on HTTP requests have a second set of lanes, so their waits hold up no other bot.
#[derive(Clone)]
struct Bots {
    io: SocketIo,
    plugins: Plugins,
    sessions: Sessions,
    relay: RoomRelay,
    lane: BotLane,
}

impl LaneWork for Bots {
    fn wants(&self, event: &Event) -> bool {
        self.lane == BotLane::Local || self.plugins.has_bots(&event.tenant_id, self.lane)
    }

    async fn deliver(&self, events: Vec<Arc<Event>>) {
        for ev in events {
            for answer in self.plugins.bots(&ev, self.lane).await {
                if !answer.actions.is_empty() {
                    let by = actions::By::Bot { plugin: &answer.plugin };
                    actions::execute(&self.io, &self.sessions, &self.relay, by, answer.actions).await;
                }
            }
        }
    }

    async fn gap(&self, tenant: &str, gap: Gap) {
        tracing::warn!(%tenant, lane = ?self.lane, from_seq = gap.from_seq, to_seq = gap.to_seq, "bots did not see {} events", gap.count);
    }
}

pub fn spawn_bots(
    io: SocketIo,
    plugins: Plugins,
    sessions: Sessions,
    relay: RoomRelay,
    bus: &EventBus,
    lane_depth: usize,
) -> tokio::task::JoinHandle<()> {
    let work = |lane| Bots {
        io: io.clone(),
        plugins: plugins.clone(),
        sessions: sessions.clone(),
        relay: relay.clone(),
        lane,
    };
    let local = lanes::spawn_lanes(bus.subscribe("bots"), lane_depth, MAX_BATCH, work(BotLane::Local));
    let calling = lanes::spawn_lanes(bus.subscribe("calling-bots"), lane_depth, MAX_BATCH, work(BotLane::Calling));
    tokio::spawn(async move {
        let _ = tokio::join!(local, calling);
    })
}
