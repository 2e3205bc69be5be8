use socketioxide::SocketIo;

use super::{actions, rooms};
use crate::events::{Event, EventBus};
use crate::model::SessionKey;
use crate::plugins::{MAX_BATCH, Plugins};
use crate::sessions::Sessions;

/// The canonical dialect's rooms for an event (docs/events.md).
fn canonical_rooms(ev: &Event) -> Vec<String> {
    let mut targets = Vec::with_capacity(2);
    if let Some(session) = &ev.session_id {
        targets.push(rooms::session(&SessionKey::new(&ev.tenant_id, session)));
    }
    if ev.session_id.is_none() || ev.body.goes_to_tenant_room() {
        targets.push(rooms::tenant(&ev.tenant_id));
    }
    targets
}

/// Delivers every committed event to sockets, in commit order: through the tenant's
/// transform plugins when it has any, in the canonical dialect otherwise. Whatever has queued
/// up meanwhile is taken at once, so a tenant's burst shares plugin calls.
pub fn spawn_fanout(io: SocketIo, plugins: Plugins, bus: &EventBus) -> tokio::task::JoinHandle<()> {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        let mut queued = Vec::with_capacity(MAX_BATCH);
        while events.recv_many(&mut queued, MAX_BATCH).await > 0 {
            let transformed = plugins.transform_many(&queued).await;
            for (ev, out) in queued.drain(..).zip(transformed) {
                if out.canonical
                    && let Err(e) = io.to(canonical_rooms(&ev)).emit(ev.name(), &ev.payload()).await
                {
                    tracing::warn!(event = ev.name(), error = %e, "socket.io emit failed");
                }
                for d in out.deliveries {
                    actions::deliver(&io, None, d).await;
                }
            }
        }
    })
}

/// Runs the tenants' bots on every committed event and carries out their actions. Its own
/// task, so a slow bot never delays what sockets receive.
pub fn spawn_bots(io: SocketIo, plugins: Plugins, sessions: Sessions, bus: &EventBus) -> tokio::task::JoinHandle<()> {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let todo = plugins.bots(&ev).await;
            if !todo.is_empty() {
                actions::execute(&io, &sessions, None, todo).await;
            }
        }
    })
}
