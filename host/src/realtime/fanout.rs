use std::sync::Arc;

use socketioxide::SocketIo;

use super::emit::{Encoded, Outcome};
use super::lanes::{self, GAP_EVENT, Gap, LaneWork};
use super::resume::Marks;
use super::{actions, broadcast, catch_up, rooms};
use crate::events::{Event, EventBus};
use crate::model::SessionKey;
use crate::plugins::{MAX_BATCH, Plugins};
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
}

impl LaneWork for Fanout {
    async fn deliver(&self, events: Vec<Arc<Event>>) {
        let transformed = self.plugins.transform_many(&events).await;
        let Some(tenant) = events.first().map(|e| e.tenant_id.clone()) else { return };
        // Resuming sockets join their rooms only between two of these emits (`resume.rs`).
        let mark = self.marks.of(&tenant);
        let _emitting = mark.lock.lock().await;
        for (ev, out) in events.into_iter().zip(transformed) {
            if out.canonical {
                // Each socket on its own (not a broadcast), to know which ones were full.
                let encoded = Encoded::event(&ev);
                for s in broadcast::sockets_in_any(&self.io, canonical_rooms(&ev)) {
                    if encoded.try_emit(&s) == Outcome::Full {
                        catch_up::fall_behind(&s, &self.store, &self.marks, &tenant, ev.seq);
                    }
                }
            }
            for d in out.deliveries {
                actions::deliver(&self.io, None, d).await;
            }
            mark.set(ev.seq);
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
) -> tokio::task::JoinHandle<()> {
    lanes::spawn_lanes(bus.subscribe(), lane_depth, MAX_BATCH, Fanout { io, plugins, marks, store })
}

/// Runs the tenants' bots on every committed event and carries out their actions, in lanes of
/// their own, so a slow bot never delays what sockets receive nor another tenant's bots.
#[derive(Clone)]
struct Bots {
    io: SocketIo,
    plugins: Plugins,
    sessions: Sessions,
}

impl LaneWork for Bots {
    async fn deliver(&self, events: Vec<Arc<Event>>) {
        for ev in events {
            let todo = self.plugins.bots(&ev).await;
            if !todo.is_empty() {
                actions::execute(&self.io, &self.sessions, None, todo).await;
            }
        }
    }

    async fn gap(&self, tenant: &str, gap: Gap) {
        tracing::warn!(%tenant, from_seq = gap.from_seq, to_seq = gap.to_seq, "bots did not see {} events", gap.count);
    }
}

pub fn spawn_bots(
    io: SocketIo,
    plugins: Plugins,
    sessions: Sessions,
    bus: &EventBus,
    lane_depth: usize,
) -> tokio::task::JoinHandle<()> {
    lanes::spawn_lanes(bus.subscribe(), lane_depth, MAX_BATCH, Bots { io, plugins, sessions })
}
