use socketioxide::SocketIo;

use super::rooms;
use crate::events::EventBus;
use crate::model::SessionKey;

/// Emits every committed canonical event to the rooms it belongs to, in commit order.
pub fn spawn_fanout(io: SocketIo, bus: &EventBus) -> tokio::task::JoinHandle<()> {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let mut targets = Vec::with_capacity(2);
            if let Some(session) = &ev.session_id {
                targets.push(rooms::session(&SessionKey::new(&ev.tenant_id, session)));
            }
            if ev.session_id.is_none() || ev.body.goes_to_tenant_room() {
                targets.push(rooms::tenant(&ev.tenant_id));
            }
            if let Err(e) = io.to(targets).emit(ev.name(), &ev.payload()).await {
                tracing::warn!(event = ev.name(), error = %e, "socket.io emit failed");
            }
        }
    })
}
